import { useState } from 'react';
import { isValidRepoId } from '../../../core/light';
import { modelCard } from '../../../core/publish/card';
import { linkUrl } from '../../links/link';
import { describeError, type DescribedError } from '../../services/error-words';
import { sessionConverter } from '../../services/gguf-session';
import { HUB_ENDPOINT } from '../../services/hub-endpoint';
import { hubToken } from '../../services/hub-token';
import { getAppStore, useApp } from '../../state/store';
import { linkStateOf } from '../CopyLink/CopyLink';
import { ErrorPanel } from '../ErrorPanel/ErrorPanel';
import styles from '../GgufCheck/GgufCheck.module.css';

/**
 * After converting: upload the file to a new or existing Hub model repo with a generated model
 * card naming the real base model. The token stays in this page's memory (never stored); the file
 * is read from where it was saved, in slices, never copied whole; cancel stops before the commit.
 */
export function PublishPanel() {
  const result = useApp((s) => s.result);
  const plan = useApp((s) => s.plan);
  const hub = useApp((s) => s.hub);
  const options = useApp((s) => s.options);
  const [repo, setRepo] = useState('');
  const [token, setToken] = useState(() => hubToken() ?? '');
  const [base, setBase] = useState(() => plan?.adapter.baseModel ?? '');
  const [progress, setProgress] = useState<string | null>(null);
  const [done, setDone] = useState<{ url: string; commit: string } | null>(null);
  const [error, setError] = useState<DescribedError | null>(null);
  const [running, setRunning] = useState(false);
  if (!result || !plan) return null;
  if (result.target === 'stream') {
    return (
      <section className={styles.card} data-testid="publish">
        <h3>Publish to the Hub</h3>
        <p>
          This file streamed into your Downloads folder, which the page cannot read back: publish it with <code>lora2gguf publish</code>, or convert again
          saving to a file or browser storage.
        </p>
      </section>
    );
  }
  const repoOk = isValidRepoId(repo);
  const baseOk = base === '' || isValidRepoId(base);

  const run = async () => {
    setRunning(true);
    setError(null);
    setDone(null);
    setProgress('starting…');
    try {
      const file = await getAppStore().getState().savedOutput();
      if (!file) throw new Error('The converted file is no longer there; convert again.');
      const card = modelCard({
        repo,
        fileName: result.fileName,
        baseModel: base || null,
        architecture: result.architecture,
        outtype: result.outtype,
        source: hub ? `hf:${hub.pinned.repo}${hub.pinned.subfolder ? `/${hub.pinned.subfolder}` : ''}@${hub.pinned.revision}` : null,
        settings: { drop_unapplied: options.dropUnapplied, keep_norm_vectors: options.keepNormVectors },
        link: linkUrl(window.location.href, linkStateOf({ hub, options, plan })),
        pairs: plan.tensors.filter((t) => t.role === 'lora_a').length,
      });
      const r = await sessionConverter().publish!({ file, fileName: result.fileName, repo, card, token, endpoint: HUB_ENDPOINT }, (p) =>
        setProgress(p.state === 'committing' ? 'committing…' : `${p.state} ${Math.floor(p.progress * 100)}%`),
      );
      setDone({ url: r.url, commit: r.commit });
      setProgress(null);
    } catch (e) {
      setProgress(null);
      setError(describeError(e));
    } finally {
      setRunning(false);
    }
  };

  return (
    <section className={styles.card} aria-labelledby="publish-heading" data-testid="publish">
      <h3 id="publish-heading">Publish to the Hub</h3>
      <p>
        Upload {result.fileName} with a model card naming its base model. Your token stays in this page&apos;s memory: it is sent to the Hub only, never stored.
      </p>
      <label>
        Repository (owner/name){' '}
        <input type="text" value={repo} onChange={(e) => setRepo(e.currentTarget.value.trim())} data-testid="publish-repo" spellCheck={false} />
      </label>{' '}
      <label>
        Base model <input type="text" value={base} onChange={(e) => setBase(e.currentTarget.value.trim())} data-testid="publish-base" spellCheck={false} />
      </label>{' '}
      <label>
        Token (write){' '}
        <input type="password" value={token} onChange={(e) => setToken(e.currentTarget.value.trim())} data-testid="publish-token" autoComplete="off" />
      </label>
      <p>
        <button type="button" className="primary" disabled={running || !repoOk || !baseOk || !token} onClick={() => void run()} data-testid="publish-button">
          Publish
        </button>{' '}
        {running && (
          <button type="button" onClick={() => sessionConverter().cancelPublish?.()} data-testid="publish-cancel">
            Cancel
          </button>
        )}{' '}
        {progress && <span data-testid="publish-progress">{progress}</span>}
      </p>
      {!repoOk && repo !== '' && <p className={styles.bad}>The repository must be owner/name.</p>}
      {!baseOk && <p className={styles.bad}>The base model must be a Hub id (owner/name), or empty.</p>}
      {error && <ErrorPanel error={error} testId="publish-error" />}
      {done && (
        <p className={styles.ok} data-testid="publish-done">
          Published: <a href={done.url}>{done.url}</a>
          {done.commit ? ` (commit ${done.commit.slice(0, 12)})` : ''}
        </p>
      )}
    </section>
  );
}
