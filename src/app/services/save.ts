/**
 * Where the output goes. With the File System Access API (Chromium) the user picks the file
 * (`showSaveFilePicker` must run on the main thread inside the click, before any await), and
 * the worker writes to it. Elsewhere the worker writes a temporary file in the origin-private
 * file system and the page offers it as a download (a disk-backed File, not a Blob in memory).
 * Temporary files are guarded by Web Locks while a tab uses them; any other is a leftover of a
 * closed tab and is removed at start.
 */
import { ConversionError } from '../../core/light';
import type { SaveTarget } from '../../../workers/protocol';
import type { SaveRung } from './save-paths';

/** The OPFS folder for temporary outputs. */
export const TEMP_DIR = 'lora2gguf-tmp';
const LOCK_PREFIX = 'lora2gguf-tmp:';

type SavePickerWindow = Window & {
  showSaveFilePicker?: (options: {
    suggestedName?: string;
    types?: { description: string; accept: Record<string, string[]> }[];
  }) => Promise<FileSystemFileHandle>;
};

export function hasSavePicker(w: Window = window): boolean {
  return typeof (w as SavePickerWindow).showSaveFilePicker === 'function';
}

/** The user closed the picker without choosing: not an error. */
export class PickerCancelled extends Error {
  override readonly name = 'PickerCancelled';
}

function streamUnavailable(why: string): ConversionError {
  return new ConversionError(
    'save_unavailable',
    `The download could not be started: ${why}. Nothing was converted.`,
    {},
    'Reload the page (the service worker then takes it again) and convert again.',
  );
}

/** Where the streamed download is served by the service worker (public/download-sw.js). */
export const DOWNLOAD_PREFIX = '/__lora2gguf_download__/';

/**
 * Register a streamed download with the service worker and start it: the returned port is the
 * data port for the conversion worker (its other end is in the service worker).
 */
export async function startStreamDownload(name: string, size: number, w: Window = window): Promise<{ port: MessagePort; id: string }> {
  const controller = w.navigator.serviceWorker?.controller;
  if (!controller) throw streamUnavailable('the app’s service worker no longer controls this page');
  const id = crypto.randomUUID();
  const data = new MessageChannel();
  const ack = new MessageChannel();
  const registered = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(streamUnavailable('the app’s service worker did not answer within 3 s')), 3000);
    ack.port1.onmessage = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  controller.postMessage({ type: 'lora2gguf-download', id, name, size }, [data.port1, ack.port2]);
  await registered;
  // A navigation (not an <a download> click, which Chromium does not route through service
  // workers) in a hidden same-origin frame: the service worker answers it with an attachment.
  const frame = w.document.createElement('iframe');
  frame.hidden = true;
  frame.src = `${DOWNLOAD_PREFIX}${encodeURIComponent(id)}/${encodeURIComponent(name)}`;
  w.document.body.append(frame);
  // The frame is only the download's starter; remove it once the download has surely begun.
  setTimeout(() => frame.remove(), 60_000);
  return { port: data.port2, id };
}

/** Fail a streamed download whose conversion worker died (the browser then keeps no partial file). */
export function abortStreamDownload(id: string, w: Window = window): void {
  w.navigator.serviceWorker?.controller?.postMessage({ type: 'lora2gguf-download-abort', id });
}

/**
 * Where to save, by the rung the ladder chose (src/app/services/save-paths.ts). Call first thing
 * in the click handler: the save dialog needs the user's gesture.
 */
export async function saveTargetFor(rung: SaveRung, suggestedName: string, size: number, w: Window = window): Promise<SaveTarget> {
  if (rung === 'storage') return { kind: 'opfs', directory: TEMP_DIR, name: `${crypto.randomUUID()}.gguf` };
  if (rung === 'memory') return { kind: 'memory', name: suggestedName };
  if (rung === 'stream') return { kind: 'stream', name: suggestedName, ...(await startStreamDownload(suggestedName, size, w)) };
  return pickSaveTarget(suggestedName, w);
}

/**
 * Ask where to save with the save dialog. Resolves to an OPFS target when the browser has no
 * save picker.
 */
export async function pickSaveTarget(suggestedName: string, w: Window = window): Promise<SaveTarget> {
  const picker = (w as SavePickerWindow).showSaveFilePicker;
  if (typeof picker === 'function') {
    try {
      const handle = await picker.call(w, {
        suggestedName,
        types: [{ description: 'GGUF LoRA adapter', accept: { 'application/octet-stream': ['.gguf'] } }],
      });
      return { kind: 'handle', handle };
    } catch (e) {
      if ((e as { name?: string }).name === 'AbortError') throw new PickerCancelled('No file chosen.');
      throw e;
    }
  }
  return { kind: 'opfs', directory: TEMP_DIR, name: `${crypto.randomUUID()}.gguf` };
}

/**
 * Remove a picked file that is still empty: the picker created it, and the worker that was to
 * fill it ended before it could clean up (crashed, or terminated after cancel). A file with
 * content is left alone — it existed before, and the aborted writes never reached it.
 * `remove()` exists in Chromium only.
 */
export async function removePickedIfEmpty(handle: FileSystemFileHandle): Promise<void> {
  try {
    if ((await handle.getFile()).size !== 0) return;
    const remove = (handle as unknown as { remove?: () => Promise<void> }).remove;
    if (typeof remove === 'function') await whileLocked(() => remove.call(handle));
  } catch {
    // Gone already, or not ours to remove.
  }
}

/** Retry delays for a removal refused because a file is still open: a terminated worker releases its handles a moment later. */
const LOCKED_RETRY_MS = [50, 100, 200, 400, 800, 1600];

/**
 * Run `remove`, retrying while the file is still locked by a writer being torn down
 * (NoModificationAllowedError / InvalidStateError). Throws the last error when it never succeeds.
 */
export async function whileLocked(remove: () => Promise<void>, delays: readonly number[] = LOCKED_RETRY_MS): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await remove();
      return;
    } catch (e) {
      const name = (e as { name?: string }).name;
      if ((name !== 'NoModificationAllowedError' && name !== 'InvalidStateError') || attempt >= delays.length) throw e;
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  }
}

/** Hold a lock on a temporary file's name until `release()`; no-op where Web Locks are missing. */
export function holdTempLock(name: string): () => void {
  const locks = navigator.locks;
  if (!locks) return () => undefined;
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  void locks.request(LOCK_PREFIX + name, () => held).catch(() => undefined);
  return release;
}

async function tempDir(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  if (!navigator.storage?.getDirectory) return null;
  const root = await navigator.storage.getDirectory();
  try {
    return await root.getDirectoryHandle(TEMP_DIR, { create });
  } catch {
    return null;
  }
}

/** The finished temporary output as a disk-backed File. */
export async function getTempFile(name: string): Promise<File> {
  const dir = await tempDir(false);
  if (!dir) throw new DOMException('The temporary output is gone.', 'NotFoundError');
  return (await dir.getFileHandle(name)).getFile();
}

/** Remove a temporary output; waits out a worker that still holds it open. Never throws. */
export async function removeTempFile(name: string): Promise<void> {
  const dir = await tempDir(false).catch(() => null);
  if (dir) await whileLocked(() => dir.removeEntry(name)).catch(() => undefined);
}

/** Remove temporary outputs no open tab holds (left by a closed tab). Returns how many. */
export async function cleanupTempFiles(): Promise<number> {
  const dir = await tempDir(false).catch(() => null);
  if (!dir) return 0;
  const held = new Set<string>();
  if (navigator.locks) {
    const snapshot = await navigator.locks.query();
    for (const l of [...(snapshot.held ?? []), ...(snapshot.pending ?? [])]) if (l.name?.startsWith(LOCK_PREFIX)) held.add(l.name.slice(LOCK_PREFIX.length));
  }
  let removed = 0;
  const names: string[] = [];
  for await (const name of (dir as FileSystemDirectoryHandle & { keys(): AsyncIterable<string> }).keys()) names.push(name);
  for (const name of names) {
    if (held.has(name)) continue;
    try {
      await dir.removeEntry(name);
      removed++;
    } catch {
      // In use by a worker right now (a sync access handle is open): not a leftover.
    }
  }
  return removed;
}

/** The names of the files in the temporary folder (for the tests and diagnostics). */
export async function listTempFiles(): Promise<string[]> {
  const dir = await tempDir(false).catch(() => null);
  if (!dir) return [];
  const names: string[] = [];
  for await (const name of (dir as FileSystemDirectoryHandle & { keys(): AsyncIterable<string> }).keys()) names.push(name);
  return names;
}
