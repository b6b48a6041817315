import { lazy, Suspense, useEffect } from 'react';
import { useApp, getAppStore } from '../../state/store';
import { loadSample } from '../../services/sample';
import type { Collected } from '../../services/walk';
import { DropZone } from '../DropZone/DropZone';
import { ErrorPanel } from '../ErrorPanel/ErrorPanel';
import { DocumentTitle } from '../../pwa/DocumentTitle';
import { LinkNotice } from '../../links/LinkNotice';
import { HubInput } from '../HubInput/HubInput';
import { UpdateToast } from '../../pwa/UpdateToast';
import styles from './App.module.css';

const loadAfterDrop = () => import('./AfterDrop');
const AfterDrop = lazy(loadAfterDrop);

function addFiles(c: Collected) {
  void getAppStore().getState().addFiles(c);
}

function trySample() {
  loadSample().then(addFiles, (e) => getAppStore().getState().failLoad(e));
}

export function App() {
  const phase = useApp((s) => s.phase);
  const loadError = useApp((s) => s.loadError);
  // The screens after a drop come in their own chunk: fetch it once the first screen is up.
  useEffect(() => {
    const idle = (globalThis as { requestIdleCallback?: (f: () => void) => number }).requestIdleCallback;
    const start = () => void loadAfterDrop();
    if (idle) idle(start);
    else setTimeout(start, 200);
  }, []);

  return (
    <div className={styles.app}>
      <header className={styles.header}>
        <h1 className={styles.title}>lora2gguf</h1>
        <p className={styles.tagline}>PEFT LoRA adapter → llama.cpp GGUF LoRA, converted in your browser. Nothing is uploaded.</p>
      </header>
      <main className={styles.main} aria-live="polite" aria-busy={phase === 'reading'}>
        <LinkNotice />
        {(phase === 'empty' || phase === 'reading') && (
          <>
            <DropZone onFiles={addFiles} onError={(e) => getAppStore().getState().failLoad(e)} busy={phase === 'reading'} />
            <div className={styles.emptyActions}>
              <button type="button" onClick={trySample} disabled={phase === 'reading'}>
                Try a sample
              </button>
              <span>A tiny Llama-style adapter bundled with the app.</span>
            </div>
            <HubInput />
          </>
        )}
        {loadError && <ErrorPanel error={loadError} />}
        {phase !== 'empty' && phase !== 'reading' && (
          <Suspense fallback={<p className={styles.loading}>Loading…</p>}>
            <AfterDrop />
          </Suspense>
        )}
      </main>
      <footer className={styles.footer}>
        The conversion runs in a Web Worker on this device. Output tensors follow llama.cpp&apos;s convert_lora_to_gguf.py; anything that would not load or
        apply as PEFT does is refused with the reason.
      </footer>
      <UpdateToast />
      <DocumentTitle />
    </div>
  );
}
