import { describe, expect, test } from 'vitest';
import type { CandidateFile, RecognizedFile } from '../../../workers/protocol';
import { batchCandidates, rankOf } from './batch';

const rec = (path: string, kind: RecognizedFile['kind'], size = 10, baseModel?: string): RecognizedFile => ({ path, kind, size, note: '', baseModel });
const files = (r: RecognizedFile[]): CandidateFile[] => r.map((x) => ({ path: x.path, file: new File([], x.path.split('/').pop()!) }));

describe('batchCandidates', () => {
  test('each checkpoint folder with a config and weights, in step order, named after its folder', () => {
    const r = [
      rec('run/checkpoint-1000/adapter_config.json', 'adapter_config', 10, 'org/base'),
      rec('run/checkpoint-1000/adapter_model.safetensors', 'adapter_weights', 2000),
      rec('run/checkpoint-500/adapter_config.json', 'adapter_config', 10, 'org/base'),
      rec('run/checkpoint-500/adapter_model.safetensors', 'adapter_weights', 1000),
      rec('run/checkpoint-500/optimizer.pt', 'pickle'),
      rec('run/broken/adapter_config.json', 'adapter_config'),
      rec('run/logs/events.json', 'other_json'),
    ];
    const c = batchCandidates(r, files(r), 'run');
    expect(c.map((x) => [x.label, x.step, x.size, x.baseModel])).toEqual([
      ['checkpoint-500', 500, 1000, 'org/base'],
      ['checkpoint-1000', 1000, 2000, 'org/base'],
    ]);
  });

  test("an mlx-lm folder: its final weights, and each numbered checkpoint as its own entry; the rank from either config", () => {
    const r = [
      rec('a/adapter_config.json', 'adapter_config'),
      rec('a/0000200_adapters.safetensors', 'adapter_weights'),
      rec('a/0000100_adapters.safetensors', 'adapter_weights'),
      rec('a/adapters.safetensors', 'adapter_weights'),
    ];
    const c = batchCandidates(r, files(r), 'a');
    expect(c.map((x) => [x.label, x.step, x.weights.path])).toEqual([
      ['a', null, 'a/adapters.safetensors'],
      ['a-step100', 100, 'a/0000100_adapters.safetensors'],
      ['a-step200', 200, 'a/0000200_adapters.safetensors'],
    ]);
    expect(rankOf('{"r": 16}')).toBe(16);
    expect(rankOf('{"lora_parameters": {"rank": 8}}')).toBe(8);
    expect(rankOf('not json')).toBeNull();
  });
});
