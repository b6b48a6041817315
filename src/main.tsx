import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/components/App/App';
import './app/global.css';
import { cleanupTempFiles, getTempFile, holdTempLock, removeTempFile } from './app/services/save';
import { createWorkerConverter } from './app/services/worker-bridge';
import { createAppStore, setAppStore } from './app/state/store';
import { registerPwa } from './app/pwa/register';

const store = createAppStore(createWorkerConverter(), {
  holdTempLock,
  getTempFile,
  removeTempFile,
  createObjectURL: (file) => URL.createObjectURL(file),
  revokeObjectURL: (url) => URL.revokeObjectURL(url),
  now: () => performance.now(),
});
setAppStore(store);

// Temporary outputs of tabs that were closed before their download finished.
void cleanupTempFiles().catch(() => undefined);

// The offline service worker; a new version waits for the user's click (src/app/pwa).
registerPwa();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
