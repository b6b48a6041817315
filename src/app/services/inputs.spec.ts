import { describe, expect, test } from 'vitest';
import type { CandidateFile, FileKind, RecognizedFile } from '../../../workers/protocol';
import { selectInputs } from './inputs';

function rec(path: string, kind: FileKind, extra: Partial<RecognizedFile> = {}): RecognizedFile {
  return { path, size: 1, kind, note: kind, ...extra };
}
function cands(list: RecognizedFile[]): CandidateFile[] {
  return list.map((r) => ({ path: r.path, file: new File(['x'], r.path.split('/').pop()!) }));
}
function select(list: RecognizedFile[]) {
  return selectInputs(list, cands(list));
}

describe('selectInputs', () => {
  test('a complete adapter folder: the three files, no problems', () => {
    const s = select([
      rec('a/adapter_config.json', 'adapter_config', { baseModel: 'org/m' }),
      rec('a/adapter_model.safetensors', 'adapter_weights'),
      rec('a/base/config.json', 'base_config'),
    ]);
    expect([s.adapterConfig?.path, s.adapter?.path, s.baseConfig?.path]).toEqual([
      'a/adapter_config.json',
      'a/adapter_model.safetensors',
      'a/base/config.json',
    ]);
    expect(s.baseModel).toBe('org/m');
    expect(s.problems).toEqual([]);
  });

  test('a base model folder: "this looks like a base model, not an adapter"', () => {
    const s = select([rec('m/config.json', 'base_config'), rec('m/model.safetensors', 'base_weights'), rec('m/tokenizer.json', 'tokenizer')]);
    expect(s.problems.map((p) => p.id)).toEqual(['base_model_not_adapter']);
    expect(s.problems[0]!.message).toMatch(/looks like a base model, not an adapter/);
    expect(s.problems[0]!.blocking).toBe(true);
  });

  test('weights without adapter_config.json: "no adapter_config.json"', () => {
    const s = select([rec('adapter_model.safetensors', 'adapter_weights')]);
    expect(s.problems.map((p) => p.id)).toEqual(['no_adapter_config']);
    expect(s.problems[0]!.message).toMatch(/No adapter_config\.json/);
  });

  test('config without weights; damaged weights; unreadable pickle', () => {
    expect(select([rec('adapter_config.json', 'adapter_config')]).problems.map((p) => p.id)).toEqual(['no_adapter_weights']);
    expect(select([rec('adapter_config.json', 'adapter_config'), rec('adapter_model.safetensors', 'malformed_safetensors')]).problems.map((p) => p.id)).toEqual(
      ['malformed_safetensors'],
    );
    expect(select([rec('adapter_config.json', 'adapter_config'), rec('adapter_model.bin', 'pickle')]).problems.map((p) => p.id)).toEqual(['pickle_adapter']);
  });

  test('nothing usable, and a GGUF given instead of an adapter', () => {
    expect(select([rec('notes.txt', 'unknown')]).problems.map((p) => p.id)).toEqual(['no_adapter_config', 'nothing_usable']);
    const g = select([rec('x.gguf', 'gguf')]);
    expect(g.problems.find((p) => p.id === 'gguf_given')?.blocking).toBe(true);
  });

  test('several adapters: the one beside the chosen config, canonical names first, with a note', () => {
    const s = select([
      rec('run/checkpoint-100/adapter_config.json', 'adapter_config'),
      rec('run/checkpoint-100/adapter_model.safetensors', 'adapter_weights'),
      rec('run/adapter_config.json', 'adapter_config'),
      rec('run/adapter_model.safetensors', 'adapter_weights'),
      rec('run/adapter_model.bin', 'adapter_weights'),
    ]);
    expect(s.adapterConfig?.path).toBe('run/adapter_config.json');
    expect(s.adapter?.path).toBe('run/adapter_model.safetensors');
    expect(s.problems.map((p) => [p.id, p.blocking])).toEqual([['several_adapters', false]]);
  });

  test('an mlx_lm.lora folder: adapters.safetensors over its numbered checkpoints, with a note', () => {
    const s = select([
      rec('adapters/0000100_adapters.safetensors', 'adapter_weights'),
      rec('adapters/adapter_config.json', 'adapter_config', { baseModel: 'mlx-community/Llama-3.2-1B-Instruct-4bit' }),
      rec('adapters/adapters.safetensors', 'adapter_weights'),
      rec('adapters/0001000_adapters.safetensors', 'adapter_weights'),
    ]);
    expect(s.adapter?.path).toBe('adapters/adapters.safetensors');
    expect(s.baseModel).toBe('mlx-community/Llama-3.2-1B-Instruct-4bit');
    expect(s.problems).toMatchObject([
      { id: 'several_adapters', blocking: false, message: "Using adapters/adapters.safetensors, mlx-lm's final weights; the 2 numbered checkpoints beside it are not converted." },
    ]);
  });

  test('mlx-lm checkpoints only: the latest step (by number, not by name order), with a note', () => {
    const s = select([
      rec('adapters/adapter_config.json', 'adapter_config'),
      rec('adapters/0000900_adapters.safetensors', 'adapter_weights'),
      rec('adapters/0001000_adapters.safetensors', 'adapter_weights'),
      rec('adapters/0000100_adapters.safetensors', 'adapter_weights'),
    ]);
    expect(s.adapter?.path).toBe('adapters/0001000_adapters.safetensors');
    expect(s.problems[0]!.message).toBe("No adapters.safetensors: using mlx-lm's latest checkpoint, adapters/0001000_adapters.safetensors (step 1000, of 3).");
  });

  test('no base config: selection says which base the adapter names', () => {
    const s = select([
      rec('adapter_config.json', 'adapter_config', { baseModel: 'meta-llama/Llama-3.2-1B' }),
      rec('adapter_model.safetensors', 'adapter_weights'),
    ]);
    expect(s.baseConfig).toBeNull();
    expect(s.baseModel).toBe('meta-llama/Llama-3.2-1B');
    expect(s.problems).toEqual([]);
  });
});
