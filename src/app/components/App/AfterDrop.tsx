/**
 * The screens after a drop: preflight, progress and result. Loaded on demand (App.tsx imports
 * this lazily, and fetches it early when the browser is idle), so the first screen's JavaScript is
 * only what it shows.
 */
import { useApp, getAppStore } from '../../state/store';
import { BaseConfigPrompt } from '../BaseConfigPrompt/BaseConfigPrompt';
import { CopyLink } from '../CopyLink/CopyLink';
import { HubSummary } from '../HubInput/HubSummary';
import { InputFiles } from '../InputFiles/InputFiles';
import { Preflight } from '../Preflight/Preflight';
import { ProgressPanel } from '../ProgressPanel/ProgressPanel';
import { ResultPanel } from '../ResultPanel/ResultPanel';
import styles from './App.module.css';

export default function AfterDrop() {
  const phase = useApp((s) => s.phase);
  const needsBase = useApp((s) => !!s.selection?.adapterConfig && !!s.selection.adapter && !s.selection.baseConfig && !s.baseConfigFile);
  return (
    <>
      {phase === 'preflight' && (
        <>
          <div className={styles.toolbar}>
            <h2>Check before converting</h2>
            <button type="button" onClick={() => getAppStore().getState().reset()}>
              Start over
            </button>
          </div>
          <HubSummary />
          <InputFiles />
          {needsBase && <BaseConfigPrompt />}
          <Preflight />
          <CopyLink />
        </>
      )}
      {phase === 'converting' && <ProgressPanel />}
      {phase === 'done' && <ResultPanel />}
    </>
  );
}
