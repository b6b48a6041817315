import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/components/App/App';
import './app/global.css';
import { abortStreamDownload, cleanupTempFiles, getTempFile, holdTempLock, removePickedIfEmpty, removeTempFile } from './app/services/save';
import { probeSavePaths } from './app/services/save-paths';
import { createWorkerConverter } from './app/services/worker-bridge';
import { createAppStore, setAppStore } from './app/state/store';
import { registerPwa } from './app/pwa/register';
import { setHubConverter } from './app/services/hub-session';
import { setGgufConverter } from './app/services/gguf-session';
import { startLinks } from './app/links/apply-link';

const converter = createWorkerConverter();
const store = createAppStore(converter, {
  holdTempLock,
  removePickedIfEmpty,
  abortStreamDownload,
  getTempFile,
  removeTempFile,
  createObjectURL: (file) => URL.createObjectURL(file),
  revokeObjectURL: (url) => URL.revokeObjectURL(url),
  now: () => performance.now(),
});
setAppStore(store);
setHubConverter(converter);
setGgufConverter(converter);

// What this browser can save with, probed now (not at Convert), and again when a service worker
// takes control (the streamed download needs one).
const probe = () => void probeSavePaths().then((p) => store.getState().setSavePaths(p), () => undefined);
probe();
navigator.serviceWorker?.addEventListener('controllerchange', probe);

// Temporary outputs of tabs that were closed before their download finished.
void cleanupTempFiles().catch(() => undefined);

// The offline service worker; a new version waits for the user's click (src/app/pwa).
registerPwa();
// A shared link (#v=1&…) in the URL: restore it (src/app/links).
startLinks();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
