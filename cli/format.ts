/** Text rendering of plans, refusals and progress for the terminal. Pure functions. */
import { describeMlxAdapter, type ConversionPlan, type SerializedConversionError } from '../src/core';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** "0.62 s, 1540 MiB/s": how long a conversion took, and its speed in bytes of input per second. */
export function formatDuration(seconds: number, inputBytes: number): string {
  const rate = inputBytes / 2 ** 20 / Math.max(seconds, 1e-6);
  return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s, ${rate.toFixed(rate < 10 ? 1 : 0)} MiB/s of input`;
}

function formatScale(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(6).replace(/0+$/, '');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const FORMAT_LABELS: Record<NonNullable<ConversionPlan['adapter']['format']>, string> = {
  safetensors: 'safetensors',
  'pytorch-zip': 'PyTorch zip (torch.save)',
  'pytorch-legacy': 'PyTorch legacy (pre-1.6 torch.save)',
};

/** The plan as a table: source module -> GGUF tensor, shape, dtype in -> out, size, scaling. */
export function formatPlan(plan: ConversionPlan, outfile: string): string {
  const scaleOf = new Map(plan.modules.map((m) => [m.module, m]));
  const rows: string[][] = [['source module', 'GGUF tensor', 'shape (ne)', 'dtype', 'size', 'scaling']];
  for (const t of plan.tensors) {
    const m = scaleOf.get(t.module);
    const scaling = !m ? '' : m.fold === 1 ? `${formatScale(m.peftScale)}` : `${formatScale(m.peftScale)} (x${formatScale(m.fold)} folded into lora_b)`;
    rows.push([t.module, t.name, `[${t.ne.join(', ')}]`, `${t.sourceDtype} -> ${t.type}`, formatBytes(t.byteSize), t.role === 'lora_a' ? scaling : '']);
  }
  const lines = [
    `Architecture: ${plan.architecture} (GGUF "${plan.ggufArchitecture}", family ${plan.family})${plan.tied ? ', output head tied to the embeddings' : ''}`,
    plan.adapter.mlx
      ? `Adapter: ${describeMlxAdapter(plan.adapter.mlx)}; written with alpha ${plan.adapter.loraAlpha} (= scale x rank), base ${plan.adapter.baseModel ?? '(not named)'}`
      : `Adapter: r=${plan.adapter.r}, lora_alpha=${plan.adapter.loraAlpha}${plan.adapter.useRslora ? ', rsLoRA' : ''}, base ${plan.adapter.baseModel ?? '(not named)'}${plan.adapter.format ? `, file ${FORMAT_LABELS[plan.adapter.format]}` : ''}`,
    `Output: ${outfile} — ${plan.outtype} (${plan.outtypeReason}), ${plan.tensors.length} tensors, ${formatBytes(plan.totalBytes)}`,
    '',
  ];
  if (plan.tensors.length) lines.push(table(rows), '');
  for (const s of plan.skipped) lines.push(`skipped: ${s.tensor} — ${s.reason}`);
  for (const w of plan.warnings) lines.push(formatWarning(w));
  return lines.join('\n').trimEnd();
}

export function formatWarning(w: { message: string; tensors?: string[] | undefined; hint?: string | undefined }): string {
  return `warning: ${w.message}${w.hint ? `\n  hint: ${w.hint}` : ''}`;
}

/** One refusal: its message, every tensor it concerns, and what to do. */
export function formatRefusal(r: SerializedConversionError): string {
  const lines = [`error [${r.code}]: ${r.message}`];
  const tensors = r.details.tensors ?? [];
  if (tensors.length) lines.push(`  tensors: ${tensors.join(', ')}`);
  if (typeof r.details.field === 'string') lines.push(`  field: ${r.details.field}`);
  if (r.hint) lines.push(`  hint: ${r.hint}`);
  return lines.join('\n');
}

/** A one-line progress bar for a TTY. */
export function formatProgressBar(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)}`;
}
