/**
 * The app's one store: what the user gave, the plan the core made of it, the options, the
 * conversion's progress and its result. Effects go through injected dependencies (the worker
 * bridge, the save helpers), so tests drive the store with fakes.
 */
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { defaultOutputFileName, isAbortError, lookupBaseConfig } from '../../core/light';
import type { ConversionPlan, Diagnostic, InspectOptions, OutType } from '../../core';
import type { CandidateFile, ConversionInputs, ConvertResult, RecognizedFile, SaveTarget, WorkerProgress } from '../../../workers/protocol';
import { describeError, type DescribedError } from '../services/error-words';
import { selectInputs, type InputSelection } from '../services/inputs';
import { chooseSavePath, type SaveChoice, type SavePathProbe } from '../services/save-paths';
import type { Converter } from '../services/worker-bridge';
import type { Collected } from '../services/walk';
import type { HubSession } from '../services/hub-session';
import { hubToken } from '../services/hub-token';

export type Phase = 'empty' | 'reading' | 'preflight' | 'converting' | 'done';

export interface Options {
  outtype: OutType;
  /** general.name and the file name's stem. */
  name: string;
  /** Leave out (with a warning) what llama.cpp would not apply, e.g. LoRA on a tied lm_head. */
  dropUnapplied: boolean;
  /** Keep mergekit norm vectors (llama.cpp ignores them). */
  keepNormVectors: boolean;
  /** Write NaN/Inf values as they are instead of stopping the conversion. */
  keepNonFinite: boolean;
}

export interface ProgressView {
  phase: 'starting' | 'writing' | 'verifying' | 'cancelling';
  bytesWritten: number;
  totalBytes: number;
  tensorsDone: number;
  totalTensors: number;
  /** Average since the start, bytes per second; null until there is something to average. */
  bytesPerSecond: number | null;
  secondsLeft: number | null;
}

export interface ResultView extends ConvertResult {
  fileName: string;
  target: SaveTarget['kind'];
  /** Fallback only: an object URL of the disk-backed temporary file, for the download link. */
  downloadUrl: string | null;
  tempName: string | null;
  outtype: OutType;
  architecture: string;
  baseModel: string | null;
  warnings: Diagnostic[];
  /** From Convert to Done (written and verified), seconds. */
  seconds: number;
  /** The adapter weights' size, for the speed shown beside the time. */
  inputBytes: number;
}

/** What a failed conversion left behind, by where it was writing: said with the error. */
const CLEANED_UP: Record<SaveTarget['kind'], string> = {
  handle: 'Cleaned up: nothing reached the file you chose (a file the dialog had just created was removed).',
  opfs: 'Cleaned up: the temporary file in browser storage was removed.',
  stream: 'Cleaned up: the download was stopped as failed (Chromium and Firefox then remove it; if your browser kept a partial file in Downloads, delete it).',
  memory: 'Cleaned up: nothing was kept in memory.',
};

/** The effects the store needs besides the converter (save.ts provides them in the app). */
export interface SaveDeps {
  holdTempLock(name: string): () => void;
  getTempFile(name: string): Promise<File>;
  removeTempFile(name: string): Promise<void>;
  /** Remove a picked file that is still empty (the worker ended before writing it); never throws. */
  removePickedIfEmpty(handle: FileSystemFileHandle): Promise<void>;
  /** Fail a streamed download (its conversion worker died): the browser keeps no partial file. */
  abortStreamDownload(id: string): void;
  createObjectURL(file: Blob): string;
  revokeObjectURL(url: string): void;
  now(): number;
}

export interface AppState {
  phase: Phase;
  /** The dropped folder's name (names the output by default). */
  rootName: string | null;
  files: CandidateFile[];
  recognized: RecognizedFile[];
  truncated: boolean;
  selection: InputSelection | null;
  /** The base config.json file the user dropped separately. */
  baseConfigFile: CandidateFile | null;
  /** A problem with a separately dropped base config. */
  baseConfigProblem: string | null;
  options: Options;
  plan: ConversionPlan | null;
  inspecting: boolean;
  planError: DescribedError | null;
  progress: ProgressView | null;
  result: ResultView | null;
  convertError: DescribedError | null;
  /** A one-line notice (e.g. "Cancelled; nothing was written."). */
  notice: string | null;
  /** Files could not even be read (the walk failed, the sample did not load). */
  loadError: DescribedError | null;
  /** The adapter was opened on the Hub (src/app/components/HubInput) rather than dropped. */
  hub: HubSession | null;
  /** Where the base config came from when none was dropped (the bundled catalogue, the Hub). */
  baseConfigOrigin: string | null;
  /** Options from a shared link for local files, applied to the next drop (src/app/links). */
  pendingOptions: Partial<Options> | null;
  /** What this browser offers to save with (probed at start-up; src/app/services/save-paths). */
  savePaths: SavePathProbe | null;

  addFiles(collected: Collected): Promise<void>;
  addBaseConfig(collected: Collected): Promise<void>;
  setOuttype(outtype: OutType): void;
  setName(name: string): void;
  setDropUnapplied(drop: boolean): void;
  setKeepNormVectors(keep: boolean): void;
  setKeepNonFinite(keep: boolean): void;
  /** Run after the user chose where to save (the picker runs in the click, outside the store). */
  convert(target: SaveTarget): Promise<void>;
  cancel(): void;
  /** Back to the preflight of the same files (after done or for other options). */
  again(): void;
  reset(): void;
  failLoad(e: unknown): void;
  setSavePaths(probe: SavePathProbe): void;
  /**
   * The last converted file, to publish it: the picked file, the temporary file, or the Blob kept
   * in memory; null when it streamed to Downloads (the page cannot read it back) or was cleared.
   */
  savedOutput(): Promise<Blob | null>;
}

/** Where the output of the current plan will be saved, or why it cannot be; null until probed and planned. */
export function saveChoiceOf(s: Pick<AppState, 'savePaths' | 'plan'>): { choice: SaveChoice } | { error: DescribedError } | null {
  if (!s.savePaths || !s.plan) return null;
  try {
    return { choice: chooseSavePath(s.savePaths, s.plan.totalBytes) };
  } catch (e) {
    return { error: describeError(e) };
  }
}

export const DEFAULT_OPTIONS: Options = { outtype: 'f32', name: '', dropUnapplied: false, keepNormVectors: false, keepNonFinite: false };
const NAME_DEBOUNCE_MS = 250;

/** The inputs for the core, once all three files are known. */
export function conversionInputs(s: Pick<AppState, 'selection' | 'baseConfigFile'> & { hub?: HubSession | null }): ConversionInputs | null {
  const sel = s.selection;
  const base = s.baseConfigFile ?? sel?.baseConfig ?? null;
  if (!sel?.adapterConfig || !sel.adapter || !base) return null;
  // A Hub adapter's weights are read by ranges in the worker; the token joins from page memory at each call.
  const adapter = s.hub ? { ...s.hub.source, token: hubToken() } : sel.adapter.file;
  return { adapterConfig: sel.adapterConfig.file, adapter, baseConfig: base.file };
}

/** The base config from the bundled catalogue, when the adapter names a base it has (offline, no token). */
function catalogueBaseConfig(selection: InputSelection): { file: CandidateFile; origin: string } | null {
  if (selection.baseConfig || !selection.baseModel) return null;
  const hit = lookupBaseConfig(selection.baseModel);
  if (!hit) return null;
  const file = new File([hit.config], 'config.json', { type: 'application/json' });
  return { file: { path: `bundled catalogue: ${hit.id}/config.json`, file }, origin: `bundled catalogue (${hit.id})` };
}

export function inspectOptions(o: Options): InspectOptions {
  return { outtype: o.outtype, name: o.name, dropUnapplied: o.dropUnapplied, keepNormVectors: o.keepNormVectors };
}

export function outputFileName(o: Options): string {
  return defaultOutputFileName(o.name || 'adapter', o.outtype);
}

/** A default output name: the dropped folder, else the adapter config's folder, else "adapter". */
function defaultName(rootName: string | null, selection: InputSelection): string {
  if (rootName) return rootName;
  const p = selection.adapterConfig?.path ?? '';
  const parts = p.split('/');
  return parts.length > 1 ? parts[parts.length - 2]! : 'adapter';
}

/** The store's data before any input, and what reset() returns to. */
function initialData() {
  return {
    phase: 'empty',
    rootName: null,
    files: [],
    recognized: [],
    truncated: false,
    selection: null,
    baseConfigFile: null,
    baseConfigProblem: null,
    options: DEFAULT_OPTIONS,
    plan: null,
    inspecting: false,
    planError: null,
    progress: null,
    result: null,
    convertError: null,
    notice: null,
    loadError: null,
    hub: null,
    baseConfigOrigin: null,
    pendingOptions: null,
  } satisfies Partial<AppState>;
}

export function createAppStore(converter: Converter, save: SaveDeps): StoreApi<AppState> {
  /** Bumped by every new input or option: late answers of older requests are ignored. */
  let generation = 0;
  let nameTimer: ReturnType<typeof setTimeout> | null = null;
  let releaseLock: (() => void) | null = null;
  /** Where the last successful conversion is, for savedOutput(). */
  let saved: { kind: 'handle'; handle: FileSystemFileHandle } | { kind: 'opfs'; name: string } | { kind: 'memory'; blob: Blob } | null = null;

  return createStore<AppState>((set, get) => {
    const runInspect = async () => {
      const inputs = conversionInputs(get());
      if (!inputs) {
        set({ plan: null, planError: null, inspecting: false });
        return;
      }
      const gen = ++generation;
      set({ inspecting: true });
      try {
        const plan = await converter.inspect(inputs, inspectOptions(get().options));
        if (gen === generation) set({ plan, planError: null, inspecting: false });
      } catch (e) {
        if (gen === generation) set({ plan: null, planError: describeError(e), inspecting: false });
      }
    };

    const clearResult = () => {
      saved = null;
      const r = get().result;
      if (r?.downloadUrl) save.revokeObjectURL(r.downloadUrl);
      if (r?.tempName) void save.removeTempFile(r.tempName);
      releaseLock?.();
      releaseLock = null;
    };

    return {
      ...initialData(),

      async addFiles(collected) {
        if (get().phase === 'converting') return;
        const gen = ++generation;
        const before = get();
        set({ phase: 'reading', notice: null, loadError: null, convertError: null });
        let recognized: RecognizedFile[];
        try {
          recognized = await converter.recognize(collected.files);
        } catch (e) {
          if (gen === generation) set({ phase: before.phase === 'reading' ? 'empty' : before.phase, loadError: describeError(e) });
          return;
        }
        if (gen !== generation) return;
        // Only a base config dropped while one is missing: it completes the current adapter.
        const onlyBase =
          recognized.length > 0 &&
          recognized.some((r) => r.kind === 'base_config') &&
          !recognized.some((r) => r.kind === 'adapter_config' || r.kind === 'adapter_weights');
        const sel = before.selection;
        if (onlyBase && sel?.adapterConfig && sel.adapter && !sel.baseConfig && !before.baseConfigFile) {
          const base = recognized.find((r) => r.kind === 'base_config')!;
          set({ phase: 'preflight', baseConfigFile: collected.files.find((f) => f.path === base.path)!, baseConfigProblem: null, baseConfigOrigin: null });
          clearResult();
          set({ result: null });
          await runInspect();
          return;
        }
        clearResult();
        const selection = selectInputs(recognized, collected.files);
        const catalogued = catalogueBaseConfig(selection);
        const pending = get().pendingOptions;
        set({
          phase: 'preflight',
          rootName: collected.rootName,
          files: collected.files,
          recognized,
          truncated: collected.truncated,
          selection,
          baseConfigFile: catalogued?.file ?? null,
          baseConfigProblem: null,
          baseConfigOrigin: catalogued?.origin ?? null,
          hub: null,
          pendingOptions: null,
          options: {
            ...get().options,
            name: defaultName(collected.rootName, selection),
            dropUnapplied: false,
            keepNormVectors: false,
            keepNonFinite: false,
            ...pending,
          },
          plan: null,
          planError: null,
          result: null,
          progress: null,
        });
        await runInspect();
      },

      async addBaseConfig(collected) {
        if (get().phase === 'converting') return;
        const gen = ++generation;
        let recognized: RecognizedFile[];
        try {
          recognized = await converter.recognize(collected.files);
        } catch (e) {
          if (gen === generation) set({ baseConfigProblem: describeError(e).message });
          return;
        }
        if (gen !== generation) return;
        const base = recognized.find((r) => r.kind === 'base_config');
        if (!base) {
          const what = recognized[0];
          set({
            baseConfigProblem:
              what?.kind === 'adapter_config'
                ? 'That is an adapter\'s configuration; the base model\'s config.json has "architectures" and sizes such as "hidden_size".'
                : `That is not a model's config.json${what ? ` (${what.note})` : ''}.`,
          });
          return;
        }
        set({ baseConfigFile: collected.files.find((f) => f.path === base.path)!, baseConfigProblem: null, baseConfigOrigin: null });
        await runInspect();
      },

      setOuttype(outtype) {
        set({ options: { ...get().options, outtype } });
        void runInspect();
      },

      setName(name) {
        set({ options: { ...get().options, name } });
        if (nameTimer) clearTimeout(nameTimer);
        // The name only changes general.name (and sizes by a few bytes): re-plan once typing pauses.
        nameTimer = setTimeout(() => {
          nameTimer = null;
          void runInspect();
        }, NAME_DEBOUNCE_MS);
      },

      setDropUnapplied(dropUnapplied) {
        set({ options: { ...get().options, dropUnapplied } });
        void runInspect();
      },

      setKeepNormVectors(keepNormVectors) {
        set({ options: { ...get().options, keepNormVectors } });
        void runInspect();
      },

      setKeepNonFinite(keepNonFinite) {
        // Only the conversion reads it: the plan does not change.
        set({ options: { ...get().options, keepNonFinite } });
      },

      async convert(target) {
        const s = get();
        const inputs = conversionInputs(s);
        if (!inputs || !s.plan || s.plan.refusals.length > 0 || s.phase === 'converting') {
          // The Convert button is disabled in these states; nothing to do.
          return;
        }
        if (nameTimer) {
          clearTimeout(nameTimer);
          nameTimer = null;
        }
        clearResult();
        const options = s.options;
        const plan = s.plan;
        const started = save.now();
        set({
          phase: 'converting',
          result: null,
          convertError: null,
          notice: null,
          progress: {
            phase: 'starting',
            bytesWritten: 0,
            totalBytes: plan.totalBytes,
            tensorsDone: 0,
            totalTensors: plan.tensors.length,
            bytesPerSecond: null,
            secondsLeft: null,
          },
        });
        if (target.kind === 'opfs') releaseLock = save.holdTempLock(target.name);
        const onProgress = (p: WorkerProgress) => {
          const cur = get().progress;
          if (!cur || cur.phase === 'cancelling') return;
          const seconds = (save.now() - started) / 1000;
          const bps = seconds > 0.2 && p.bytesWritten > 0 ? p.bytesWritten / seconds : null;
          set({ progress: { ...p, bytesPerSecond: bps, secondsLeft: bps ? (p.totalBytes - p.bytesWritten) / bps : null } });
        };
        try {
          const res = await converter.convert(inputs, { ...inspectOptions(options), keepNonFinite: options.keepNonFinite }, target, onProgress);
          const { blob, ...summary } = res;
          let downloadUrl: string | null = null;
          if (target.kind === 'opfs') downloadUrl = save.createObjectURL(await save.getTempFile(target.name));
          else if (target.kind === 'memory' && blob) downloadUrl = save.createObjectURL(blob);
          saved =
            target.kind === 'handle'
              ? { kind: 'handle', handle: target.handle }
              : target.kind === 'opfs'
                ? { kind: 'opfs', name: target.name }
                : target.kind === 'memory' && blob
                  ? { kind: 'memory', blob }
                  : null;
          set({
            phase: 'done',
            progress: null,
            result: {
              ...summary,
              fileName: target.kind === 'handle' ? target.handle.name : outputFileName(options),
              target: target.kind,
              downloadUrl,
              tempName: target.kind === 'opfs' ? target.name : null,
              outtype: options.outtype,
              architecture: plan.ggufArchitecture,
              baseModel: plan.adapter.baseModel,
              warnings: plan.warnings,
              seconds: (save.now() - started) / 1000,
              inputBytes: inputs.adapter.size,
            },
          });
        } catch (e) {
          if (target.kind === 'opfs') await save.removeTempFile(target.name);
          // A worker that died or was ended could not take away the empty file the picker created.
          else if (target.kind === 'handle') await save.removePickedIfEmpty(target.handle);
          // A streamed download whose worker died: end it as failed, so the browser keeps no partial file.
          else if (target.kind === 'stream') save.abortStreamDownload(target.id);
          releaseLock?.();
          releaseLock = null;
          if (isAbortError(e)) set({ phase: 'preflight', progress: null, notice: 'Conversion cancelled. Nothing was written.' });
          else {
            const described = describeError(e);
            set({ phase: 'preflight', progress: null, convertError: { ...described, involved: [...described.involved, CLEANED_UP[target.kind]] } });
          }
        }
      },

      cancel() {
        const p = get().progress;
        if (get().phase !== 'converting' || !p) return;
        set({ progress: { ...p, phase: 'cancelling' } });
        converter.cancel();
      },

      again() {
        if (get().phase !== 'done') return;
        clearResult();
        set({ phase: 'preflight', result: null, notice: null });
      },

      reset() {
        if (get().phase === 'converting') return;
        generation++;
        clearResult();
        set(initialData());
      },

      failLoad(e) {
        set({ phase: get().phase === 'reading' ? 'empty' : get().phase, loadError: describeError(e) });
      },

      savePaths: null,
      setSavePaths(savePaths) {
        set({ savePaths });
      },

      async savedOutput() {
        if (!saved) return null;
        if (saved.kind === 'memory') return saved.blob;
        if (saved.kind === 'handle') return saved.handle.getFile();
        return save.getTempFile(saved.name);
      },
    };
  });
}

/** The app's store instance, created by main.tsx with the real worker and save helpers. */
let appStore: StoreApi<AppState> | null = null;

export function setAppStore(store: StoreApi<AppState>): void {
  appStore = store;
}

export function getAppStore(): StoreApi<AppState> {
  if (!appStore) throw new Error('the app store is not created yet');
  return appStore;
}

export function useApp<T>(selector: (s: AppState) => T): T {
  return useStore(getAppStore(), selector);
}
