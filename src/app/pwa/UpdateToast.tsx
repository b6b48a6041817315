import { useEffect } from 'react';
import { useApp } from '../state/store';
import { pwaStore, usePwa } from './pwa-state';
import styles from './UpdateToast.module.css';

/** How long "Ready to work offline" stays before it hides itself. */
const OFFLINE_READY_MS = 8000;

/**
 * "Ready to work offline" once the app is cached; "Update available — reload" when a new version
 * is waiting. The reload happens only on the user's click, and the button waits while a
 * conversion runs (a reload would abort it).
 */
export function UpdateToast() {
  const offlineReady = usePwa((s) => s.offlineReady);
  const needRefresh = usePwa((s) => s.needRefresh);
  const updating = usePwa((s) => s.updating);
  const tookOver = usePwa((s) => s.tookOver);
  const converting = useApp((s) => s.phase === 'converting');

  useEffect(() => {
    if (!offlineReady) return;
    const t = setTimeout(() => pwaStore.getState().dismissOfflineReady(), OFFLINE_READY_MS);
    return () => clearTimeout(t);
  }, [offlineReady]);

  if (needRefresh) {
    return (
      <div className={styles.toast} role="status" data-testid="update-toast">
        <span>{converting ? 'Update available — reload when the conversion has finished.' : 'Update available — reload to use the new version.'}</span>
        <div className={styles.actions}>
          <button
            type="button"
            className={styles.primary}
            data-testid="update-reload"
            disabled={converting || updating}
            onClick={() => void pwaStore.getState().update()}
          >
            {updating ? 'Reloading…' : 'Reload'}
          </button>
          <button type="button" onClick={() => pwaStore.getState().dismissRefresh()} disabled={updating}>
            Later
          </button>
        </div>
      </div>
    );
  }
  if (tookOver) {
    return (
      <div className={styles.toast} role="status" data-testid="update-took-over">
        <span>A new version was installed in another tab. Reload this page{converting ? ' when the conversion has finished' : ''} to use it.</span>
      </div>
    );
  }
  if (offlineReady) {
    return (
      <div className={styles.toast} role="status" data-testid="offline-ready">
        <span>Ready to work offline.</span>
        <div className={styles.actions}>
          <button type="button" onClick={() => pwaStore.getState().dismissOfflineReady()}>
            OK
          </button>
        </div>
      </div>
    );
  }
  return null;
}
