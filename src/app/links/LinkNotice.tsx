import { useApp } from '../state/store';
import { linkStore, useLink } from './apply-link';
import styles from './LinkNotice.module.css';

/** What a shared link restored, what it asks for, and what in it was ignored. */
export function LinkNotice() {
  const problems = useLink((s) => s.problems);
  const askForFiles = useLink((s) => s.askForFiles);
  const restored = useLink((s) => s.restored);
  const format = useLink((s) => s.format);
  const phase = useApp((s) => s.phase);
  if (problems.length === 0 && !(askForFiles && phase === 'empty')) return null;
  const parts = restored
    ? [
        restored.outtype && `output type ${restored.outtype}`,
        restored.name && `name “${restored.name}”`,
        restored.dropUnapplied && 'leave out what llama.cpp would not apply',
        restored.keepNormVectors && 'keep norm vectors',
      ].filter(Boolean)
    : [];
  return (
    <section className={styles.box} aria-label="Shared link" data-testid="link-notice">
      {askForFiles && phase === 'empty' && (
        <p data-testid="link-ask-files">
          This link was made for adapter files on someone&apos;s own disk, so it cannot bring them along
          {parts.length ? ` — it restores the options (${parts.join(', ')})` : ''}.{' '}
          {format === 'mlx'
            ? 'It was made for an MLX adapter (mlx-lm): drop the folder mlx_lm.lora saved (adapter_config.json and adapters.safetensors) to continue.'
            : 'Drop the adapter folder or its files to continue.'}
        </p>
      )}
      {problems.length > 0 && (
        <>
          <p>Parts of the link were not understood and were ignored; the defaults are used instead:</p>
          <ul data-testid="link-problems">
            {problems.map((p, i) => (
              <li key={i}>{p.message}</li>
            ))}
          </ul>
          <button type="button" onClick={() => linkStore.setState({ problems: [] })}>
            Dismiss
          </button>
        </>
      )}
    </section>
  );
}
