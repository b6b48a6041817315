import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { parseHubRef, repoIdProblem } from '../../../core/light';
import { describeError } from '../../services/error-words';
import { ErrorPanel } from '../ErrorPanel/ErrorPanel';
import { HUB_ENDPOINT } from '../../services/hub-endpoint';
import { clearHubError, hubOpenStore, openFromHub, useHubOpen } from '../../services/hub-session';
import { setHubToken } from '../../services/hub-token';
import styles from './HubInput.module.css';

/**
 * "From the Hub": a repo id (`owner/repo`, `owner/repo/sub/folder`, `@revision`) or a pasted
 * huggingface.co URL, an optional base model id, and an optional access token for gated or
 * private repos. The token field is a password field whose value goes to page memory only
 * (hub-token.ts) when the form is submitted; it is never stored, logged or put into a link.
 */
export function HubInput() {
  const id = useId();
  const status = useHubOpen((s) => s.status);
  const target = useHubOpen((s) => s.target);
  const error = useHubOpen((s) => s.error);
  const authNeeded = useHubOpen((s) => s.authNeeded);
  const text = useHubOpen((s) => s.input);
  const base = useHubOpen((s) => s.base);
  const setText = (input: string) => hubOpenStore.setState({ input });
  const setBase = (b: string) => hubOpenStore.setState({ base: b });
  const [problem, setProblem] = useState<string | null>(null);
  const tokenRef = useRef<HTMLInputElement>(null);

  // Access refused: open the token field and put the cursor in it (keyboard users land where they must type).
  useEffect(() => {
    if (authNeeded) tokenRef.current?.focus();
  }, [authNeeded]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    let ref;
    try {
      ref = parseHubRef(text, { endpoint: HUB_ENDPOINT });
    } catch (err) {
      setProblem(describeError(err).message);
      return;
    }
    const baseId = base.trim();
    if (baseId) {
      const p = repoIdProblem(baseId);
      if (p) {
        setProblem(`The base model id "${baseId}" is not a Hub model id: ${p}.`);
        return;
      }
    }
    setProblem(null);
    setHubToken(tokenRef.current?.value ?? '');
    void openFromHub({ ref, base: baseId || null });
  };

  const opening = status === 'opening';
  return (
    <section className={styles.box} aria-labelledby={`${id}-heading`} data-testid="hub-input">
      <h2 id={`${id}-heading`} className={styles.heading}>
        Or open an adapter on the Hugging Face Hub
      </h2>
      <form className={styles.form} onSubmit={submit}>
        <label htmlFor={`${id}-ref`}>Adapter repository</label>
        <div className={styles.row}>
          <input
            id={`${id}-ref`}
            data-testid="hub-ref"
            type="text"
            inputMode="url"
            autoComplete="off"
            spellCheck={false}
            placeholder="owner/repo, owner/repo/sub/folder@revision, or a huggingface.co URL"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              setProblem(null);
              clearHubError();
            }}
          />
          <button type="submit" data-testid="hub-open" disabled={opening || text.trim() === ''}>
            {opening ? 'Opening…' : 'Open'}
          </button>
        </div>
        <details className={styles.more} open={authNeeded || undefined}>
          <summary>Base model and access token (optional)</summary>
          <label htmlFor={`${id}-base`}>Base model id, if the adapter&apos;s own is missing or wrong</label>
          <input
            id={`${id}-base`}
            data-testid="hub-base"
            type="text"
            autoComplete="off"
            spellCheck={false}
            placeholder="e.g. Qwen/Qwen2.5-0.5B"
            value={base}
            onChange={(e) => setBase(e.target.value)}
          />
          <label htmlFor={`${id}-token`}>Access token, for gated or private repositories</label>
          <input id={`${id}-token`} ref={tokenRef} data-testid="hub-token" type="password" autoComplete="off" spellCheck={false} placeholder="hf_…" />
          <p className={styles.note}>
            The token stays in this tab&apos;s memory: it is sent only to the Hub, never saved, never logged and never put into a shared link.
          </p>
        </details>
      </form>
      {problem && (
        <p className={styles.problem} role="alert" data-testid="hub-ref-problem">
          {problem}
        </p>
      )}
      {opening && (
        <p className={styles.status} role="status" data-testid="hub-opening">
          Opening {target} on the Hub…
        </p>
      )}
      {authNeeded && (
        <p className={styles.auth} role="alert" data-testid="hub-auth-prompt">
          This repository is gated or private. Paste a Hugging Face access token with read access (and accept the model&apos;s conditions on its page if it is
          gated), then press Open again.
        </p>
      )}
      {error && <ErrorPanel error={error} testId="hub-error" />}
    </section>
  );
}
