import { useEffect, useState } from 'react';
import type { GgufInfo } from '../../../../workers/protocol';
import { describeError, type DescribedError } from '../../services/error-words';
import { formatBytes } from '../../services/format';
import { readGgufInfo } from '../../services/gguf-session';
import { ErrorPanel } from '../ErrorPanel/ErrorPanel';
import { BaseCheck } from './BaseCheck';
import styles from './GgufCheck.module.css';

/** Pairs listed at most; the rest are counted. */
const MAX_PAIRS = 40;

/**
 * A dropped .gguf: a LoRA adapter is inspected (metadata, pairs, ranks, the scale llama.cpp
 * applies, and what llama.cpp would reject) and can be checked against a base; a model is named.
 */
export function GgufInspect({ file }: { file: File }) {
  const [info, setInfo] = useState<GgufInfo | null>(null);
  const [error, setError] = useState<DescribedError | null>(null);
  useEffect(() => {
    let live = true;
    readGgufInfo(file).then(
      (i) => live && setInfo(i),
      (e: unknown) => live && setError(describeError(e)),
    );
    return () => {
      live = false;
    };
  }, [file]);

  if (error) return <ErrorPanel error={error} testId="gguf-error" />;
  if (!info) return <p>Reading {file.name}…</p>;
  if (info.kind === 'model') {
    return (
      <section className={styles.card} data-testid="gguf-model">
        <h3>{file.name} is a model</h3>
        <p>
          {info.name ?? 'A model'} ({info.architecture ?? 'unknown architecture'}, {info.tensorCount} tensors). To check an adapter against it, open the
          adapter first, then choose this file under &ldquo;Will it load on your base model?&rdquo;.
        </p>
      </section>
    );
  }
  const i = info.inspected;
  return (
    <>
      <section className={styles.card} aria-labelledby="gguf-heading" data-testid="gguf-adapter">
        <h3 id="gguf-heading">{file.name}: a GGUF LoRA adapter</h3>
        <p>
          Architecture <strong data-testid="gguf-arch">{i.architecture ?? '—'}</strong>, name {i.name ?? '—'}, alpha{' '}
          <span data-testid="gguf-alpha">{i.alpha ?? '—'}</span>, {i.pairs.length} LoRA pairs in {i.tensorCount} tensors, {formatBytes(i.fileBytes)}.
        </p>
        {i.flags.length === 0 ? (
          <p className={styles.ok} data-testid="gguf-ok">
            Nothing llama.cpp would reject.
          </p>
        ) : (
          <ul data-testid="gguf-flags">
            {i.flags.map((f, k) => (
              <li key={k} className={styles.bad} data-code={f.code}>
                {f.message}
                {f.cause && <span className={styles.cause}> Likely cause: {f.cause}</span>}
              </li>
            ))}
          </ul>
        )}
        <table className={styles.table}>
          <thead>
            <tr>
              <th>applies to</th>
              <th>rank</th>
              <th>types</th>
              <th>scale (α/r)</th>
            </tr>
          </thead>
          <tbody>
            {i.pairs.slice(0, MAX_PAIRS).map((p) => (
              <tr key={p.name} data-testid="gguf-pair">
                <td>{p.name}</td>
                <td>{p.rank}</td>
                <td>
                  {p.a.type}/{p.b.type}
                </td>
                <td>{p.scale}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {i.pairs.length > MAX_PAIRS && <p>… and {i.pairs.length - MAX_PAIRS} more pairs.</p>}
      </section>
      <BaseCheck adapter={info.shape} label="this adapter" />
    </>
  );
}
