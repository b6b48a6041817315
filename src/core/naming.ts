import type { OutType } from './outtype';

/** llama.cpp-style output file name: `<name>-<OUTTYPE>-LoRA.gguf`, safe on every OS. */
export function defaultOutputFileName(name: string, outtype: OutType): string {
  const safe = name
    .trim()
    .replace(/[\\/:*?"<>|]+/g, '-')
    .replace(/\s+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return `${safe || 'adapter'}-${outtype.toUpperCase()}-LoRA.gguf`;
}
