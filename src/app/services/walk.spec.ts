// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { collectDropped, collectFileList, MAX_DEPTH, type DirectoryHandleLike, type EntryLike, type FileHandleLike } from './walk';

type Tree = { [name: string]: Tree | string };

function f(name: string, text: string): File {
  return new File([text], name);
}

/** A fake FileSystemDirectoryHandle tree (Chromium's getAsFileSystemHandle). */
function handles(name: string, tree: Tree): DirectoryHandleLike {
  return {
    kind: 'directory',
    name,
    async *values() {
      for (const [k, v] of Object.entries(tree)) {
        if (typeof v === 'string') yield { kind: 'file', name: k, getFile: async () => f(k, v) } satisfies FileHandleLike;
        else yield handles(k, v);
      }
    },
  };
}

/** A fake FileSystemEntry tree (webkitGetAsEntry), whose reader returns entries in batches like Chromium. */
function entries(name: string, tree: Tree, batch = 2): EntryLike {
  return {
    isFile: false,
    isDirectory: true,
    name,
    createReader() {
      const all: EntryLike[] = Object.entries(tree).map(([k, v]) =>
        typeof v === 'string'
          ? { isFile: true, isDirectory: false, name: k, file: (ok: (file: File) => void) => setTimeout(() => ok(f(k, v))) }
          : entries(k, v, batch),
      );
      let at = 0;
      return {
        readEntries(ok: (e: EntryLike[]) => void) {
          const chunk = all.slice(at, at + batch);
          at += batch;
          setTimeout(() => ok(chunk));
        },
      };
    },
  };
}

const adapterTree: Tree = {
  'adapter_config.json': '{}',
  'adapter_model.safetensors': 'x',
  'README.md': '#',
  base: { 'config.json': '{}' },
  '.git': { objects: { pack: 'big' } },
};

describe('directory walk', () => {
  test('a dropped folder through FileSystemHandles: paths, name, sub-folders, skipped .git', async () => {
    const c = await collectDropped([{ handle: Promise.resolve(handles('my-adapter', adapterTree)) }]);
    expect(c.rootName).toBe('my-adapter');
    expect(c.files.map((x) => x.path).sort()).toEqual([
      'my-adapter/README.md',
      'my-adapter/adapter_config.json',
      'my-adapter/adapter_model.safetensors',
      'my-adapter/base/config.json',
    ]);
    expect(await c.files.find((x) => x.path.endsWith('base/config.json'))!.file.text()).toBe('{}');
  });

  test('the same folder through webkitGetAsEntry, read in batches until an empty one', async () => {
    const c = await collectDropped([{ entry: entries('my-adapter', adapterTree, 2) }]);
    expect(c.rootName).toBe('my-adapter');
    expect(c.files.map((x) => x.path).sort()).toEqual([
      'my-adapter/README.md',
      'my-adapter/adapter_config.json',
      'my-adapter/adapter_model.safetensors',
      'my-adapter/base/config.json',
    ]);
  });

  test('the walk stops at MAX_DEPTH', async () => {
    let tree: Tree = { 'deep.json': '{}' };
    for (let i = 0; i < MAX_DEPTH + 2; i++) tree = { [`d${i}`]: tree, [`f${i}.json`]: '{}' };
    const c = await collectDropped([{ handle: Promise.resolve(handles('root', tree)) }]);
    const depths = c.files.map((x) => x.path.split('/').length - 1);
    expect(Math.max(...depths)).toBe(MAX_DEPTH);
    expect(c.files.some((x) => x.path.endsWith('deep.json'))).toBe(false);
  });

  test('several loose files: no root name; two folders: no root name either', async () => {
    const loose = await collectDropped([
      { file: f('adapter_config.json', '{}') },
      {
        handle: Promise.resolve({
          kind: 'file',
          name: 'adapter_model.safetensors',
          getFile: async () => f('adapter_model.safetensors', 'x'),
        } satisfies FileHandleLike),
      },
      // No handle and no entry (a synthetic drop): the captured File is used.
      { handle: Promise.resolve(null), entry: null, file: f('config.json', '{}') },
      { handle: Promise.resolve(null), entry: null, file: null },
    ]);
    expect(loose.rootName).toBeNull();
    expect(loose.files.map((x) => x.path)).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'config.json']);
    const two = await collectDropped([{ entry: entries('a', { 'x.json': '{}' }) }, { entry: entries('b', { 'y.json': '{}' }) }]);
    expect(two.rootName).toBeNull();
    expect(two.files.map((x) => x.path)).toEqual(['a/x.json', 'b/y.json']);
  });

  test('a folder picker FileList: root from webkitRelativePath, depth and .git filtered', () => {
    const withPath = (rel: string) => Object.assign(f(rel.split('/').pop()!, '{}'), { webkitRelativePath: rel });
    const c = collectFileList([
      withPath('run-1/adapter_config.json'),
      withPath('run-1/base/config.json'),
      withPath('run-1/.git/config'),
      withPath('run-1/a/b/c/d/e/too-deep.json'),
    ]);
    expect(c.rootName).toBe('run-1');
    expect(c.files.map((x) => x.path)).toEqual(['run-1/adapter_config.json', 'run-1/base/config.json']);
    const plain = collectFileList([f('adapter_config.json', '{}')]);
    expect(plain.rootName).toBeNull();
    expect(plain.files[0]!.path).toBe('adapter_config.json');
  });
});
