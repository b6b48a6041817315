/**
 * The page's side of the conversion worker (Squoosh-style): the worker starts lazily on first
 * use, is reached through Comlink with the worker's API type imported as a type only, and
 * cancel asks the worker to stop at the next tensor — and terminates it if it does not answer.
 */
import { proxy, wrap, type Remote } from 'comlink';
import { ConversionError, type ConversionPlan, type InspectOptions } from '../../core';
import type {
  CandidateFile,
  ConversionInputs,
  ConverterApi,
  ConvertResult,
  HubOpened,
  HubOpenRequest,
  RecognizedFile,
  SaveTarget,
  WorkerProgress,
} from '../../../workers/protocol';
import { registerErrorTransfer } from '../../../workers/protocol';

/** What the store needs from a converter; the worker bridge is one, tests pass fakes. */
export interface Converter {
  recognize(files: CandidateFile[]): Promise<RecognizedFile[]>;
  inspect(inputs: ConversionInputs, options: InspectOptions): Promise<ConversionPlan>;
  convert(inputs: ConversionInputs, options: InspectOptions, target: SaveTarget, onProgress: (p: WorkerProgress) => void): Promise<ConvertResult>;
  cancel(): void;
  /** Open an adapter on the Hub (src/app/components/HubInput). Optional: converters of tests without the Hub leave it out. */
  openHub?(request: HubOpenRequest): Promise<HubOpened>;
}

/** How long a cancelled conversion may take to stop on its own before the worker is terminated. */
const CANCEL_GRACE_MS = 5000;

function startWorker(): Worker {
  return new Worker(new URL('../../../workers/converter.worker.ts', import.meta.url), { type: 'module', name: 'lora2gguf-converter' });
}

export function createWorkerConverter(makeWorker: () => Worker = startWorker): Converter {
  registerErrorTransfer();
  let worker: Worker | null = null;
  let api: Remote<ConverterApi> | null = null;
  let running: { reject: (e: unknown) => void } | null = null;

  const remote = (): Remote<ConverterApi> => {
    if (!api) {
      worker = makeWorker();
      api = wrap<ConverterApi>(worker);
    }
    return api;
  };
  const terminate = () => {
    worker?.terminate();
    worker = null;
    api = null;
  };

  return {
    recognize: (files) => remote().recognize(files),
    inspect: (inputs, options) => remote().inspect(inputs, options),
    openHub: (request) => remote().openHub(request),
    convert(inputs, options, target, onProgress) {
      const call = remote().convert(inputs, options, target, proxy(onProgress)) as Promise<ConvertResult>;
      return new Promise<ConvertResult>((resolve, reject) => {
        const me = { reject };
        running = me;
        call.then(resolve, reject).finally(() => {
          if (running === me) running = null;
        });
      });
    },
    cancel() {
      const me = running;
      if (!me || !api) return;
      void api.cancel();
      setTimeout(() => {
        if (running !== me) return;
        // The worker did not stop in time (a stuck read?): end it; its file handles are released with it.
        terminate();
        running = null;
        me.reject(new ConversionError('aborted', 'Conversion cancelled.'));
      }, CANCEL_GRACE_MS);
    },
  };
}
