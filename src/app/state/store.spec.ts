// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import { bytesSource, ConversionError, inspect, type ConversionPlan, type InspectOptions } from '../../core';
import type { CandidateFile, ConversionInputs, ConvertResult, RecognizedFile, SaveTarget, WorkerProgress } from '../../../workers/protocol';
import { recognizeFiles } from '../../../workers/recognize';
import type { Converter } from '../services/worker-bridge';
import type { Collected } from '../services/walk';
import { createAppStore, type SaveDeps, conversionInputs } from './store';

const adapterConfig = JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'], base_model_name_or_path: 'org/tiny' });
const baseConfig = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  intermediate_size: 16,
  vocab_size: 32,
});

function safetensors(): Uint8Array {
  const names = ['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'];
  const shapes = [
    [2, 8],
    [8, 2],
  ];
  const header: Record<string, unknown> = {};
  let at = 0;
  names.forEach((n, i) => {
    const bytes = shapes[i]![0]! * shapes[i]![1]! * 4;
    header[n] = { dtype: 'F32', shape: shapes[i], data_offsets: [at, at + bytes] };
    at += bytes;
  });
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  return out;
}

function folder(name: string, withBase = true): Collected {
  const files: CandidateFile[] = [
    { path: `${name}/adapter_config.json`, file: new File([adapterConfig], 'adapter_config.json') },
    { path: `${name}/adapter_model.safetensors`, file: new File([safetensors() as BlobPart], 'adapter_model.safetensors') },
  ];
  if (withBase) files.push({ path: `${name}/base/config.json`, file: new File([baseConfig], 'config.json') });
  return { rootName: name, files, truncated: false };
}

/** A converter that runs the real core in-process, with hooks to hold or fail a conversion. */
function fakeConverter() {
  const calls = { inspect: [] as InspectOptions[], convert: [] as SaveTarget[], cancel: 0 };
  let pending: { resolve: (r: ConvertResult) => void; reject: (e: unknown) => void; progress: (p: WorkerProgress) => void } | null = null;
  const converter: Converter = {
    recognize: (files) => recognizeFiles(files),
    async inspect(inputs: ConversionInputs, options) {
      calls.inspect.push(options);
      const bytes = new Uint8Array(await (inputs.adapter as File).arrayBuffer());
      return inspect({ adapterConfig: await inputs.adapterConfig.text(), baseConfig: await inputs.baseConfig.text(), adapter: bytesSource(bytes) }, options);
    },
    convert(_inputs, _options, target, onProgress) {
      calls.convert.push(target);
      return new Promise((resolve, reject) => (pending = { resolve, reject, progress: onProgress }));
    },
    cancel() {
      calls.cancel++;
      pending?.reject(new ConversionError('aborted', 'Conversion cancelled.'));
    },
  };
  return { converter, calls, pending: () => pending! };
}

function fakeSave(): SaveDeps & { removed: string[]; picked: string[]; released: string[]; revoked: string[]; t: number } {
  const s = {
    removed: [] as string[],
    picked: [] as string[],
    released: [] as string[],
    revoked: [] as string[],
    t: 0,
    holdTempLock: (name: string) => () => s.released.push(name),
    getTempFile: async (name: string) => new File(['gguf'], name),
    removeTempFile: async (name: string) => {
      s.removed.push(name);
    },
    abortStreamDownload: () => undefined,
    removePickedIfEmpty: async (h: FileSystemFileHandle) => {
      s.picked.push(h.name);
    },
    createObjectURL: (f: File) => `blob:${f.name}`,
    revokeObjectURL: (u: string) => {
      s.revoked.push(u);
    },
    now: () => s.t,
  };
  return s;
}

const RESULT: ConvertResult = { size: 100, tensorCount: 2, ggufVersion: 3, keys: [{ key: 'general.name', value: 'x' }] };

async function ready(name = 'my-adapter') {
  const fc = fakeConverter();
  const save = fakeSave();
  const store = createAppStore(fc.converter, save);
  await store.getState().addFiles(folder(name));
  return { store, fc, save };
}

describe('app store', () => {
  test('files → recognised → preflight with the plan; name defaults to the folder; f32 by default', async () => {
    const { store, fc } = await ready();
    const s = store.getState();
    expect(s.phase).toBe('preflight');
    expect(s.recognized.map((r: RecognizedFile) => r.kind)).toEqual(['adapter_config', 'adapter_weights', 'base_config']);
    expect(s.options).toEqual({ outtype: 'f32', name: 'my-adapter', dropUnapplied: false, keepNormVectors: false, keepNonFinite: false });
    expect(s.plan?.architecture).toBe('LlamaForCausalLM');
    expect(s.plan?.name).toBe('my-adapter');
    expect(fc.calls.inspect).toEqual([{ outtype: 'f32', name: 'my-adapter', dropUnapplied: false, keepNormVectors: false }]);
  });

  test('missing base config: no plan until config.json is dropped; a wrong file is explained', async () => {
    const fc = fakeConverter();
    const store = createAppStore(fc.converter, fakeSave());
    await store.getState().addFiles(folder('a', false));
    expect(store.getState().plan).toBeNull();
    expect(store.getState().selection?.baseModel).toBe('org/tiny');
    await store
      .getState()
      .addBaseConfig({ rootName: null, files: [{ path: 'adapter_config.json', file: new File([adapterConfig], 'adapter_config.json') }], truncated: false });
    expect(store.getState().baseConfigProblem).toMatch(/adapter's configuration/);
    await store.getState().addBaseConfig({ rootName: null, files: [{ path: 'config.json', file: new File([baseConfig], 'config.json') }], truncated: false });
    expect(store.getState().baseConfigProblem).toBeNull();
    expect(store.getState().plan?.architecture).toBe('LlamaForCausalLM');
    // Dropping just a config.json on the main drop zone completes the adapter too.
    const other = createAppStore(fakeConverter().converter, fakeSave());
    await other.getState().addFiles(folder('b', false));
    await other.getState().addFiles({ rootName: null, files: [{ path: 'config.json', file: new File([baseConfig], 'config.json') }], truncated: false });
    expect(other.getState().plan?.architecture).toBe('LlamaForCausalLM');
    expect(other.getState().options.name).toBe('b');
  });

  test('changing the outtype re-plans; the name re-plans once typing pauses', async () => {
    vi.useFakeTimers();
    try {
      const { store, fc } = await ready();
      store.getState().setOuttype('q8_0');
      await vi.waitFor(() => expect(store.getState().plan?.outtype).toBe('q8_0'));
      store.getState().setName('n');
      store.getState().setName('ne');
      store.getState().setName('new');
      expect(store.getState().options.name).toBe('new');
      const before = fc.calls.inspect.length;
      await vi.advanceTimersByTimeAsync(300);
      await vi.waitFor(() => expect(store.getState().plan?.name).toBe('new'));
      expect(fc.calls.inspect.length).toBe(before + 1);
    } finally {
      vi.useRealTimers();
    }
  });

  test('a late answer of an older inspect never overwrites a newer one', async () => {
    const fc = fakeConverter();
    const slow = fc.converter.inspect;
    let first = true;
    fc.converter.inspect = async (inputs, options) => {
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return slow(inputs, options);
    };
    const store = createAppStore(fc.converter, fakeSave());
    const loading = store.getState().addFiles(folder('x'));
    await vi.waitFor(() => expect(store.getState().inspecting).toBe(true));
    store.getState().setOuttype('f16');
    await loading;
    await vi.waitFor(() => expect(store.getState().inspecting).toBe(false));
    expect(store.getState().plan?.outtype).toBe('f16');
  });

  test('convert to a picked file: progress with throughput and time left, then the result', async () => {
    const { store, fc, save } = await ready();
    const handle = { name: 'picked.gguf' } as FileSystemFileHandle;
    const done = store.getState().convert({ kind: 'handle', handle });
    expect(store.getState().phase).toBe('converting');
    save.t = 2000;
    fc.pending().progress({ phase: 'writing', bytesWritten: 50, totalBytes: 150, tensorsDone: 1, totalTensors: 2 });
    const p = store.getState().progress!;
    expect(p).toMatchObject({ bytesWritten: 50, tensorsDone: 1, bytesPerSecond: 25, secondsLeft: 4 });
    save.t = 3500;
    fc.pending().resolve(RESULT);
    await done;
    const s = store.getState();
    expect(s.phase).toBe('done');
    expect(s.result).toMatchObject({ fileName: 'picked.gguf', target: 'handle', downloadUrl: null, tensorCount: 2, baseModel: 'org/tiny' });
    // How long it took (Convert to Done) and how much was read, for the speed on the result page.
    expect(s.result!.seconds).toBe(3.5);
    expect(s.result!.inputBytes).toBe(conversionInputs(s)!.adapter.size);
  });

  test('fallback: OPFS temp file is locked, offered as download, removed when the user moves on', async () => {
    const { store, fc, save } = await ready('my adapter');
    const done = store.getState().convert({ kind: 'opfs', directory: 'tmp', name: 'abc.gguf' });
    fc.pending().resolve(RESULT);
    await done;
    const r = store.getState().result!;
    expect(r.fileName).toBe('my-adapter-F32-LoRA.gguf');
    expect(r.downloadUrl).toBe('blob:abc.gguf');
    expect(save.removed).toEqual([]);
    store.getState().again();
    expect(store.getState().phase).toBe('preflight');
    expect(save.revoked).toEqual(['blob:abc.gguf']);
    expect(save.removed).toEqual(['abc.gguf']);
    expect(save.released).toEqual(['abc.gguf']);
  });

  test('cancel: back to preflight with a notice; the temp file is removed and the next conversion works', async () => {
    const { store, fc, save } = await ready();
    const first = store.getState().convert({ kind: 'opfs', directory: 'tmp', name: 'one.gguf' });
    store.getState().cancel();
    expect(fc.calls.cancel).toBe(1);
    await first;
    expect(store.getState().phase).toBe('preflight');
    expect(store.getState().notice).toMatch(/cancelled/i);
    expect(store.getState().convertError).toBeNull();
    expect(save.removed).toEqual(['one.gguf']);
    expect(save.released).toEqual(['one.gguf']);
    const second = store.getState().convert({ kind: 'opfs', directory: 'tmp', name: 'two.gguf' });
    fc.pending().resolve(RESULT);
    await second;
    expect(store.getState().phase).toBe('done');
  });

  test('a failed conversion is put into words and the page stays usable', async () => {
    const { store, fc, save } = await ready();
    const run = store.getState().convert({ kind: 'handle', handle: { name: 'x.gguf' } as FileSystemFileHandle });
    fc.pending().reject(Object.assign(new Error('no space'), { name: 'QuotaExceededError' }));
    await run;
    expect(store.getState().phase).toBe('preflight');
    expect(store.getState().convertError?.title).toBe('Not enough storage space');
    // What was cleaned up is said with the error.
    expect(store.getState().convertError?.involved).toContain('Cleaned up: nothing reached the file you chose (a file the dialog had just created was removed).');
    // The picked file is offered for removal when empty (a worker that died could not remove it).
    expect(save.picked).toEqual(['x.gguf']);
  });

  test('a plan with refusals cannot be converted; inspect errors land in planError', async () => {
    const fc = fakeConverter();
    const store = createAppStore(fc.converter, fakeSave());
    await store.getState().addFiles(folder('x'));
    store.setState({ plan: { ...(store.getState().plan as ConversionPlan), refusals: [new ConversionError('tied_head', 'no').toJSON()] } });
    await store.getState().convert({ kind: 'handle', handle: { name: 'x.gguf' } as FileSystemFileHandle });
    expect(fc.calls.convert).toEqual([]);
    fc.converter.inspect = async () => {
      throw new ConversionError('unsupported_architecture', 'nope', { architecture: 'Foo' });
    };
    store.getState().setOuttype('f16');
    await vi.waitFor(() => expect(store.getState().planError?.code).toBe('unsupported_architecture'));
    expect(store.getState().plan).toBeNull();
  });

  test('reset returns to the empty state', async () => {
    const { store } = await ready();
    store.getState().reset();
    expect(store.getState()).toMatchObject({
      phase: 'empty',
      plan: null,
      selection: null,
      files: [],
      options: { outtype: 'f32', name: '', dropUnapplied: false, keepNormVectors: false, keepNonFinite: false },
    });
  });
});
