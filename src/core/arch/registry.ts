import { ConversionError } from '../errors';
import type { BaseConfig } from '../peft/config';
import { groupA } from './families/group-a';
import { groupB } from './families/group-b';
import { llama, mixtral } from './families/llama';
import type { ArchFamily } from './types';

/**
 * Every supported family. Adding an architecture: write `families/<name>.ts` exporting an
 * ArchFamily, and list it here.
 */
export const FAMILIES: readonly ArchFamily[] = [llama, mixtral, ...groupA, ...groupB];

const byHfArch = new Map<string, ArchFamily>();
for (const f of FAMILIES) {
  for (const a of f.hfArchitectures) {
    if (byHfArch.has(a)) throw new Error(`architecture ${a} registered twice`);
    byHfArch.set(a, f);
  }
}

/** All HF architecture names we convert, sorted. */
export function supportedArchitectures(): string[] {
  return [...byHfArch.keys()].sort();
}

/** The family for a base config, or a refusal naming the architecture. */
export function familyFor(cfg: BaseConfig): ArchFamily {
  const f = byHfArch.get(cfg.architecture);
  if (!f) {
    throw new ConversionError(
      'unsupported_architecture',
      `The base model's architecture "${cfg.architecture}" is not supported.`,
      { field: 'config.json: architectures', architecture: cfg.architecture },
      `Supported architectures: ${supportedArchitectures().join(', ')}. If llama.cpp supports this model, please open an issue.`,
    );
  }
  return f;
}

export function ggufArchFor(f: ArchFamily, cfg: BaseConfig): string {
  return typeof f.ggufArch === 'string' ? f.ggufArch : f.ggufArch(cfg);
}
