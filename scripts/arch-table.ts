/**
 * The "Supported architectures" table of docs/architectures.md, from the core's registry, so the
 * table cannot drift from the code (test/unit/arch-doc.spec.ts checks that the doc is current).
 *
 *   npx tsx scripts/arch-table.ts           print the table
 *   npx tsx scripts/arch-table.ts --write   rewrite it in docs/architectures.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAMILIES } from '../src/core';
import { parseBaseConfig } from '../src/core/peft/config';

export const ARCH_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'architectures.md');
const BEGIN = '<!-- arch-table:begin (written by npx tsx scripts/arch-table.ts --write) -->';
const END = '<!-- arch-table:end -->';

export function architecturesTable(): string {
  const rows = FAMILIES.map((f) => {
    const gguf = typeof f.ggufArch === 'string' ? f.ggufArch : f.ggufArch(parseBaseConfig(JSON.stringify({ architectures: [f.hfArchitectures[0]] })));
    const tied =
      f.tiedDefault === 'always'
        ? 'always (no separate output tensor)'
        : f.tiedDefault
          ? 'yes, unless the config says otherwise'
          : 'no, unless the config says so';
    const experts = f.modules.some((m) => m.experts) ? 'yes' : '';
    const notApplied = f.modules.filter((m) => m.notApplied).map((m) => (Array.isArray(m.hf) ? m.hf[0]! : m.hf).split('.').pop());
    return `| ${f.hfArchitectures.map((a) => `\`${a}\``).join(', ')} | \`${gguf}\` | ${tied} | ${experts} | ${notApplied.length ? `refused: ${[...new Set(notApplied)].join(', ')}` : ''} |`;
  });
  return ['| HF architecture | GGUF `general.architecture` | head tied to embeddings | MoE experts | notes |', '| --- | --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

/** The doc with its table section replaced by the registry's table. */
export function currentArchitecturesDoc(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/architectures.md lacks the ${BEGIN} … ${END} markers`);
  return `${doc.slice(0, start)}${BEGIN}\n${architecturesTable()}\n${doc.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) writeFileSync(ARCH_DOC, currentArchitecturesDoc(readFileSync(ARCH_DOC, 'utf8')));
  else console.log(architecturesTable());
}
