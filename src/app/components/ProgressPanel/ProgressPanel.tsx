import { formatBytes, formatDuration } from '../../services/format';
import { getAppStore, useApp } from '../../state/store';
import styles from './ProgressPanel.module.css';

const PHASE_TEXT = {
  starting: 'Starting…',
  writing: 'Writing tensors…',
  verifying: 'Checking the written file…',
  cancelling: 'Cancelling…',
} as const;

/** Bytes, tensors, throughput and time left, with a Cancel button. */
export function ProgressPanel() {
  const p = useApp((s) => s.progress);
  const name = useApp((s) => s.options.name);
  if (!p) return null;
  const percent = p.totalBytes > 0 ? Math.min(100, Math.round((p.bytesWritten / p.totalBytes) * 100)) : 0;
  return (
    <section className={styles.card} aria-labelledby="progress-heading" data-testid="progress">
      <h2 id="progress-heading">Converting {name}</h2>
      <p data-testid="progress-phase">{PHASE_TEXT[p.phase]}</p>
      <progress className={styles.bar} max={p.totalBytes || 1} value={p.bytesWritten} aria-label={`Conversion progress, ${percent}%`} />
      <dl className={styles.stats}>
        <div>
          <dt>Written</dt>
          <dd data-testid="progress-bytes">
            {formatBytes(p.bytesWritten)} of {formatBytes(p.totalBytes)} ({percent}%)
          </dd>
        </div>
        <div>
          <dt>Tensors</dt>
          <dd data-testid="progress-tensors">
            {p.tensorsDone} / {p.totalTensors}
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{p.bytesPerSecond ? `${formatBytes(p.bytesPerSecond)}/s` : '–'}</dd>
        </div>
        <div>
          <dt>Time left</dt>
          <dd>{p.secondsLeft !== null ? formatDuration(p.secondsLeft) : '–'}</dd>
        </div>
      </dl>
      <div>
        <button
          type="button"
          onClick={() => getAppStore().getState().cancel()}
          disabled={p.phase === 'cancelling' || p.phase === 'verifying'}
          data-testid="cancel"
        >
          Cancel
        </button>
      </div>
    </section>
  );
}
