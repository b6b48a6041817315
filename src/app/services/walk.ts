/**
 * Turn what the user gave (a dropped folder, dropped files, a file or folder picker's FileList)
 * into a flat list of files with paths. Dropped folders are walked with the File System Access
 * API where it exists (`getAsFileSystemHandle`) and with the older entries API elsewhere
 * (`webkitGetAsEntry`). The walk is bounded: a dropped model folder can be huge.
 */
import type { CandidateFile } from '../../../workers/protocol';

/** How deep into sub-folders we look (adapter/checkpoint-100/base/config.json is 3). */
export const MAX_DEPTH = 4;
/** Stop collecting after this many files. */
export const MAX_FILES = 500;
/** Folders nobody keeps an adapter in, and that can be enormous. */
const SKIP_DIRS = new Set(['.git', 'node_modules', '.cache', '__pycache__', '.ipynb_checkpoints']);

export interface Collected {
  /** The dropped folder's name, or the common top folder of the picked files; null for loose files. */
  rootName: string | null;
  files: CandidateFile[];
  /** True when the walk stopped at MAX_FILES. */
  truncated: boolean;
}

/* The two directory APIs, typed with just what the walk uses (so tests can fake them). */
export interface DirectoryHandleLike {
  kind: 'directory';
  name: string;
  values(): AsyncIterable<DirectoryHandleLike | FileHandleLike>;
}
export interface FileHandleLike {
  kind: 'file';
  name: string;
  getFile(): Promise<File>;
}
export interface EntryLike {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?(success: (f: File) => void, failure?: (e: unknown) => void): void;
  createReader?(): { readEntries(success: (entries: EntryLike[]) => void, failure?: (e: unknown) => void): void };
}

class Collector {
  files: CandidateFile[] = [];
  truncated = false;
  get full(): boolean {
    return this.files.length >= MAX_FILES;
  }
  add(path: string, file: File): void {
    if (this.full) {
      this.truncated = true;
      return;
    }
    this.files.push({ path, file });
  }
}

async function walkHandle(dir: DirectoryHandleLike, prefix: string, depth: number, out: Collector): Promise<void> {
  for await (const child of dir.values()) {
    if (out.full) {
      out.truncated = true;
      return;
    }
    const path = `${prefix}/${child.name}`;
    if (child.kind === 'file') out.add(path, await child.getFile());
    else if (depth < MAX_DEPTH && !SKIP_DIRS.has(child.name)) await walkHandle(child, path, depth + 1, out);
  }
}

function entryFile(entry: EntryLike): Promise<File> {
  return new Promise((resolve, reject) => entry.file!(resolve, reject));
}

async function readAllEntries(entry: EntryLike): Promise<EntryLike[]> {
  const reader = entry.createReader!();
  const all: EntryLike[] = [];
  // readEntries returns the listing in batches (100 in Chromium) until an empty batch.
  for (;;) {
    const batch = await new Promise<EntryLike[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

async function walkEntry(entry: EntryLike, prefix: string, depth: number, out: Collector): Promise<void> {
  for (const child of await readAllEntries(entry)) {
    if (out.full) {
      out.truncated = true;
      return;
    }
    const path = `${prefix}/${child.name}`;
    if (child.isFile) out.add(path, await entryFile(child));
    else if (child.isDirectory && depth < MAX_DEPTH && !SKIP_DIRS.has(child.name)) await walkEntry(child, path, depth + 1, out);
  }
}

/**
 * One dropped item, captured synchronously during the drop event (the DataTransfer dies after
 * it). Every way to read it is captured at once, because the better ones can come back empty
 * (a synthetic or cross-application drop may have no file system handle or entry).
 */
export interface DroppedItem {
  handle?: Promise<DirectoryHandleLike | FileHandleLike | null>;
  entry?: EntryLike | null;
  file?: File | null;
}

/**
 * Capture the dropped items. Must be called synchronously inside the `drop` handler: the
 * browser empties the DataTransfer once the handler returns.
 */
export function captureDrop(dt: DataTransfer): DroppedItem[] {
  const list = dt.items ? Array.from(dt.items).filter((i) => i.kind === 'file') : [];
  if (list.length === 0) return Array.from(dt.files ?? []).map((file) => ({ file }));
  return list.map((item) => {
    const withHandle = item as DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileSystemHandle | null> };
    const handle =
      typeof withHandle.getAsFileSystemHandle === 'function'
        ? (withHandle.getAsFileSystemHandle() as Promise<DirectoryHandleLike | FileHandleLike | null>).catch(() => null)
        : undefined;
    const entry = typeof item.webkitGetAsEntry === 'function' ? (item.webkitGetAsEntry() as EntryLike | null) : null;
    return { handle, entry, file: item.getAsFile() };
  });
}

/** Walk captured drop items into files. One dropped folder names the result; otherwise no name. */
export async function collectDropped(items: DroppedItem[]): Promise<Collected> {
  const out = new Collector();
  const dirs: string[] = [];
  for (const item of items) {
    const handle = item.handle ? await item.handle : null;
    if (handle?.kind === 'directory') {
      dirs.push(handle.name);
      await walkHandle(handle, handle.name, 1, out);
    } else if (handle?.kind === 'file') {
      out.add(handle.name, await handle.getFile());
    } else if (item.entry?.isDirectory) {
      dirs.push(item.entry.name);
      await walkEntry(item.entry, item.entry.name, 1, out);
    } else if (item.entry?.isFile) {
      out.add(item.entry.name, await entryFile(item.entry));
    } else if (item.file) {
      out.add(item.file.name, item.file);
    }
  }
  return { rootName: dirs.length === 1 ? dirs[0]! : null, files: out.files, truncated: out.truncated };
}

/**
 * Files from an <input type=file> (with or without `webkitdirectory`). A folder picker gives
 * `webkitRelativePath` ("folder/sub/file"), whose first part names the folder.
 */
export function collectFileList(list: ArrayLike<File>): Collected {
  const out = new Collector();
  const roots = new Set<string>();
  const files = Array.from(list);
  for (const file of files) {
    const rel = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    const parts = rel.split('/');
    if (parts.length > 1) roots.add(parts[0]!);
    // The picker gives everything below the folder; apply the same depth bound as the drop walk.
    if (parts.length - 1 > MAX_DEPTH || parts.slice(0, -1).some((p) => SKIP_DIRS.has(p))) continue;
    out.add(rel, file);
  }
  return { rootName: roots.size === 1 ? [...roots][0]! : null, files: out.files, truncated: out.truncated };
}
