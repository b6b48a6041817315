/**
 * Tiny base-model GGUF files, written with the project's own GGUF header writer and tensor data
 * laid out here (F32, each tensor padded to the alignment).
 */
import { alignUp, serializeGgufHeader, type GgufKv, type GgufTensorInfo } from '../../../src/core/gguf/writer';
import type { Tensor } from './tensor';

/** A GGUF tensor: name and an HF-order (row-major, slowest first) tensor; ne is its shape reversed. */
export interface GgufTensor {
  name: string;
  tensor: Tensor;
}

/** Token ids of the tiny vocabulary. */
export const UNK = 0;
export const BOS = 1;
export const EOS = 2;

/**
 * A minimal SentencePiece ("llama") vocabulary: <unk>, <s>, </s>, the 256 byte tokens and a few
 * word pieces, `size` tokens in all. llama.cpp needs nothing more to load a model.
 */
export function spmVocabKvs(size = 300): GgufKv[] {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // UNKNOWN, CONTROL, CONTROL
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // BYTE
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; tokens.length < size; i++) {
    const piece = i < 26 ? `\u2581${letters[i]}` : `${letters[i % 26]}${letters[Math.floor(i / 26) % 26]}`;
    tokens.push(piece);
    types.push(1); // NORMAL
  }
  return [
    { key: 'tokenizer.ggml.model', type: 'STRING', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'ARRAY', itemType: 'STRING', value: tokens },
    { key: 'tokenizer.ggml.scores', type: 'ARRAY', itemType: 'FLOAT32', value: tokens.map((_, i) => -i) },
    { key: 'tokenizer.ggml.token_type', type: 'ARRAY', itemType: 'INT32', value: types },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'UINT32', value: UNK },
    { key: 'tokenizer.ggml.bos_token_id', type: 'UINT32', value: BOS },
    { key: 'tokenizer.ggml.eos_token_id', type: 'UINT32', value: EOS },
  ];
}

/** Serialize a GGUF model: header by src/core/gguf/writer.ts, F32 data here. */
export function writeGgufModel(kvs: GgufKv[], tensors: GgufTensor[]): Uint8Array {
  const infos: GgufTensorInfo[] = [];
  let offset = 0;
  for (const t of tensors) {
    infos.push({ name: t.name, ne: t.tensor.shape.slice().reverse(), type: 'F32', offset });
    offset = alignUp(offset + t.tensor.data.length * 4);
  }
  const header = serializeGgufHeader(kvs, infos);
  const out = new Uint8Array(header.byteLength + offset);
  out.set(header, 0);
  const view = new DataView(out.buffer);
  tensors.forEach((t, i) => {
    const at = header.byteLength + infos[i]!.offset;
    t.tensor.data.forEach((v, j) => view.setFloat32(at + j * 4, v, true));
  });
  return out;
}

/**
 * A GGUF LoRA written directly by the test (not by the core), for files the core refuses to
 * write but whose effect in llama.cpp a test wants to show. Factors in HF layout: A (r, in),
 * B (out, r); GGUF `<name>.weight.lora_a` has ne [in, r], `lora_b` ne [r, out].
 */
export function writeLoraGguf(arch: string, alpha: number, pairs: { name: string; a: Tensor; b: Tensor }[]): Uint8Array {
  const kvs: GgufKv[] = [
    { key: 'general.architecture', type: 'STRING', value: arch },
    { key: 'general.type', type: 'STRING', value: 'adapter' },
    { key: 'adapter.type', type: 'STRING', value: 'lora' },
    { key: 'adapter.lora.alpha', type: 'FLOAT32', value: alpha },
  ];
  const tensors: GgufTensor[] = pairs.flatMap((p) => [
    { name: `${p.name}.weight.lora_a`, tensor: p.a },
    { name: `${p.name}.weight.lora_b`, tensor: p.b },
  ]);
  return writeGgufModel(kvs, tensors);
}
