import { formatBytes } from '../../services/format';
import { CopyLink } from '../CopyLink/CopyLink';
import { getAppStore, useApp } from '../../state/store';
import styles from './ResultPanel.module.css';

/** Shell-quote a file name for the usage lines when it needs it. */
function q(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The base model's GGUF file name as people usually have it (a placeholder the user adapts). */
export function baseGgufName(baseModel: string | null): string {
  const stem = baseModel ? baseModel.split('/').pop()! : 'base-model';
  return `${stem}.gguf`;
}

export function usageLines(fileName: string, baseModel: string | null): { cli: string; server: string; ollama: string } {
  const base = q(baseGgufName(baseModel));
  const file = q(fileName);
  return {
    cli: `llama-cli -m ${base} --lora ${file}`,
    server: `llama-server -m ${base} --lora ${file}`,
    ollama: `FROM ./${baseGgufName(baseModel)}\nADAPTER ./${fileName}`,
  };
}

export function formatSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Speed in MB of adapter read per second. */
export function formatRate(bytes: number, seconds: number): string {
  const rate = bytes / 1e6 / Math.max(seconds, 1e-3);
  return `${rate < 10 ? rate.toFixed(1) : rate.toFixed(0)} MB/s of input`;
}

/** The verified output: what is in it, and how to use it. */
export function ResultPanel() {
  const r = useApp((s) => s.result);
  if (!r) return null;
  const store = getAppStore().getState();
  const usage = usageLines(r.fileName, r.baseModel);
  return (
    <section className={styles.card} aria-labelledby="done-heading" data-testid="result">
      <div className={`${styles.card} ${styles.ok}`}>
        <h2 id="done-heading">Done: {r.fileName}</h2>
        <p>
          {r.target === 'handle'
            ? 'Saved where you chose. '
            : r.target === 'stream'
              ? 'Saved to your Downloads folder (streamed as it was written). '
              : r.target === 'memory'
                ? 'Ready to download (kept in this tab’s memory until you start another conversion). '
                : 'Ready to download (prepared in browser storage; it is removed when you start another conversion). '}
          {r.target === 'stream' ? 'Its header was checked against the plan as it was sent.' : 'The file was read back and its header matches the plan.'}
        </p>
        {r.downloadUrl && (
          <p>
            <a className={styles.download} href={r.downloadUrl} download={r.fileName} data-testid="download">
              Download {r.fileName} ({formatBytes(r.size)})
            </a>
          </p>
        )}
      </div>
      <dl className={styles.facts}>
        <div>
          <dt>Size</dt>
          <dd data-testid="result-size">{formatBytes(r.size)}</dd>
        </div>
        <div>
          <dt>Tensors</dt>
          <dd data-testid="result-tensors">{r.tensorCount}</dd>
        </div>
        <div>
          <dt>Type</dt>
          <dd>{r.outtype}</dd>
        </div>
        <div>
          <dt>GGUF version</dt>
          <dd>{r.ggufVersion}</dd>
        </div>
        <div>
          <dt>Time</dt>
          <dd data-testid="result-time">{formatSeconds(r.seconds)}</dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd data-testid="result-speed">{formatRate(r.inputBytes, r.seconds)}</dd>
        </div>
        {r.kernels && (
          <div>
            <dt>Kernels</dt>
            <dd data-testid="result-kernels">{r.kernels === 'simd' ? 'WebAssembly SIMD' : 'JavaScript (no WebAssembly here)'}</dd>
          </div>
        )}
      </dl>
      {r.nonFinite && r.nonFinite.length > 0 && (
        <div role="status" data-testid="result-non-finite">
          <h3>NaN or infinite values written as they are</h3>
          <ul className={styles.warnings}>
            {r.nonFinite.map((t) => (
              <li key={t.tensor}>
                {t.tensor}: {t.count} value{t.count === 1 ? '' : 's'}
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.warnings.length > 0 && (
        <div role="status" data-testid="result-warnings">
          <h3>Warnings</h3>
          <ul className={styles.warnings}>
            {r.warnings.map((w, i) => (
              <li key={i} data-testid="warning" data-code={w.code}>
                {w.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className={styles.usage}>
        <h3>Use it</h3>
        <p>With llama.cpp (the base model converted to GGUF, same architecture):</p>
        <pre data-testid="usage-cli">{usage.cli}</pre>
        <pre data-testid="usage-server">{usage.server}</pre>
        <p>In an Ollama Modelfile:</p>
        <pre data-testid="usage-ollama">{usage.ollama}</pre>
      </div>
      <details>
        <summary>Metadata ({r.keys.length} keys)</summary>
        <table className={styles.keys}>
          <tbody>
            {r.keys.map((k) => (
              <tr key={k.key}>
                <th scope="row">{k.key}</th>
                <td>{k.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      <p>A link that repeats these settings (never your files or token):</p>
      <CopyLink />
      <div className={styles.actions}>
        <button type="button" onClick={() => store.again()}>
          Convert again with other options
        </button>
        <button type="button" onClick={() => store.reset()}>
          Convert another adapter
        </button>
      </div>
    </section>
  );
}
