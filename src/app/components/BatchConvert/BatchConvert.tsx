import { useEffect, useMemo, useState } from 'react';
import { defaultOutputFileName } from '../../../core/light';
import type { SaveTarget } from '../../../../workers/protocol';
import { batchCandidates, rankOf, type BatchCandidate } from '../../services/batch';
import { describeError } from '../../services/error-words';
import { formatBytes } from '../../services/format';
import { sessionConverter } from '../../services/gguf-session';
import { conversionInputs, inspectOptions, useApp } from '../../state/store';
import styles from '../GgufCheck/GgufCheck.module.css';

type ItemStatus =
  { state: 'waiting' } | { state: 'converting'; percent: number } | { state: 'done'; file: string; url: string | null } | { state: 'failed'; why: string };

type DirectoryPickerWindow = Window & { showDirectoryPicker?: (o: { mode: 'readwrite' }) => Promise<FileSystemDirectoryHandle> };

/**
 * Several adapters in one drop (the checkpoints of a run): listed with their step, base, rank and
 * size; the chosen ones are converted one after another — into a folder the user picks where the
 * browser has the folder dialog, else each kept in the tab for download — each with its own
 * progress, one failure never stopping the rest, and a summary at the end.
 */
export function BatchConvert() {
  const recognized = useApp((s) => s.recognized);
  const files = useApp((s) => s.files);
  const root = useApp((s) => s.rootName);
  const options = useApp((s) => s.options);
  const base = useApp((s) => conversionInputs(s)?.baseConfig ?? null);
  const candidates = useMemo(() => batchCandidates(recognized, files, root), [recognized, files, root]);
  const [ranks, setRanks] = useState<Record<string, number | null>>({});
  // Every adapter is chosen unless the user unticks it.
  const [skipped, setSkipped] = useState<Set<string>>(() => new Set());
  const chosen = new Set(candidates.map((c) => c.folder).filter((f) => !skipped.has(f)));
  const [status, setStatus] = useState<Record<string, ItemStatus>>({});
  const [running, setRunning] = useState(false);

  useEffect(() => {
    let live = true;
    void Promise.all(candidates.map(async (c) => [c.folder, rankOf(await c.config.file.text())] as const)).then((r) => live && setRanks(Object.fromEntries(r)));
    return () => {
      live = false;
    };
  }, [candidates]);

  if (candidates.length < 2) return null;

  const run = async () => {
    const picker = (window as DirectoryPickerWindow).showDirectoryPicker;
    let dir: FileSystemDirectoryHandle | null = null;
    if (typeof picker === 'function') {
      try {
        dir = await picker.call(window, { mode: 'readwrite' });
      } catch {
        return; // the user closed the folder dialog
      }
    }
    if (!base) return;
    setRunning(true);
    const converter = sessionConverter();
    const todo = candidates.filter((c) => chosen.has(c.folder));
    setStatus(Object.fromEntries(todo.map((c) => [c.folder, { state: 'waiting' } as ItemStatus])));
    for (const c of todo) {
      const set = (s: ItemStatus) => setStatus((prev) => ({ ...prev, [c.folder]: s }));
      set({ state: 'converting', percent: 0 });
      try {
        const inputs = { adapterConfig: c.config.file, adapter: c.weights.file, baseConfig: base };
        const o = { ...inspectOptions(options), name: c.label };
        // Planned first: a refused adapter fails here, before any file is created.
        const plan = await converter.inspect(inputs, o);
        if (plan.refusals.length) throw Object.assign(new Error(plan.refusals[0]!.message), { name: 'Refused' });
        const fileName = defaultOutputFileName(c.label, plan.outtype);
        const target: SaveTarget = dir ? { kind: 'handle', handle: await dir.getFileHandle(fileName, { create: true }) } : { kind: 'memory', name: fileName };
        const res = await converter.convert(inputs, { ...o, keepNonFinite: options.keepNonFinite }, target, (p) =>
          set({ state: 'converting', percent: Math.floor((100 * p.bytesWritten) / Math.max(1, p.totalBytes)) }),
        );
        set({ state: 'done', file: fileName, url: res.blob ? URL.createObjectURL(res.blob) : null });
      } catch (e) {
        set({ state: 'failed', why: e instanceof Error && e.name === 'Refused' ? e.message : describeError(e).message });
      }
    }
    setRunning(false);
  };

  const done = Object.values(status).filter((s) => s.state === 'done').length;
  const failed = Object.values(status).filter((s) => s.state === 'failed').length;
  const finished = !running && done + failed > 0;

  return (
    <section className={styles.card} aria-labelledby="batch-heading" data-testid="batch">
      <h3 id="batch-heading">{candidates.length} adapters in this folder</h3>
      <p>Convert any or all of them, one after another, with the options below ({options.outtype}).</p>
      <table className={styles.table}>
        <thead>
          <tr>
            <th />
            <th>adapter</th>
            <th>step</th>
            <th>base</th>
            <th>rank</th>
            <th>size</th>
            <th>status</th>
          </tr>
        </thead>
        <tbody>
          {candidates.map((c: BatchCandidate) => {
            const s = status[c.folder];
            return (
              <tr key={c.folder} data-testid="batch-item" data-status={s?.state ?? 'idle'}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Convert ${c.label}`}
                    checked={chosen.has(c.folder)}
                    disabled={running}
                    onChange={(e) => {
                      const next = new Set(skipped);
                      if (e.currentTarget.checked) next.delete(c.folder);
                      else next.add(c.folder);
                      setSkipped(next);
                    }}
                  />
                </td>
                <td>{c.label}</td>
                <td>{c.step ?? '—'}</td>
                <td>{c.baseModel ?? '—'}</td>
                <td>{ranks[c.folder] ?? '—'}</td>
                <td>{formatBytes(c.size)}</td>
                <td data-testid="batch-status">
                  {!s ? (
                    ''
                  ) : s.state === 'waiting' ? (
                    'waiting'
                  ) : s.state === 'converting' ? (
                    `${s.percent}%`
                  ) : s.state === 'done' ? (
                    s.url ? (
                      <a href={s.url} download={s.file}>{`Download ${s.file}`}</a>
                    ) : (
                      `saved as ${s.file}`
                    )
                  ) : (
                    `failed: ${s.why}`
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!base && <p className={styles.bad}>The base model&apos;s config.json is needed: drop it too.</p>}
      <button type="button" className="primary" data-testid="batch-convert" disabled={running || chosen.size === 0 || !base} onClick={() => void run()}>
        Convert {chosen.size} selected…
      </button>
      {finished && (
        <p data-testid="batch-summary" className={failed ? styles.bad : styles.ok}>
          {done} converted, {failed} failed.
        </p>
      )}
    </section>
  );
}
