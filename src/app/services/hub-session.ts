/**
 * Opening a PEFT adapter on the Hub from the page: the worker resolves the revision to a commit,
 * reads adapter_config.json, opens the weights by ranges and finds the base config (bundled
 * catalogue, then the Hub); the page then shows the same preflight as for dropped files. The
 * weights are never downloaded whole: the store keeps a descriptor, and the worker reads by ranges.
 */
import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import { ConversionError, formatHubRef, hubRefDisplayName, refFilePath } from '../../core/light';
import type { HubRef } from '../../core';
import type { HubAdapterSource, HubOpened, RecognizedFile } from '../../../workers/protocol';
import { describeError, type DescribedError } from './error-words';
import type { InputSelection } from './inputs';
import type { Converter } from './worker-bridge';
import { DEFAULT_OPTIONS, getAppStore, type Options } from '../state/store';
import { HUB_ENDPOINT } from './hub-endpoint';
import { hubToken } from './hub-token';

/** The Hub adapter behind the current preflight (in the app store's `hub`). */
export interface HubSession {
  /** The reference as the user gave it. */
  ref: HubRef;
  /** Pinned to the commit that was read: what a shared link names. */
  pinned: HubRef;
  commit: string;
  /** The weights, for the worker (token left out: it joins from page memory at each call). */
  source: HubAdapterSource;
  /** adapter_config.json's base_model_name_or_path. */
  baseModel: string | null;
  /** The base id typed by the user or named by a link, when one was. */
  baseRequested: string | null;
}

export interface HubOpenState {
  /** The reference field's text and the base id field's (a link fills them in too). */
  input: string;
  base: string;
  status: 'idle' | 'opening' | 'error';
  /** What is being opened (formatted reference), for the status line. */
  target: string | null;
  error: DescribedError | null;
  /** The Hub refused access: a token is needed (or the one given does not grant access). */
  authNeeded: boolean;
}

export const hubOpenStore = createStore<HubOpenState>(() => ({ input: '', base: '', status: 'idle', target: null, error: null, authNeeded: false }));

export function useHubOpen<T>(selector: (s: HubOpenState) => T): T {
  return useStore(hubOpenStore, selector);
}

let converter: Converter | null = null;

/** main.tsx hands over the worker bridge it created for the store. */
export function setHubConverter(c: Converter): void {
  converter = c;
}

export interface OpenHubRequest {
  ref: HubRef;
  /** A base model id to use instead of the adapter's base_model_name_or_path. */
  base?: string | null;
  /** Options to start with (from a shared link). */
  options?: Partial<Options>;
}

let generation = 0;

/** Where the files came from, for the files list. */
function recognizedFor(ref: HubRef, opened: HubOpened, configSize: number): RecognizedFile[] {
  return [
    {
      path: `${ref.repo}/${refFilePath(ref, 'adapter_config.json')}`,
      size: configSize,
      kind: 'adapter_config',
      note: `From the Hub at commit ${opened.commit.slice(0, 12)}.`,
      baseModel: opened.baseModel,
    },
    {
      path: `${ref.repo}/${refFilePath(ref, opened.adapter.file)}`,
      size: opened.adapter.size,
      kind: 'adapter_weights',
      note: 'On the Hub: read by HTTP range requests, tensor by tensor, never downloaded whole.',
    },
  ];
}

/** Open an adapter on the Hub and show its preflight. Conversion waits for the user's click. */
export async function openFromHub(request: OpenHubRequest): Promise<void> {
  const app = getAppStore();
  if (!converter?.openHub || app.getState().phase === 'converting') return;
  const gen = ++generation;
  const target = formatHubRef(request.ref);
  hubOpenStore.setState({ input: target, base: request.base ?? hubOpenStore.getState().base, status: 'opening', target, error: null, authNeeded: false });
  let opened: HubOpened;
  try {
    opened = await converter.openHub({ ref: request.ref, endpoint: HUB_ENDPOINT, token: hubToken(), base: request.base ?? null });
  } catch (e) {
    if (gen !== generation) return;
    const error = describeError(e);
    hubOpenStore.setState({ status: 'error', error, authNeeded: e instanceof ConversionError && e.code === 'auth_required' });
    return;
  }
  if (gen !== generation || app.getState().phase === 'converting') return;
  hubOpenStore.setState({ status: 'idle', target: null, error: null, authNeeded: false });

  const ref = request.ref;
  const configFile = new File([opened.adapterConfig], 'adapter_config.json', { type: 'application/json' });
  const recognized = recognizedFor(ref, opened, configFile.size);
  const selection: InputSelection = {
    adapterConfig: { path: recognized[0]!.path, file: configFile },
    // A stand-in: the weights stay on the Hub (the store's `hub.source` is what the worker reads).
    adapter: { path: recognized[1]!.path, file: new File([], opened.adapter.file) },
    baseConfig: null,
    baseModel: opened.baseId ?? opened.baseModel,
    problems: [],
  };
  const base = opened.base;
  const baseConfigFile = base
    ? {
        path: base.origin === 'catalogue' ? `bundled catalogue: ${base.source}/config.json` : `${opened.baseId}/config.json (Hub)`,
        file: new File([base.text], 'config.json', { type: 'application/json' }),
      }
    : null;
  const session: HubSession = {
    ref,
    pinned: opened.pinned,
    commit: opened.commit,
    source: opened.adapter,
    baseModel: opened.baseModel,
    baseRequested: request.base ?? null,
  };
  const name = hubRefDisplayName(ref);
  // Leave the previous input cleanly (a finished conversion's temporary file and download URL).
  if (app.getState().phase !== 'empty') app.getState().reset();
  app.setState({
    phase: 'preflight',
    rootName: name,
    files: [],
    recognized,
    truncated: false,
    selection,
    baseConfigFile,
    baseConfigProblem: opened.baseError ? describeError(ConversionError.fromJSON(opened.baseError)).message : null,
    baseConfigOrigin: base ? (base.origin === 'catalogue' ? `bundled catalogue (${base.source})` : `the Hub (${opened.baseId})`) : null,
    hub: session,
    pendingOptions: null,
    options: { ...DEFAULT_OPTIONS, name, ...request.options },
    plan: null,
    planError: null,
    progress: null,
    result: null,
    convertError: null,
    notice: null,
    loadError: null,
  });
  // Re-plan through the store's own path (it tracks which answer is the latest).
  app.getState().setOuttype(app.getState().options.outtype);
}

/** Forget a failed attempt's message (e.g. when the user edits the reference). */
export function clearHubError(): void {
  if (hubOpenStore.getState().status === 'error') hubOpenStore.setState({ status: 'idle', error: null, authNeeded: false, target: null });
}
