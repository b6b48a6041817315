import type { FileKind } from '../../../../workers/protocol';
import { formatBytes } from '../../services/format';
import { useApp } from '../../state/store';
import styles from './InputFiles.module.css';

const KIND_LABEL: Record<FileKind, string> = {
  adapter_config: 'adapter config',
  adapter_weights: 'adapter weights',
  base_config: 'base config',
  base_weights: 'model weights',
  base_weights_index: 'weights index',
  peft_other_config: 'PEFT config',
  pickle: 'pickle',
  gguf: 'GGUF',
  tokenizer: 'tokenizer',
  other_json: 'JSON',
  malformed_safetensors: 'damaged',
  unknown: 'other',
};

/** Shown at most; the rest are summarised (a dropped model folder can hold hundreds). */
const MAX_LISTED = 12;

/** What was given, what each file is (by content), and what is missing. */
export function InputFiles() {
  const recognized = useApp((s) => s.recognized);
  const selection = useApp((s) => s.selection);
  const baseFile = useApp((s) => s.baseConfigFile);
  const truncated = useApp((s) => s.truncated);
  if (!selection) return null;
  const used = new Set([selection.adapterConfig?.path, selection.adapter?.path, baseFile?.path ?? selection.baseConfig?.path].filter(Boolean));
  // Used files first, then the rest in path order.
  const sorted = [...recognized].sort((a, b) => Number(used.has(b.path)) - Number(used.has(a.path)) || (a.path < b.path ? -1 : 1));
  const extra = baseFile && !recognized.some((r) => r.path === baseFile.path) ? baseFile : null;

  return (
    <section className={styles.box} aria-labelledby="files-heading" data-testid="input-files">
      <h3 className={styles.heading} id="files-heading">
        Files
      </h3>
      <ul className={styles.list}>
        {sorted.slice(0, MAX_LISTED).map((r) => (
          <li key={r.path} className={styles.item}>
            <span className={`${styles.badge} ${used.has(r.path) ? styles.used : ''}`}>
              {used.has(r.path) ? `✓ ${KIND_LABEL[r.kind]}` : KIND_LABEL[r.kind]}
            </span>
            <span className={styles.path}>{r.path}</span>
            <span className={styles.note}>
              {formatBytes(r.size)} · {r.note}
            </span>
          </li>
        ))}
        {extra && (
          <li className={styles.item}>
            <span className={`${styles.badge} ${styles.used}`}>✓ base config</span>
            <span className={styles.path}>{extra.path}</span>
          </li>
        )}
      </ul>
      {sorted.length > MAX_LISTED && <p className={styles.more}>…and {sorted.length - MAX_LISTED} more files not needed for the conversion.</p>}
      {truncated && <p className={styles.more}>The folder has many files; only the first ones were looked at.</p>}
      {selection.problems.map((p) => (
        <div
          key={p.id}
          className={`${styles.problem} ${p.blocking ? styles.blocking : styles.info}`}
          role={p.blocking ? 'alert' : 'status'}
          data-testid={`problem-${p.id}`}
        >
          <p>
            <strong>{p.message}</strong>
          </p>
          {p.hint && <p>{p.hint}</p>}
        </div>
      ))}
    </section>
  );
}
