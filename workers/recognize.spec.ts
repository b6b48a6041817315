import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REFERENCE, FIXTURES } from '../test/helpers/fixtures';
import { buildSafetensors, headerPrefix, concatBytes } from '../test/helpers/safetensors-build';
import type { CandidateFile } from './protocol';
import { recognizeFiles } from './recognize';

function file(path: string, content: Uint8Array | string): CandidateFile {
  return { path, file: new File([content as BlobPart], path.split('/').pop()!) };
}

const enc = new TextEncoder();
const adapterConfig = JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['q_proj'], base_model_name_or_path: 'org/base-7b' });
const baseConfig = JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64 });
const loraWeights = buildSafetensors([
  { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', dtype: 'F32', shape: [2, 4] },
  { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', dtype: 'F32', shape: [4, 2] },
]);
const modelWeights = buildSafetensors([{ name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F32', shape: [4, 4] }]);

describe('recognizeFiles: by content, not by name', () => {
  test('configs and weights are recognised under any name', async () => {
    const out = await recognizeFiles([
      file('x/whatever.json', adapterConfig),
      file('x/model-info.json', baseConfig),
      file('x/weights.bin.safetensors', loraWeights),
      file('x/renamed.dat', modelWeights),
    ]);
    expect(out.map((r) => r.kind)).toEqual(['adapter_config', 'base_config', 'adapter_weights', 'base_weights']);
    expect(out[0]!.baseModel).toBe('org/base-7b');
    expect(out[1]!.detail).toBe('LlamaForCausalLM');
    expect(out[2]!.detail).toBe('2');
  });

  test("mlx-lm's files: the training arguments are an adapter config naming its model; lora_a / lora_b weights are adapter weights", async () => {
    const mlxConfig = JSON.stringify({ model: 'mlx-community/Llama-3.2-1B-Instruct-4bit', fine_tune_type: 'lora', num_layers: 16, lora_parameters: { rank: 8, scale: 20, dropout: 0 } });
    const mlxWeights = buildSafetensors([
      { name: 'model.layers.15.self_attn.q_proj.lora_a', dtype: 'F32', shape: [4, 2] },
      { name: 'model.layers.15.self_attn.q_proj.lora_b', dtype: 'F32', shape: [2, 4] },
    ]);
    const out = await recognizeFiles([file('adapters/adapter_config.json', mlxConfig), file('adapters/0000100_adapters.safetensors', mlxWeights)]);
    expect(out.map((r) => r.kind)).toEqual(['adapter_config', 'adapter_weights']);
    expect(out[0]).toMatchObject({ baseModel: 'mlx-community/Llama-3.2-1B-Instruct-4bit', detail: 'MLX', note: 'MLX adapter configuration (mlx-lm, lora) for mlx-community/Llama-3.2-1B-Instruct-4bit' });
    expect(out[1]!.note).toBe('MLX LoRA weights (mlx-lm): 2 tensors');
  });

  test('a config.json that is really an adapter config is an adapter config', async () => {
    const [r] = await recognizeFiles([file('config.json', adapterConfig)]);
    expect(r!.kind).toBe('adapter_config');
  });

  test('an adapter_model.safetensors without LoRA tensors is model weights', async () => {
    const [r] = await recognizeFiles([file('adapter_model.safetensors', modelWeights)]);
    expect(r!.kind).toBe('base_weights');
  });

  test('truncated, garbage-header and empty safetensors are reported as such', async () => {
    const truncated = loraWeights.slice(0, 40);
    const garbageJson = concatBytes(headerPrefix(8), enc.encode('{"a":1,,'));
    const out = await recognizeFiles([
      file('adapter_model.safetensors', truncated),
      file('b.safetensors', garbageJson),
      file('empty.safetensors', new Uint8Array(0)),
    ]);
    expect(out.map((r) => r.kind)).toEqual(['malformed_safetensors', 'malformed_safetensors', 'unknown']);
    expect(out[0]!.note).toMatch(/truncated or corrupt/);
  });

  test('GGUF, sharded-checkpoint index, tokenizer and broken JSON', async () => {
    const out = await recognizeFiles([
      file('a.gguf', concatBytes(enc.encode('GGUF'), new Uint8Array(20))),
      file('model.safetensors.index.json', JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001.safetensors' } })),
      file('tokenizer.json', JSON.stringify({ version: '1.0', added_tokens: [], model: {} })),
      file('adapter_config.json', '{"peft_type": "LORA", '),
      file('notes.json', '{oops'),
    ]);
    expect(out.map((r) => r.kind)).toEqual(['gguf', 'base_weights_index', 'tokenizer', 'adapter_config', 'other_json']);
    expect(out[3]!.note).toMatch(/not valid JSON/);
  });

  test('PyTorch .bin adapters are read by the core; malicious pickles are not executed, only reported', async () => {
    const bin = join(FIXTURES, 'bin');
    const out = await recognizeFiles([
      file('adapter_model.bin', new Uint8Array(readFileSync(join(bin, 'adapter_fp32.bin')))),
      file('evil.bin', new Uint8Array(readFileSync(join(bin, 'malicious_os_system.bin')))),
    ]);
    expect(out[0]!.kind).toBe('adapter_weights');
    expect(out[1]!.kind).toBe('pickle');
  });

  test('a reference fixture folder', async () => {
    const dir = join(REFERENCE, 'llama_bf16_f16', 'input');
    const out = await recognizeFiles(
      ['adapter_config.json', 'adapter_model.safetensors', 'base/config.json'].map((p) => file(`input/${p}`, new Uint8Array(readFileSync(join(dir, p))))),
    );
    expect(out.map((r) => r.kind)).toEqual(['adapter_config', 'adapter_weights', 'base_config']);
  });
});
