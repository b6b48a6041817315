import { useState } from 'react';
import { linkUrl, type LinkState } from '../../links/link';
import { useApp, type AppState } from '../../state/store';
import styles from './CopyLink.module.css';

/** What a link for the current conversion says: never a token, never file contents. */
export function linkStateOf(s: Pick<AppState, 'hub' | 'options'> & { plan?: AppState['plan'] }): LinkState {
  return {
    // Pinned to the commit that was read, so the link repeats exactly this conversion.
    adapter: s.hub ? s.hub.pinned : null,
    base: s.hub?.baseRequested ?? null,
    outtype: s.options.outtype,
    name: s.options.name || null,
    dropUnapplied: s.options.dropUnapplied,
    keepNormVectors: s.options.keepNormVectors ? true : null,
    format: s.plan?.adapter.source === 'mlx' ? 'mlx' : null,
  };
}

/** "Copy link": the conversion's settings in the URL fragment (#v=1&…), to the clipboard and shown for copying by hand. */
export function CopyLink() {
  const hub = useApp((s) => s.hub);
  const options = useApp((s) => s.options);
  const plan = useApp((s) => s.plan);
  const [shown, setShown] = useState<{ url: string; copied: boolean } | null>(null);

  const copy = async () => {
    const url = linkUrl(window.location.href, linkStateOf({ hub, options, plan }));
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      // No clipboard permission (or an insecure context): the field below is there to copy from.
    }
    setShown({ url, copied });
  };

  return (
    <div className={styles.box}>
      <button type="button" data-testid="copy-link" onClick={() => void copy()}>
        Copy link
      </button>
      {shown && (
        <div className={styles.result} role="status">
          <span>
            {shown.copied ? 'Link copied.' : 'Copy this link:'}{' '}
            {hub
              ? 'It opens this adapter with these options; the conversion starts only when Convert is clicked.'
              : 'It restores these options and asks for the adapter files.'}{' '}
            It holds no token and no file contents.
          </span>
          <input
            className={styles.url}
            data-testid="share-link"
            type="text"
            readOnly
            value={shown.url}
            aria-label="Shareable link"
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
      )}
    </div>
  );
}
