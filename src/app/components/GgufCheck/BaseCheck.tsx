import { useEffect, useState } from 'react';
import type { AdapterShape } from '../../../core';
import type { BaseCheck as BaseCheckResult } from '../../../../workers/protocol';
import { describeError, type DescribedError } from '../../services/error-words';
import { formatBytes } from '../../services/format';
import { checkBaseFiles, checkBaseOnHub } from '../../services/gguf-session';
import { HUB_ENDPOINT } from '../../services/hub-endpoint';
import { hubToken } from '../../services/hub-token';
import { ErrorPanel } from '../ErrorPanel/ErrorPanel';
import styles from './GgufCheck.module.css';

/**
 * "Will it load?": the user picks the base model's .gguf (every shard of a split one); only the
 * headers are read, and llama.cpp's own load-time checks give the verdict, or each problem with its
 * likely cause.
 */
export function BaseCheck({ adapter, label, dropped }: { adapter: AdapterShape; label: string; dropped?: File[] }) {
  const [result, setResult] = useState<BaseCheckResult | null>(null);
  const [error, setError] = useState<DescribedError | null>(null);
  const [busy, setBusy] = useState(false);
  const [reference, setReference] = useState('');

  const check = async (run: () => Promise<BaseCheckResult>) => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await run());
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const onFiles = (files: File[]) => (files.length ? check(() => checkBaseFiles(adapter, files)) : Promise.resolve());

  // A base .gguf dropped together with the adapter is checked at once.
  useEffect(() => {
    if (!dropped?.length) return;
    // Run from a task, not inside the effect: the check updates this component's state.
    const t = setTimeout(() => void onFiles(dropped), 0);
    return () => clearTimeout(t);
    // Once per drop: the files decide, not the adapter's re-plans.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dropped]);

  return (
    <section className={styles.card} aria-labelledby="base-check-heading" data-testid="base-check">
      <h3 id="base-check-heading">Will it load on your base model?</h3>
      <p>
        Choose the base model&apos;s <code>.gguf</code> (for a split model, all its parts). Only its header is read — any size — and {label} is checked the way
        llama.cpp checks a LoRA when it loads one.
      </p>
      <input
        type="file"
        accept=".gguf"
        multiple
        data-testid="base-gguf-input"
        aria-label="Base model GGUF"
        onChange={(e) => void onFiles([...(e.currentTarget.files ?? [])])}
      />
      <p>
        or on the Hub:{' '}
        <input
          type="text"
          placeholder="owner/repo/model-Q4_K_M.gguf"
          value={reference}
          onChange={(e) => setReference(e.currentTarget.value.trim())}
          data-testid="base-hub-ref"
          aria-label="Base model GGUF on the Hub"
          spellCheck={false}
        />{' '}
        <button
          type="button"
          disabled={busy || !/\.gguf(@[^/]+)?$/i.test(reference)}
          onClick={() => void check(() => checkBaseOnHub(adapter, reference, HUB_ENDPOINT, hubToken()))}
          data-testid="base-hub-check"
        >
          Check
        </button>
      </p>
      {busy && <p>Reading the header…</p>}
      {error && <ErrorPanel error={error} testId="base-check-error" />}
      {result && (
        <div data-testid="check-verdict" data-compatible={String(result.compatible)}>
          {result.compatible ? (
            <p className={styles.ok}>
              Compatible with {result.base} ({result.baseFile}): {result.pairsChecked} LoRA pairs checked.
            </p>
          ) : (
            <>
              <p className={styles.bad}>
                Not compatible with {result.base} ({result.baseFile}): llama.cpp would refuse to load it.
              </p>
              <ul>
                {result.problems.map((p, i) => (
                  <li key={i} data-testid="check-problem" data-code={p.code}>
                    {p.message}
                    {p.cause && <span className={styles.cause}> Likely cause: {p.cause}</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
          <p className={styles.cause} data-testid="check-bytes">
            Read {formatBytes(result.bytesRead)} of {formatBytes(result.baseBytes)}
            {result.shards > 1 ? ` in ${result.shards} parts` : ''}.
          </p>
        </div>
      )}
    </section>
  );
}
