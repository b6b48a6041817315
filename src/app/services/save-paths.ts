/**
 * The ladder of save paths, chosen by feature detection before Convert (probed at start-up):
 *
 *   1. picker  — the save dialog (File System Access), where it exists;
 *   2. storage — the origin-private file system, when getDirectory() works and its free quota
 *                holds the planned output; then a Download link;
 *   3. stream  — a download streamed through the app's service worker (public/download-sw.js):
 *                no memory, no quota; wherever a service worker controls the page;
 *   4. memory  — a Blob in memory, then a Download link, for outputs up to MEMORY_LIMIT_BYTES.
 *
 * One exception to the order: a streamed download that fails or is cancelled is removed by
 * Chromium and Firefox, but WebKit keeps the part it received under the final name — a
 * finished-looking partial file. There, memory comes before the stream for outputs that fit, and
 * a larger output still streams, with that caveat said before Convert.
 *
 * Each rung the browser lacks is named with its reason, so a refusal says what to do instead of
 * "Something unexpected" after the user has chosen everything.
 */
import { ConversionError } from '../../core/light';
import { hasSavePicker } from './save';

export type SaveRung = 'picker' | 'storage' | 'stream' | 'memory';

/** The largest output kept in memory (the last rung): beyond it a tab risks running out of memory. */
export const MEMORY_LIMIT_BYTES = 512 * 1024 * 1024;
/** Room kept free in private storage besides the output (the browser's own bookkeeping). */
const STORAGE_MARGIN_BYTES = 16 * 1024 * 1024;
/** How long the service worker may take to answer the probe. */
const SW_PING_MS = 1500;

export interface SavePathProbe {
  picker: boolean;
  storage: { ok: true; freeBytes: number | null } | { ok: false; reason: string };
  stream: { ok: true; removesFailed: boolean } | { ok: false; reason: string };
  memoryLimitBytes: number;
}

export interface SaveChoice {
  rung: SaveRung;
  /** "Saves to: …" in the preflight. */
  label: string;
  /** Why the rungs above were passed over (shown under the label). */
  passedOver: string[];
  /** What to know before converting this way (a streamed download a browser keeps when it fails). */
  caveat?: string;
}

const MB = 1024 * 1024;
const mb = (n: number) => `${Math.ceil(n / MB)} MB`;

export const RUNG_LABELS: Record<SaveRung, string> = {
  picker: 'a file you choose',
  storage: 'browser storage, then Download',
  stream: 'streamed straight to Downloads',
  memory: `memory, then Download — up to ${MEMORY_LIMIT_BYTES / MB} MB`,
};

/** What a browser offers, for the probe (the real globals by default; tests pass fakes). */
export interface ProbeEnv {
  window: Window;
  userAgent: string;
  storage: StorageManager | undefined;
  serviceWorker: ServiceWorkerContainer | undefined;
}

const defaultEnv = (): ProbeEnv => ({
  window,
  userAgent: typeof navigator !== 'undefined' ? navigator.userAgent : '',
  storage: typeof navigator !== 'undefined' ? navigator.storage : undefined,
  serviceWorker: typeof navigator !== 'undefined' && 'serviceWorker' in navigator ? navigator.serviceWorker : undefined,
});

async function probeStorage(storage: StorageManager | undefined): Promise<SavePathProbe['storage']> {
  if (!storage || typeof storage.getDirectory !== 'function') return { ok: false, reason: 'this browser has no private file storage (origin-private file system)' };
  try {
    await storage.getDirectory();
  } catch (e) {
    const name = (e as { name?: string }).name ?? 'Error';
    return { ok: false, reason: `the browser refused its private file storage (${name}; private windows often do)` };
  }
  try {
    const { quota, usage } = await storage.estimate();
    return { ok: true, freeBytes: quota === undefined ? null : Math.max(0, quota - (usage ?? 0)) };
  } catch {
    return { ok: true, freeBytes: null };
  }
}

/** Engines known to delete a download that fails or is cancelled (Chromium's .crdownload, Firefox's .part). */
export function removesFailedDownloads(userAgent: string): boolean {
  return /(Chrome|Chromium|Firefox)\//.test(userAgent);
}

/** Whether a service worker that knows the streamed-download protocol controls the page. */
async function probeStream(sw: ServiceWorkerContainer | undefined, userAgent: string): Promise<SavePathProbe['stream']> {
  if (!sw) return { ok: false, reason: 'this browser has no service workers here (private windows often disable them)' };
  const controller = sw.controller;
  if (!controller) return { ok: false, reason: 'the app’s service worker does not control this page yet (reload once to enable it)' };
  const answered = await new Promise<boolean>((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), SW_PING_MS);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve((e.data as { type?: string } | null)?.type === 'pong');
    };
    controller.postMessage({ type: 'lora2gguf-download-ping' }, [channel.port2]);
  });
  return answered ? { ok: true, removesFailed: removesFailedDownloads(userAgent) } : { ok: false, reason: 'the app’s service worker is an older version without streamed downloads (reload to update it)' };
}

/** Probe every rung (at start-up, and again when a service worker takes control). */
export async function probeSavePaths(env: ProbeEnv = defaultEnv()): Promise<SavePathProbe> {
  const [storage, stream] = await Promise.all([probeStorage(env.storage), probeStream(env.serviceWorker, env.userAgent)]);
  return { picker: hasSavePicker(env.window), storage, stream, memoryLimitBytes: MEMORY_LIMIT_BYTES };
}

/**
 * The first rung that can take an output of `outputBytes`, with why the ones above it were passed
 * over; or a `save_unavailable` error naming every reason and what to do.
 */
export function chooseSavePath(probe: SavePathProbe, outputBytes: number): SaveChoice {
  const passedOver: string[] = [];
  if (probe.picker) return { rung: 'picker', label: RUNG_LABELS.picker, passedOver };
  passedOver.push('no save dialog in this browser');
  if (probe.storage.ok) {
    const free = probe.storage.freeBytes;
    if (free === null || free >= outputBytes + STORAGE_MARGIN_BYTES) return { rung: 'storage', label: RUNG_LABELS.storage, passedOver };
    passedOver.push(`browser storage has ${mb(free)} free, the output needs ${mb(outputBytes + STORAGE_MARGIN_BYTES)}`);
  } else {
    passedOver.push(probe.storage.reason);
  }
  const fits = outputBytes <= probe.memoryLimitBytes;
  if (probe.stream.ok && probe.stream.removesFailed) return { rung: 'stream', label: RUNG_LABELS.stream, passedOver };
  if (!probe.stream.ok) passedOver.push(probe.stream.reason);
  else if (fits) passedOver.push('this browser keeps the part of a streamed download that fails or is cancelled, so memory is safer for an output this size');
  if (fits) return { rung: 'memory', label: RUNG_LABELS.memory, passedOver };
  if (probe.stream.ok) {
    return {
      rung: 'stream',
      label: RUNG_LABELS.stream,
      passedOver: [...passedOver, `the output (${mb(outputBytes)}) is larger than the ${mb(probe.memoryLimitBytes)} this page keeps in memory`],
      caveat: 'If the conversion fails or you cancel it, this browser may keep the part already downloaded under the final name: delete that file.',
    };
  }
  passedOver.push(`the output (${mb(outputBytes)}) is larger than the ${mb(probe.memoryLimitBytes)} this page keeps in memory`);
  throw new ConversionError(
    'save_unavailable',
    `This browser offers no way to save a ${mb(outputBytes)} file here: ${passedOver.join('; ')}.`,
    { outputBytes },
    'Use a normal (not private) window of a current Chromium, Firefox or Safari, free some disk space, choose a smaller output type (q8_0), or use the command-line tool (npx lora2gguf).',
  );
}
