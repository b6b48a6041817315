/**
 * The page's side of the conversion worker (Squoosh-style): the worker starts lazily on first
 * use, is reached through Comlink with the worker's API type imported as a type only, and
 * cancel asks the worker to stop at the next tensor — and terminates it if it does not answer.
 * While a conversion runs, a watchdog pings the worker: one that died without an error event
 * (closed, killed for memory) fails the conversion in words instead of leaving it hanging.
 */
import { proxy, transfer, wrap, type Remote } from 'comlink';
import { ConversionError } from '../../core/light';
import type { AdapterShape, ConversionPlan, InspectOptions } from '../../core';
import type {
  CandidateFile,
  ConversionInputs,
  ConverterApi,
  ConvertRequestOptions,
  BaseCheck,
  ConvertResult,
  GgufInfo,
  HubOpened,
  PublishCall,
  PublishProgress,
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
  convert(inputs: ConversionInputs, options: ConvertRequestOptions, target: SaveTarget, onProgress: (p: WorkerProgress) => void): Promise<ConvertResult>;
  cancel(): void;
  /** Open an adapter on the Hub (src/app/components/HubInput). Optional: converters of tests without the Hub leave it out. */
  openHub?(request: HubOpenRequest): Promise<HubOpened>;
  /** Read a .gguf's header: an adapter (inspected) or a model. */
  ggufInfo?(file: File): Promise<GgufInfo>;
  /** Check an adapter against a base model's GGUF, by headers. */
  checkBase?(adapter: AdapterShape, base: File[]): Promise<BaseCheck>;
  checkBaseOnHub?(adapter: AdapterShape, reference: string, endpoint: string, token: string | null): Promise<BaseCheck>;
  /** Publish a converted file to the Hub; cancelPublish stops it before the commit. */
  publish?(request: PublishCall, onProgress: (p: PublishProgress) => void): Promise<{ commit: string; url: string; created: boolean }>;
  cancelPublish?(): void;
}

/** How long a cancelled conversion may take to stop on its own before the worker is terminated. */
const CANCEL_GRACE_MS = 5000;
/**
 * The watchdog pings a converting worker this often, and declares it dead when a ping goes
 * unanswered this long. A live worker answers within milliseconds: its longest synchronous step
 * encodes one window of a few MiB, and reads and writes are awaited, never blocking.
 */
const WATCHDOG_PING_MS = 2000;
const WATCHDOG_DEAD_MS = 10_000;

export interface BridgeTiming {
  cancelGraceMs?: number;
  pingMs?: number;
  deadMs?: number;
}

function startWorker(): Worker {
  return new Worker(new URL('../../../workers/converter.worker.ts', import.meta.url), { type: 'module', name: 'lora2gguf-converter' });
}

export function createWorkerConverter(makeWorker: () => Worker = startWorker, timing: BridgeTiming = {}): Converter {
  const { cancelGraceMs = CANCEL_GRACE_MS, pingMs = WATCHDOG_PING_MS, deadMs = WATCHDOG_DEAD_MS } = timing;
  registerErrorTransfer();
  let worker: Worker | null = null;
  let api: Remote<ConverterApi> | null = null;
  /** Every call waiting for the worker, so a dead worker fails them instead of leaving them hanging. */
  const pending = new Set<(e: unknown) => void>();
  let running: { reject: (e: unknown) => void } | null = null;

  const terminate = () => {
    worker?.terminate();
    worker = null;
    api = null;
  };

  /** End the worker and fail every waiting call with `failure`. */
  const fail = (failure: ConversionError) => {
    terminate();
    for (const reject of [...pending]) reject(failure);
    pending.clear();
  };

  /** Ping the worker while `me` runs; declare it dead when a ping stays unanswered for deadMs. */
  const watch = (me: object) => {
    let sentAt: number | null = null;
    const timer = setInterval(() => {
      if (running !== me || !api) {
        clearInterval(timer);
        return;
      }
      if (sentAt === null) {
        const at = Date.now();
        sentAt = at;
        void Promise.resolve(api.ping()).then(
          () => {
            if (sentAt === at) sentAt = null;
          },
          () => undefined,
        );
      } else if (Date.now() - sentAt >= deadMs) {
        clearInterval(timer);
        running = null;
        fail(
          new ConversionError(
            'io',
            `The conversion worker stopped answering (no reply for ${Math.round(deadMs / 1000)} s); it was ended, and nothing was kept.`,
            {},
            'Try again; if it happens again, the browser may be short of memory — close other tabs or use the command-line tool.',
          ),
        );
      }
    }, pingMs);
  };

  const remote = (): Remote<ConverterApi> => {
    if (!api) {
      const w = makeWorker();
      // A worker that dies (out of memory, a crash, a chunk that fails to load) answers no call.
      w.addEventListener('error', (e) => {
        if (worker !== w) return;
        fail(
          new ConversionError(
            'io',
            `The conversion worker stopped: ${e.message || 'unknown error'}.`,
            {},
            'Reload the page and try again; very large adapters may need more memory than the browser allows.',
          ),
        );
      });
      worker = w;
      api = wrap<ConverterApi>(w);
    }
    return api;
  };

  /** Run one remote call; it settles with the worker's answer or when the worker dies or is ended. */
  const call = <T>(start: (api: Remote<ConverterApi>) => Promise<T>): { promise: Promise<T>; reject: (e: unknown) => void } => {
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      reject = rej;
      pending.add(rej);
      start(remote()).then(res, rej);
    });
    promise.then(
      () => pending.delete(reject),
      () => pending.delete(reject),
    );
    return { promise, reject };
  };

  return {
    recognize: (files) => call((a) => a.recognize(files)).promise,
    inspect: (inputs, options) => call((a) => a.inspect(inputs, options)).promise,
    openHub: (request) => call((a) => a.openHub(request)).promise,
    ggufInfo: (file) => call<GgufInfo>((a) => a.ggufInfo(file) as Promise<GgufInfo>).promise,
    publish: (request, onProgress) => call<{ commit: string; url: string; created: boolean }>((a) => a.publish(request, proxy(onProgress)) as Promise<{ commit: string; url: string; created: boolean }>).promise,
    cancelPublish: () => void api?.cancelPublish(),
    checkBaseOnHub: (adapter, reference, endpoint, token) =>
      call<BaseCheck>((a) => a.checkBaseOnHub(adapter, reference, endpoint, token) as Promise<BaseCheck>).promise,
    checkBase: (adapter, base) => call<BaseCheck>((a) => a.checkBase(adapter, base) as Promise<BaseCheck>).promise,
    convert(inputs, options, target, onProgress) {
      // A streamed download's data port moves to the worker (it talks to the service worker directly).
      const sent = target.kind === 'stream' ? transfer(target, [target.port]) : target;
      const c = call((a) => a.convert(inputs, options, sent, proxy(onProgress)) as Promise<ConvertResult>);
      const me = { reject: c.reject };
      running = me;
      watch(me);
      void c.promise
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          if (running === me) running = null;
        });
      return c.promise;
    },
    cancel() {
      const me = running;
      if (!me || !api) return;
      void api.cancel();
      setTimeout(() => {
        if (running !== me) return;
        // The worker did not stop in time (a stuck read?): end it; its file handles are released with it.
        running = null;
        fail(new ConversionError('aborted', 'Conversion cancelled.'));
      }, cancelGraceMs);
    },
  };
}
