// @vitest-environment happy-dom
/// <reference types="vite/client" />
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { bytesSource, ConversionError, inspect, parseHubRef } from '../../core';
import { REFERENCE } from '../../../test/helpers/fixtures';
import type { HubOpened, HubOpenRequest } from '../../../workers/protocol';
import { recognizeFiles } from '../../../workers/recognize';
import { applyLink, linkStore } from '../links/apply-link';
import { encodeLink } from '../links/link';
import type { Converter } from './worker-bridge';
import { conversionInputs, createAppStore, setAppStore } from '../state/store';
import { linkStateOf } from '../components/CopyLink/CopyLink';
import { hubOpenStore, openFromHub, setHubConverter } from './hub-session';
import { clearHubToken, hubToken, setHubToken } from './hub-token';

const CASE = join(REFERENCE, 'llama_bf16_f16', 'input');
const ADAPTER_CONFIG = readFileSync(join(CASE, 'adapter_config.json'), 'utf8');
const BASE_CONFIG = readFileSync(join(CASE, 'base', 'config.json'), 'utf8');
const WEIGHTS = new Uint8Array(readFileSync(join(CASE, 'adapter_model.safetensors')));
const SHA = 'ab'.repeat(20);
const TOKEN = 'hf_test_token_value_0123456789';

/** A converter whose "Hub" answers from memory; gated unless the token matches. */
function fakeConverter(gated: boolean, baseFound = true) {
  const requests: HubOpenRequest[] = [];
  const converter: Converter = {
    recognize: (files) => recognizeFiles(files),
    async inspect(inputs, options) {
      expect(inputs.adapter).toMatchObject({ kind: 'hub' });
      return inspect({ adapterConfig: await inputs.adapterConfig.text(), baseConfig: await inputs.baseConfig.text(), adapter: bytesSource(WEIGHTS) }, options);
    },
    convert: () => Promise.reject(new Error('unused')),
    cancel: () => undefined,
    async openHub(request): Promise<HubOpened> {
      requests.push(request);
      if (gated && request.token !== TOKEN) throw new ConversionError('auth_required', 'the repository is gated', { status: 401 }, 'Paste a token.');
      const pinned = { ...request.ref, revision: SHA, revisionGiven: true };
      return {
        pinned,
        commit: SHA,
        adapterConfig: ADAPTER_CONFIG,
        adapter: { kind: 'hub', ref: pinned, file: 'adapter_model.safetensors', size: WEIGHTS.byteLength, endpoint: request.endpoint, token: null },
        baseModel: 'org/base',
        baseId: request.base ?? 'org/base',
        base: baseFound ? { text: BASE_CONFIG, origin: 'hub', source: 'https://huggingface.co/org/base/resolve/main/config.json' } : null,
        baseError: baseFound ? null : new ConversionError('not_found', 'config.json of org/base: repository org/base does not exist.', {}).toJSON(),
      };
    },
  };
  return { converter, requests };
}

function setup(gated = false, baseFound = true) {
  const fake = fakeConverter(gated, baseFound);
  const store = createAppStore(fake.converter, {
    holdTempLock: () => () => undefined,
    removePickedIfEmpty: async () => undefined,
    abortStreamDownload: () => undefined,
    getTempFile: async () => new File([], 'x'),
    removeTempFile: async () => undefined,
    createObjectURL: () => 'blob:x',
    revokeObjectURL: () => undefined,
    now: () => 0,
  });
  setAppStore(store);
  setHubConverter(fake.converter);
  return { store, requests: fake.requests };
}

beforeEach(() => {
  clearHubToken();
  hubOpenStore.setState({ input: '', base: '', status: 'idle', target: null, error: null, authNeeded: false });
  linkStore.setState({ problems: [], askForFiles: false, restored: null });
});
afterEach(() => clearHubToken());

describe('openFromHub', () => {
  test('shows the preflight of the Hub adapter, pinned to the commit, with the name from the folder', async () => {
    const { store, requests } = setup();
    await openFromHub({ ref: parseHubRef('org/adapters/runs/step-10@v1') });
    await vi.waitFor(() => expect(store.getState().plan).not.toBeNull());
    const s = store.getState();
    expect(s.phase).toBe('preflight');
    expect(s.hub!.pinned).toEqual({ repo: 'org/adapters', subfolder: 'runs/step-10', revision: SHA, revisionGiven: true });
    expect(s.options.name).toBe('step-10');
    expect(s.baseConfigOrigin).toBe('the Hub (org/base)');
    expect(s.plan!.refusals).toEqual([]);
    expect(requests[0]!.endpoint).toBe('https://huggingface.co');
    // The weights stay on the Hub: the store holds a descriptor, not bytes.
    expect(conversionInputs(s)!.adapter).toMatchObject({ kind: 'hub', size: WEIGHTS.byteLength });
  });

  test('gated: a clear auth prompt; the token from memory opens it and joins each call, but is nowhere in the store or the link', async () => {
    const { store, requests } = setup(true);
    const ref = parseHubRef('org/gated');
    await openFromHub({ ref });
    expect(hubOpenStore.getState()).toMatchObject({ status: 'error', authNeeded: true });
    expect(hubOpenStore.getState().error!.code).toBe('auth_required');
    expect(store.getState().phase).toBe('empty');

    setHubToken(`  ${TOKEN} `);
    expect(hubToken()).toBe(TOKEN);
    await openFromHub({ ref });
    await vi.waitFor(() => expect(store.getState().plan).not.toBeNull());
    expect(requests.map((r) => r.token)).toEqual([null, TOKEN]);
    expect(hubOpenStore.getState().authNeeded).toBe(false);
    expect(JSON.stringify(store.getState())).not.toContain(TOKEN);
    expect(JSON.stringify(hubOpenStore.getState())).not.toContain(TOKEN);
    // The worker gets it with each call...
    expect((conversionInputs(store.getState())!.adapter as { token: string | null }).token).toBe(TOKEN);
    // ...but a link never carries it.
    expect(encodeLink(linkStateOf(store.getState()))).not.toContain(TOKEN);
    expect(encodeLink(linkStateOf(store.getState()))).toContain(`rev=${SHA}`);
  });

  test('no base config found: the reason is shown, and a dropped config.json completes the Hub adapter', async () => {
    const { store } = setup(false, false);
    await openFromHub({ ref: parseHubRef('org/adapters') });
    expect(store.getState().phase).toBe('preflight');
    expect(store.getState().baseConfigFile).toBeNull();
    expect(store.getState().baseConfigProblem).toContain('org/base does not exist');
    expect(conversionInputs(store.getState())).toBeNull();
    await store.getState().addBaseConfig({ rootName: null, files: [{ path: 'config.json', file: new File([BASE_CONFIG], 'config.json') }], truncated: false });
    await vi.waitFor(() => expect(store.getState().plan).not.toBeNull());
    expect(store.getState().plan!.refusals).toEqual([]);
    expect(conversionInputs(store.getState())!.adapter).toMatchObject({ kind: 'hub' });
  });
});

describe('applyLink', () => {
  test('a Hub link opens the adapter with the link options (no conversion)', async () => {
    const { store, requests } = setup();
    applyLink(`#v=1&repo=org/adapters&path=a/b&rev=v2&base=org/other-base&outtype=q8_0&name=shared&drop_unapplied=1`);
    await vi.waitFor(() => expect(store.getState().plan).not.toBeNull());
    expect(requests[0]).toMatchObject({ ref: { repo: 'org/adapters', subfolder: 'a/b', revision: 'v2' }, base: 'org/other-base' });
    expect(store.getState().options).toEqual({ outtype: 'q8_0', name: 'shared', dropUnapplied: true, keepNormVectors: false, keepNonFinite: false });
    expect(store.getState().phase).toBe('preflight');
    expect(store.getState().result).toBeNull();
  });

  test('a local-files link: options pending for the drop, the page asks for the files', () => {
    const { store, requests } = setup();
    applyLink('#v=1&outtype=bf16&name=mine&foo=1');
    expect(requests).toEqual([]);
    expect(store.getState().pendingOptions).toEqual({ outtype: 'bf16', name: 'mine' });
    expect(store.getState().options.outtype).toBe('bf16');
    expect(linkStore.getState()).toMatchObject({ askForFiles: true });
    expect(linkStore.getState().problems.map((p) => p.param)).toEqual(['foo']);
  });

  test('not a link: nothing happens', () => {
    const { store, requests } = setup();
    applyLink('#top');
    expect(requests).toEqual([]);
    expect(store.getState().phase).toBe('empty');
    expect(linkStore.getState()).toEqual({ problems: [], askForFiles: false, restored: null, format: null });
  });
});
