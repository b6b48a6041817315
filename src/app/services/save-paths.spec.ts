import { describe, expect, test } from 'vitest';
import { ConversionError } from '../../core/light';
import { chooseSavePath, MEMORY_LIMIT_BYTES, probeSavePaths, type ProbeEnv, type SavePathProbe } from './save-paths';

const MB = 1024 * 1024;
const all: SavePathProbe = { picker: true, storage: { ok: true, freeBytes: 10_000 * MB }, stream: { ok: true, removesFailed: true }, memoryLimitBytes: MEMORY_LIMIT_BYTES };

describe('chooseSavePath: the ladder', () => {
  test('the save dialog first, where it exists', () => {
    expect(chooseSavePath(all, 100 * MB)).toEqual({ rung: 'picker', label: 'a file you choose', passedOver: [] });
  });

  test('no dialog: private storage when its free quota holds the output (plus a margin)', () => {
    const c = chooseSavePath({ ...all, picker: false }, 100 * MB);
    expect(c).toMatchObject({ rung: 'storage', label: 'browser storage, then Download', passedOver: ['no save dialog in this browser'] });
    // An unknown quota is not a reason to pass it over.
    expect(chooseSavePath({ ...all, picker: false, storage: { ok: true, freeBytes: null } }, 100 * MB).rung).toBe('storage');
  });

  test('storage too small: the streamed download, saying the sizes', () => {
    const c = chooseSavePath({ ...all, picker: false, storage: { ok: true, freeBytes: 50 * MB } }, 100 * MB);
    expect(c.rung).toBe('stream');
    expect(c.label).toBe('streamed straight to Downloads');
    expect(c.passedOver[1]).toBe('browser storage has 50 MB free, the output needs 116 MB');
  });

  test('an engine that keeps failed downloads (WebKit): memory first where the output fits, else the stream with the caveat said', () => {
    const probe: SavePathProbe = { ...all, picker: false, storage: { ok: false, reason: 'no opfs' }, stream: { ok: true, removesFailed: false } };
    const small = chooseSavePath(probe, 100 * MB);
    expect(small.rung).toBe('memory');
    expect(small.passedOver[2]).toMatch(/keeps the part of a streamed download/);
    const big = chooseSavePath(probe, 600 * MB);
    expect(big.rung).toBe('stream');
    expect(big.caveat).toMatch(/may keep the part already downloaded under the final name: delete that file/);
  });

  test('no storage and no service worker: memory, up to the stated limit', () => {
    const probe: SavePathProbe = { ...all, picker: false, storage: { ok: false, reason: 'no opfs' }, stream: { ok: false, reason: 'no sw' } };
    expect(chooseSavePath(probe, 100 * MB)).toMatchObject({ rung: 'memory', label: 'memory, then Download — up to 512 MB', passedOver: ['no save dialog in this browser', 'no opfs', 'no sw'] });
    let e: unknown;
    try {
      chooseSavePath(probe, 600 * MB);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ConversionError);
    expect((e as ConversionError).code).toBe('save_unavailable');
    expect((e as ConversionError).message).toBe(
      'This browser offers no way to save a 600 MB file here: no save dialog in this browser; no opfs; no sw; the output (600 MB) is larger than the 512 MB this page keeps in memory.',
    );
    expect((e as ConversionError).hint).toMatch(/command-line tool/);
  });
});

/** A service worker controller answering the probe's ping on the port it is given (or not). */
function controller(answers: boolean): ServiceWorker {
  return {
    postMessage(message: { type: string }, ports: MessagePort[]) {
      if (answers && message.type === 'lora2gguf-download-ping') ports[0]!.postMessage({ type: 'pong' });
    },
  } as unknown as ServiceWorker;
}

function env(o: { picker?: boolean; storage?: Partial<StorageManager> | undefined; sw?: ServiceWorker | null | undefined; ua?: string }): ProbeEnv {
  return {
    userAgent: o.ua ?? 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0.0.0 Safari/537.36',
    window: (o.picker ? { showSaveFilePicker: () => undefined } : {}) as unknown as Window,
    storage: o.storage as StorageManager | undefined,
    serviceWorker: o.sw === undefined ? undefined : ({ controller: o.sw } as ServiceWorkerContainer),
  };
}

describe('probeSavePaths', () => {
  test('everything there: storage with its free quota, a service worker that answers', async () => {
    const p = await probeSavePaths(
      env({ picker: true, storage: { getDirectory: async () => ({}) as FileSystemDirectoryHandle, estimate: async () => ({ quota: 1000, usage: 300 }) }, sw: controller(true) }),
    );
    expect(p).toEqual({ picker: true, storage: { ok: true, freeBytes: 700 }, stream: { ok: true, removesFailed: true }, memoryLimitBytes: MEMORY_LIMIT_BYTES });
    const webkit = await probeSavePaths(env({ sw: controller(true), ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/60.5 Safari/605.1.15' }));
    expect(webkit.stream).toEqual({ ok: true, removesFailed: false });
  });

  test('each missing rung is named with its reason', async () => {
    const refused = await probeSavePaths(
      env({
        storage: {
          getDirectory: async () => {
            throw Object.assign(new Error('no'), { name: 'SecurityError' });
          },
        },
        sw: null,
      }),
    );
    expect(refused.picker).toBe(false);
    expect(refused.storage).toEqual({ ok: false, reason: 'the browser refused its private file storage (SecurityError; private windows often do)' });
    expect(refused.stream).toEqual({ ok: false, reason: 'the app’s service worker does not control this page yet (reload once to enable it)' });

    const none = await probeSavePaths(env({}));
    expect(none.storage).toEqual({ ok: false, reason: 'this browser has no private file storage (origin-private file system)' });
    expect(none.stream).toEqual({ ok: false, reason: 'this browser has no service workers here (private windows often disable them)' });
  });

  test('a service worker that does not answer (an older version) is passed over', async () => {
    const p = await probeSavePaths(env({ sw: controller(false) }));
    expect(p.stream).toEqual({ ok: false, reason: 'the app’s service worker is an older version without streamed downloads (reload to update it)' });
  });
});
