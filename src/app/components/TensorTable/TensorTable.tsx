import { useDeferredValue, useMemo, useState } from 'react';
import type { ConversionPlan } from '../../../core';
import { formatBytes } from '../../services/format';
import styles from './TensorTable.module.css';

/** Rows rendered before "Show all" (an adapter can have thousands of tensors). */
const PAGE = 200;

export interface TensorRow {
  gguf: string;
  sources: string[];
  shape: string;
  dtypeIn: string;
  dtypeOut: string;
  bytes: number;
}

/** One row per output tensor; shapes in PyTorch order (slowest dimension first), as on the Hub. */
export function tensorRows(plan: ConversionPlan): TensorRow[] {
  return plan.tensors.map((t) => ({
    gguf: t.name,
    sources: t.parts.map((p) => plan.sourceNames?.[p.source] ?? p.source),
    shape: [...t.ne].reverse().join(' × '),
    dtypeIn: t.sourceDtype,
    dtypeOut: t.type,
    bytes: t.byteSize,
  }));
}

export function filterRows(rows: TensorRow[], query: string): TensorRow[] {
  const q = query.trim().toLowerCase();
  if (!q) return rows;
  return rows.filter((r) => r.gguf.toLowerCase().includes(q) || r.sources.some((s) => s.toLowerCase().includes(q)));
}

/** A dotted tensor name that may wrap after its dots rather than mid-word. */
function Dotted({ name }: { name: string }) {
  const parts = name.split('.');
  return (
    <>
      {parts.map((p, i) => (
        <span key={i}>
          {p}
          {i < parts.length - 1 && (
            <>
              .<wbr />
            </>
          )}
        </span>
      ))}
    </>
  );
}

function SourceCell({ sources }: { sources: string[] }) {
  if (sources.length <= 2)
    return (
      <>
        {sources.map((s) => (
          <div key={s}>
            <Dotted name={s} />
          </div>
        ))}
      </>
    );
  return (
    <>
      <div>
        <Dotted name={sources[0]!} />
      </div>
      <div>… {sources.length} tensors stacked (experts)</div>
    </>
  );
}

/** Searchable table: source tensor → GGUF tensor, shape, dtype in / out, size. */
export function TensorTable({ plan }: { plan: ConversionPlan }) {
  const [query, setQuery] = useState('');
  const [all, setAll] = useState(false);
  const deferred = useDeferredValue(query);
  const rows = useMemo(() => tensorRows(plan), [plan]);
  const shown = useMemo(() => filterRows(rows, deferred), [rows, deferred]);
  const visible = all ? shown : shown.slice(0, PAGE);

  return (
    <div className={styles.wrap}>
      <div className={styles.controls}>
        <label>
          <span>Search tensors</span>
          <input
            type="search"
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
            placeholder="e.g. layers.0 or attn_q"
            data-testid="tensor-search"
          />
        </label>
        <span className={styles.count} data-testid="tensor-count" aria-live="polite">
          {shown.length === rows.length ? `${rows.length} output tensors` : `${shown.length} of ${rows.length} output tensors`}
        </span>
      </div>
      <div className={styles.scroller} tabIndex={0} role="region" aria-label="Tensor mapping">
        <table className={styles.table}>
          <thead>
            <tr>
              <th scope="col">Source tensor</th>
              <th scope="col">GGUF tensor</th>
              <th scope="col">Shape</th>
              <th scope="col">In</th>
              <th scope="col">Out</th>
              <th scope="col" className={styles.num}>
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            {visible.map((r) => (
              <tr key={r.gguf}>
                <td className={styles.mono}>
                  <SourceCell sources={r.sources} />
                </td>
                <td className={styles.mono}>
                  <Dotted name={r.gguf} />
                </td>
                <td className={styles.mono}>{r.shape}</td>
                <td>{r.dtypeIn}</td>
                <td>{r.dtypeOut}</td>
                <td className={styles.num}>{formatBytes(r.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!all && shown.length > PAGE && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {shown.length} rows
        </button>
      )}
      {plan.skipped.length > 0 && (
        <details>
          <summary>{plan.skipped.length} source tensors left out</summary>
          <ul>
            {plan.skipped.map((s) => (
              <li key={s.tensor}>
                <code>{s.tensor}</code>: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
