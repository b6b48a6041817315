/**
 * Recognise what each given file is by its content: JSON configs by their fields, safetensors by
 * the 8-byte header length and the tensor names in the header, GGUF and PyTorch pickles by their
 * magic bytes. Names only break ties (and name broken files so the core can explain them).
 * Reads a few bytes, or at most one bounded header, per file.
 */
import { isMlxAdapterConfig } from '../src/core/mlx/adapter';
import { readAdapterTensors } from '../src/core/plan';
import { blobSource } from './file-io';
import type { CandidateFile, FileKind, RecognizedFile } from './protocol';

/** JSON files bigger than this are not configs (tokenizer.json and friends); not read. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** A safetensors header bigger than this is not an adapter's; the core allows 100 MiB, we only sniff. */
export const MAX_SNIFF_HEADER_BYTES = 32 * 1024 * 1024;

/** PEFT's factor names (lora_A.weight, lora_embedding_B, …) and mlx-lm's (`….lora_a`, `….lora_b`). */
const LORA_NAME = /(^|\.)(lora_(A|B|embedding_A|embedding_B)(\.|$)|lora_[ab]$)/;

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

async function readBytes(blob: Blob, start: number, end: number): Promise<Uint8Array> {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

function result(c: CandidateFile, kind: FileKind, note: string, extra: Partial<RecognizedFile> = {}): RecognizedFile {
  return { path: c.path, size: c.file.size, kind, note, ...extra };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function classifyJson(c: CandidateFile, json: unknown): RecognizedFile {
  if (!isObject(json)) return result(c, 'other_json', 'a JSON file that is not a configuration');
  if (isMlxAdapterConfig(json)) {
    const model = typeof json['model'] === 'string' ? json['model'] : null;
    const type = typeof json['fine_tune_type'] === 'string' ? json['fine_tune_type'] : 'lora';
    return result(c, 'adapter_config', `MLX adapter configuration (mlx-lm, ${type})${model ? ` for ${model}` : ''}`, { baseModel: model, detail: 'MLX' });
  }
  if (typeof json['peft_type'] === 'string' || (typeof json['r'] === 'number' && 'target_modules' in json)) {
    const peftType = typeof json['peft_type'] === 'string' ? json['peft_type'] : 'LORA';
    const base = typeof json['base_model_name_or_path'] === 'string' ? json['base_model_name_or_path'] : null;
    return result(c, 'adapter_config', `PEFT ${peftType} adapter configuration${base ? ` for ${base}` : ''}`, { baseModel: base, detail: peftType });
  }
  if (isObject(json['weight_map'])) {
    return result(c, 'base_weights_index', 'the index of a sharded model checkpoint (full model weights)');
  }
  const archs = json['architectures'];
  if ((Array.isArray(archs) && typeof archs[0] === 'string') || (typeof json['model_type'] === 'string' && ('hidden_size' in json || 'text_config' in json))) {
    const arch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : String(json['model_type']);
    return result(c, 'base_config', `model configuration (${arch})`, { detail: arch });
  }
  if ('added_tokens' in json || 'tokenizer_class' in json || ('model' in json && 'normalizer' in json)) {
    return result(c, 'tokenizer', 'tokenizer files (not needed)');
  }
  return result(c, 'other_json', 'a JSON file that is not a configuration (not needed)');
}

async function recognizeOne(c: CandidateFile): Promise<RecognizedFile> {
  const name = baseName(c.path).toLowerCase();
  const size = c.file.size;
  if (size === 0) return result(c, 'unknown', 'an empty file');
  const head = await readBytes(c.file, 0, Math.min(size, 16));
  const ascii = String.fromCharCode(...head.subarray(0, 4));
  if (ascii === 'GGUF') return result(c, 'gguf', 'already a GGUF file');
  if ((head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) || (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5)) {
    // PyTorch .bin: the core reads these safely (an allow-list unpickler, tensors read lazily).
    try {
      const { tensors } = await readAdapterTensors(blobSource(c.file));
      const lora = tensors.filter((t) => LORA_NAME.test(t.name)).length;
      if (lora > 0) return result(c, 'adapter_weights', `LoRA weights (PyTorch .bin): ${tensors.length} tensors`, { detail: String(tensors.length) });
      return result(c, 'base_weights', `PyTorch model weights without LoRA tensors (${tensors.length} tensors)`);
    } catch (e) {
      return result(c, 'pickle', `a PyTorch pickle file that cannot be read safely (${(e as Error).message})`);
    }
  }

  // JSON: the first non-blank byte is '{'.
  const firstNonBlank = head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0xef && b !== 0xbb && b !== 0xbf);
  if (firstNonBlank === 0x7b /* { */ && (size > 8 ? !looksLikeSafetensors(head, size) : true)) {
    if (size > MAX_CONFIG_BYTES) return result(c, 'other_json', 'a large JSON file (not a configuration)');
    const text = await c.file.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // A broken config: keep its role by name, so the core's error names the file and the problem.
      if (name === 'adapter_config.json') return result(c, 'adapter_config', 'adapter_config.json, but it is not valid JSON', { baseModel: null });
      if (name === 'config.json') return result(c, 'base_config', 'config.json, but it is not valid JSON');
      return result(c, 'other_json', 'not valid JSON');
    }
    return classifyJson(c, json);
  }

  if (size >= 8 && looksLikeSafetensors(head, size)) {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const headerLength = Number(view.getBigUint64(0, true));
    if (headerLength > MAX_SNIFF_HEADER_BYTES) {
      return result(c, 'base_weights', 'a safetensors file with a very large header (full model weights)');
    }
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readBytes(c.file, 8, 8 + headerLength)));
    } catch {
      return result(c, 'malformed_safetensors', 'a safetensors file whose header is not valid JSON');
    }
    if (!isObject(header)) return result(c, 'malformed_safetensors', 'a safetensors file whose header is not a JSON object');
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const lora = names.filter((n) => LORA_NAME.test(n)).length;
    const meta = (header as Record<string, unknown>)['__metadata__'];
    const mlx = (isObject(meta) && meta['format'] === 'mlx') || names.some((n) => /\.lora_[ab]$/.test(n));
    if (lora > 0) return result(c, 'adapter_weights', `${mlx ? 'MLX LoRA weights (mlx-lm)' : 'LoRA weights'}: ${names.length} tensors`, { detail: String(names.length) });
    if (names.length === 0) return result(c, 'malformed_safetensors', 'a safetensors file with no tensors');
    return result(c, 'base_weights', `model weights without LoRA tensors (${names.length} tensors)`);
  }

  if (name.endsWith('.safetensors')) {
    // Named like one but the header length does not fit the file: truncated or corrupt.
    return result(c, 'malformed_safetensors', 'named .safetensors, but its header length does not fit the file (truncated or corrupt)');
  }
  return result(c, 'unknown', 'not a file the conversion needs');
}

/** A plausible safetensors start: header length fits in the file, and the header begins with '{'. */
function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.byteLength < 9) return false;
  const n = new DataView(head.buffer, head.byteOffset, head.byteLength).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(size - 8) && head[8] === 0x7b;
}

/** Recognise every file; a file that cannot be read is reported, never thrown. */
export async function recognizeFiles(files: readonly CandidateFile[]): Promise<RecognizedFile[]> {
  const out: RecognizedFile[] = [];
  for (const c of files) {
    try {
      out.push(await recognizeOne(c));
    } catch (e) {
      out.push(result(c, 'unknown', `could not be read (${(e as Error).message})`));
    }
  }
  return out;
}
