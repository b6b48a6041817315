/**
 * The conversion worker: the one Comlink `expose()`. It reads the user's files by slices, runs
 * the same core as the CLI (inspect → convert), writes the GGUF to the picked file or to a
 * temporary file in the origin-private file system, then reads the header back to verify it.
 */
import { expose } from 'comlink';
import {
  adapterShapeOf,
  assertConvertible,
  checkAgainstBase,
  ConversionError,
  inspectGgufAdapter,
  kvString,
  readGgufHeader,
  readHubBaseModel,
  splitPart,
  convert,
  hubFileUrl,
  inspect,
  openHubAdapter,
  openHubFile,
  resolveBaseConfig,
  simdAvailable,
  type ByteSource,
  type ConversionPlan,
  type InspectInput,
  type InspectOptions,
} from '../src/core';
import { blobSource, memorySink, streamSink, syncHandleSink, writableSink, type FlushableSink, type PortLike } from './file-io';
import type { ConversionInputs, ConverterApi, ConvertResult, HubAdapterSource, HubOpened, SaveTarget, WorkerProgress } from './protocol';
import { registerErrorTransfer } from './protocol';
import { recognizeFiles, MAX_CONFIG_BYTES } from './recognize';
import { verifyOutput } from './verify';

registerErrorTransfer();

/** How often progress crosses to the page at most. */
const PROGRESS_INTERVAL_MS = 100;

async function readConfig(file: File, what: string): Promise<string> {
  if (file.size > MAX_CONFIG_BYTES) {
    throw new ConversionError(
      'wrong_input',
      `${file.name} is ${file.size} bytes; ${what} is a small JSON file.`,
      { file: file.name },
      `Give the ${what} file.`,
    );
  }
  return file.text();
}

/**
 * The Hub adapter opened last, kept so that inspect and convert (and a second conversion with
 * other options) read through the same range source and its block cache: the weights cross the
 * network once, not once per call. Keyed by URL and token; memory only.
 */
let hubCache: { url: string; token: string | null; source: Promise<ByteSource> } | null = null;

function hubSource(adapter: HubAdapterSource): Promise<ByteSource> {
  const url = hubFileUrl(adapter.ref, adapter.file, adapter.endpoint);
  if (hubCache && hubCache.url === url && hubCache.token === adapter.token) return hubCache.source;
  const source = openHubFile(adapter.ref, adapter.file, { endpoint: adapter.endpoint, token: adapter.token ?? undefined });
  hubCache = { url, token: adapter.token, source };
  // A failed open must not stay cached.
  source.catch(() => {
    if (hubCache?.source === source) hubCache = null;
  });
  return source;
}

async function adapterSource(adapter: File | HubAdapterSource): Promise<ByteSource> {
  return adapter instanceof Blob ? blobSource(adapter) : hubSource(adapter);
}

async function readInputs(inputs: ConversionInputs): Promise<InspectInput> {
  return {
    adapterConfig: await readConfig(inputs.adapterConfig, 'adapter_config.json'),
    baseConfig: await readConfig(inputs.baseConfig, "the base model's config.json"),
    adapter: await adapterSource(inputs.adapter),
  };
}

interface OpenedTarget {
  sink: FlushableSink;
  /**
   * Flush and close. `check`: what to read the header back from (the file, or for a streamed
   * download the header bytes it sent); `size`: the bytes written; `blob`: the output kept in memory.
   */
  commit(): Promise<{ check: Blob; size: number; blob?: Blob }>;
  /** After the header was verified: complete a streamed download. */
  done?(): void;
  /** Leave nothing behind: abort the writable / remove the temporary file / fail the download. Never throws. */
  discard(): Promise<void>;
}

/** FileSystemHandle.remove() exists in Chromium only; elsewhere a picked file cannot be deleted by the page. */
async function removeHandle(handle: FileSystemFileHandle): Promise<void> {
  const remove = (handle as unknown as { remove?: () => Promise<void> }).remove;
  if (typeof remove === 'function') await remove.call(handle);
}

async function removeIfEmpty(handle: FileSystemFileHandle): Promise<void> {
  try {
    if ((await handle.getFile()).size === 0) await removeHandle(handle);
  } catch {
    // Gone already, or not ours to remove.
  }
}

async function openTarget(target: SaveTarget, plan: ConversionPlan): Promise<OpenedTarget> {
  if (target.kind === 'stream') {
    const sink = streamSink(target.port as unknown as PortLike, plan.headerBytes);
    return {
      sink,
      commit: async () => ({ check: new Blob([sink.header() as Uint8Array<ArrayBuffer>]), size: sink.bytesWritten }),
      done: () => sink.finish(),
      async discard() {
        sink.fail('the conversion stopped');
      },
    };
  }
  if (target.kind === 'memory') {
    const sink = memorySink();
    return {
      sink,
      async commit() {
        const blob = sink.blob();
        return { check: blob, size: blob.size, blob };
      },
      discard: async () => undefined,
    };
  }
  if (target.kind === 'handle') {
    const handle = target.handle;
    // The picker creates an empty file; a non-empty one existed before and must survive a failure untouched.
    const createdByPicker = (await handle.getFile()).size === 0;
    const writable = await handle.createWritable();
    const sink = writableSink(writable);
    let closed = false;
    return {
      sink,
      async commit() {
        await sink.flush();
        await writable.close();
        closed = true;
        const file = await handle.getFile();
        return { check: file, size: file.size };
      },
      async discard() {
        // Nothing reaches the file before close(); abort() drops the pending data.
        if (!closed) await writable.abort().catch(() => undefined);
        if (createdByPicker || closed) await removeHandle(handle).catch(() => undefined);
      },
    };
  }
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(target.directory, { create: true });
  const fileHandle = await dir.getFileHandle(target.name, { create: true });
  const access = await fileHandle.createSyncAccessHandle();
  const sink = syncHandleSink(access);
  let open = true;
  return {
    sink,
    async commit() {
      await sink.flush();
      // No access.flush() (an fsync): this is a temporary file the page then offers as a
      // download; like the CLI's output, it is left to the kernel's write-back.
      access.close();
      open = false;
      const file = await fileHandle.getFile();
      return { check: file, size: file.size };
    },
    async discard() {
      if (open) {
        try {
          access.close();
        } catch {
          // already closed
        }
      }
      await dir.removeEntry(target.name).catch(() => undefined);
    },
  };
}

/**
 * The shards of a split base in order (`-00001-of-0000N`), all of them; a single file as is.
 * A missing shard is named: the tensors it holds could not be checked.
 */
function orderShards(files: File[]): File[] {
  if (files.length === 0) throw new ConversionError('wrong_input', 'No base model .gguf was given.', {}, "Give the base model's .gguf file.");
  const parts = files.map((f) => ({ f, part: splitPart(f.name) }));
  const split = parts.filter((p) => p.part);
  if (split.length === 0) return [files[0]!];
  const count = split[0]!.part!.count;
  const byIndex = new Map(split.map((p) => [p.part!.index, p.f]));
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new ConversionError(
      'wrong_input',
      `The base model is split in ${count} files; part${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing.`,
      {},
      'Choose every -0000N-of-0000M.gguf file of the model together.',
    );
  }
  return Array.from({ length: count }, (_, i) => byIndex.get(i + 1)!);
}

let current: AbortController | null = null;
let publishing: AbortController | null = null;

const api: ConverterApi = {
  recognize(files) {
    return recognizeFiles(files);
  },

  async inspect(inputs: ConversionInputs, options: InspectOptions) {
    return inspect(await readInputs(inputs), options);
  },

  async convert(inputs, options, target, onProgress): Promise<ConvertResult> {
    current?.abort();
    const controller = new AbortController();
    current = controller;
    try {
      let plan: Awaited<ReturnType<typeof inspect>>;
      let opened: OpenedTarget;
      try {
        plan = await inspect(await readInputs(inputs), options);
        // Refuse before the target is touched.
        assertConvertible(plan);
        opened = await openTarget(target, plan);
      } catch (e) {
        // The save picker created an empty file: take it away again, nothing was written.
        if (target.kind === 'handle') await removeIfEmpty(target.handle);
        throw e;
      }
      let last = 0;
      const report = (p: WorkerProgress, force = false) => {
        const now = performance.now();
        if (!force && now - last < PROGRESS_INTERVAL_MS) return;
        last = now;
        // Fire and forget: a page that went away must not stop the conversion's cleanup.
        Promise.resolve(onProgress(p)).catch(() => undefined);
      };
      try {
        const converted = await convert(plan, await adapterSource(inputs.adapter), opened.sink, {
          signal: controller.signal,
          keepNonFinite: options.keepNonFinite,
          onProgress: (e) => {
            if (e.type === 'start') report({ phase: 'writing', bytesWritten: 0, totalBytes: e.totalBytes, tensorsDone: 0, totalTensors: e.totalTensors }, true);
            else if (e.type === 'tensor')
              report({ phase: 'writing', bytesWritten: e.bytesWritten, totalBytes: e.totalBytes, tensorsDone: e.index + 1, totalTensors: e.totalTensors });
          },
        });
        if (controller.signal.aborted) throw new ConversionError('aborted', 'Conversion cancelled.');
        const written = await opened.commit();
        report(
          {
            phase: 'verifying',
            bytesWritten: plan.totalBytes,
            totalBytes: plan.totalBytes,
            tensorsDone: plan.tensors.length,
            totalTensors: plan.tensors.length,
          },
          true,
        );
        const verified = await verifyOutput(written.check, plan, written.size);
        opened.done?.();
        return {
          ...verified,
          kernels: simdAvailable() ? 'simd' : 'js',
          nonFinite: converted.nonFinite.map((t) => ({ tensor: t.tensor, count: t.count })),
          ...(written.blob ? { blob: written.blob } : {}),
        };
      } catch (e) {
        await opened.discard();
        throw e;
      }
    } finally {
      if (current === controller) current = null;
    }
  },

  cancel() {
    current?.abort();
  },

  ping() {
    return true;
  },

  async ggufInfo(file) {
    const header = await readGgufHeader(blobSource(file), file.name);
    if (kvString(header, 'general.type') === 'adapter' || header.tensors.some((t) => /\.lora_[ab]$/.test(t.name))) {
      return { kind: 'adapter', inspected: inspectGgufAdapter(header, file.name), shape: adapterShapeOf(header), bytesRead: header.bytesRead };
    }
    return {
      kind: 'model',
      file: file.name,
      name: kvString(header, 'general.name') ?? null,
      architecture: kvString(header, 'general.architecture') ?? null,
      tensorCount: header.tensors.length,
      bytesRead: header.bytesRead,
    };
  },

  async publish(request, onProgress) {
    publishing?.abort();
    const controller = new AbortController();
    publishing = controller;
    try {
      // Loaded on first use: @huggingface/hub's upload code stays out of the converter's chunk.
      const { publishAdapter } = await import('./publish');
      return await publishAdapter({ ...request, signal: controller.signal, onProgress: (p) => void Promise.resolve(onProgress(p)).catch(() => undefined) });
    } finally {
      if (publishing === controller) publishing = null;
    }
  },

  cancelPublish() {
    publishing?.abort();
  },

  async checkBaseOnHub(adapter, reference, endpoint, token) {
    const base = await readHubBaseModel(reference, { endpoint, token: token ?? undefined });
    const result = checkAgainstBase(adapter, base);
    return { ...result, baseFile: base.file, shards: base.headers.length, bytesRead: base.headers.reduce((n, h) => n + h.bytesRead, 0), baseBytes: base.baseBytes };
  },

  async checkBase(adapter, base) {
    const shards = orderShards(base);
    const headers = [];
    for (const f of shards) headers.push(await readGgufHeader(blobSource(f), f.name));
    const result = checkAgainstBase(adapter, { file: shards[0]!.name, headers });
    return {
      ...result,
      baseFile: shards[0]!.name,
      shards: shards.length,
      bytesRead: headers.reduce((n, h) => n + h.bytesRead, 0),
      baseBytes: shards.reduce((n, f) => n + f.size, 0),
    };
  },

  async openHub(request): Promise<HubOpened> {
    const options = { endpoint: request.endpoint, token: request.token ?? undefined };
    const opened = await openHubAdapter(request.ref, options);
    const adapter: HubAdapterSource = {
      kind: 'hub',
      ref: opened.pinned,
      file: opened.adapterFile,
      size: opened.adapter.byteLength,
      endpoint: request.endpoint,
      token: request.token,
    };
    hubCache = { url: hubFileUrl(adapter.ref, adapter.file, adapter.endpoint), token: request.token, source: Promise.resolve(opened.adapter) };
    const baseId = request.base ?? opened.baseModel;
    let base: HubOpened['base'] = null;
    let baseError: HubOpened['baseError'] = null;
    if (baseId) {
      try {
        const r = await resolveBaseConfig(baseId, options);
        base = { text: r.text, origin: r.origin, source: r.source };
      } catch (e) {
        baseError = (e instanceof ConversionError ? e : new ConversionError('io', String((e as Error)?.message ?? e))).toJSON();
      }
    }
    // The token goes back to nobody: the page keeps its own copy in memory.
    return {
      pinned: opened.pinned,
      commit: opened.commit,
      adapterConfig: opened.adapterConfig,
      adapter: { ...adapter, token: null },
      baseModel: opened.baseModel,
      baseId,
      base,
      baseError,
    };
  },
};

expose(api);
