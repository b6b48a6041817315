import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const REFERENCE = join(FIXTURES, 'reference');

export interface ExpectedTensor {
  name: string;
  ne: number[];
  shape: number[];
  ggml_type: string;
  ggml_type_id: number;
  n_elements: number;
  n_bytes: number;
  offset: number;
  sha256: string;
}
export interface ExpectedKv {
  key: string;
  type: string;
  value: unknown;
  value_hex?: string;
}
export interface ExpectedOk {
  file: { size: number; sha256: string; tensor_count: number; kv_count: number; alignment: number; tensor_data_offset: number };
  kv: ExpectedKv[];
  tensors: ExpectedTensor[];
}
export interface ExpectedError {
  error: string;
  reference_message: string;
  exit_code: number;
}
export interface ReferenceCase {
  name: string;
  dir: string;
  outtype: string;
  outcome: 'ok' | 'error';
  architecture: string;
  description: string;
  adapterDirName: string;
  expected: ExpectedOk | ExpectedError;
}

export function referenceCases(): ReferenceCase[] {
  const index = JSON.parse(readFileSync(join(REFERENCE, 'index.json'), 'utf8')) as {
    cases: { case: string; outtype: string; outcome: 'ok' | 'error'; architecture: string; description: string }[];
  };
  return index.cases.map((c) => {
    const dir = join(REFERENCE, c.case);
    const run = JSON.parse(readFileSync(join(dir, 'reference_run.json'), 'utf8')) as { invocation: { adapter_dir_name: string } };
    return {
      name: c.case,
      dir,
      outtype: c.outtype,
      outcome: c.outcome,
      architecture: c.architecture,
      description: c.description,
      adapterDirName: run.invocation.adapter_dir_name,
      expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as ExpectedOk | ExpectedError,
    };
  });
}

export function caseInput(c: ReferenceCase): { adapterConfig: string; baseConfig: string; adapter: Uint8Array } {
  const input = join(c.dir, 'input');
  return {
    adapterConfig: readFileSync(join(input, 'adapter_config.json'), 'utf8'),
    baseConfig: readFileSync(join(input, 'base', 'config.json'), 'utf8'),
    adapter: new Uint8Array(readFileSync(join(input, 'adapter_model.safetensors'))),
  };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function listDirs(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
    : [];
}

/** The base config.json the torch.save fixtures in test/fixtures/bin were made for (a tiny Llama). */
export const BIN_FIXTURE_BASE = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 8,
  intermediate_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  tie_word_embeddings: false,
});
/** Their adapter_config.json (r = 4, alpha = 8). */
export const BIN_FIXTURE_CONFIG = JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8 });
