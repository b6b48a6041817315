/**
 * Prints the README's "Supported architectures" table from the core's registry, so the table
 * cannot drift from the code: `npx tsx scripts/arch-table.ts`.
 */
import { FAMILIES } from '../src/core';
import { parseBaseConfig } from '../src/core/peft/config';

const rows = FAMILIES.map((f) => {
  const gguf = typeof f.ggufArch === 'string' ? f.ggufArch : f.ggufArch(parseBaseConfig(JSON.stringify({ architectures: [f.hfArchitectures[0]] })));
  const tied = f.tiedDefault === 'always' ? 'always (no separate output tensor)' : f.tiedDefault ? 'yes, unless the config says otherwise' : 'no, unless the config says so';
  const experts = f.modules.some((m) => m.experts) ? 'yes' : '';
  const notApplied = f.modules.filter((m) => m.notApplied).map((m) => (Array.isArray(m.hf) ? m.hf[0]! : m.hf).split('.').pop());
  return `| ${f.hfArchitectures.map((a) => `\`${a}\``).join(', ')} | \`${gguf}\` | ${tied} | ${experts} | ${notApplied.length ? `refused: ${[...new Set(notApplied)].join(', ')}` : ''} |`;
});
console.log('| HF architecture | GGUF `general.architecture` | head tied to embeddings | MoE experts | notes |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
