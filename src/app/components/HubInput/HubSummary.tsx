import { useState, type FormEvent } from 'react';
import { formatHubRef, repoIdProblem } from '../../../core/light';
import { useApp } from '../../state/store';
import { openFromHub } from '../../services/hub-session';
import styles from './HubInput.module.css';

/** In the preflight of a Hub adapter: where it came from (pinned commit), where the base config came from, and a base id field when none was found. */
export function HubSummary() {
  const hub = useApp((s) => s.hub);
  const baseOrigin = useApp((s) => s.baseConfigOrigin);
  const baseMissing = useApp((s) => !s.baseConfigFile && !s.selection?.baseConfig);
  const options = useApp((s) => s.options);
  const [base, setBase] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  if (!hub) return null;

  const applyBase = (e: FormEvent) => {
    e.preventDefault();
    const p = repoIdProblem(base.trim());
    if (p) {
      setProblem(`"${base.trim()}" is not a Hub model id: ${p}.`);
      return;
    }
    setProblem(null);
    void openFromHub({ ref: hub.pinned, base: base.trim(), options });
  };

  return (
    <section className={styles.box} aria-label="Adapter on the Hub" data-testid="hub-summary">
      <p className={styles.status}>
        From the Hugging Face Hub:{' '}
        <strong data-testid="hub-summary-ref" translate="no">
          {formatHubRef({ ...hub.ref, revision: hub.ref.revision, revisionGiven: hub.ref.revisionGiven })}
        </strong>{' '}
        at commit <code data-testid="hub-summary-commit">{hub.commit.slice(0, 12)}</code>.
        {baseOrigin && (
          <>
            {' '}
            Base config from <span data-testid="base-origin">{baseOrigin}</span>.
          </>
        )}
      </p>
      {baseMissing && (
        <form className={styles.form} onSubmit={applyBase}>
          <label htmlFor="hub-summary-base">Or type the base model&apos;s Hub id</label>
          <div className={styles.row}>
            <input
              id="hub-summary-base"
              data-testid="hub-summary-base"
              type="text"
              autoComplete="off"
              spellCheck={false}
              value={base}
              onChange={(e) => setBase(e.target.value)}
            />
            <button type="submit" disabled={base.trim() === ''}>
              Use this base
            </button>
          </div>
          {problem && (
            <p className={styles.problem} role="alert">
              {problem}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
