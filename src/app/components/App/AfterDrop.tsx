/**
 * The screens after a drop: preflight, progress and result. Loaded on demand (App.tsx imports
 * this lazily, and fetches it early when the browser is idle), so the first screen's JavaScript is
 * only what it shows.
 */
import type { AdapterShape, ConversionPlan } from '../../../core';
import { useShallow } from 'zustand/react/shallow';
import { useApp, getAppStore } from '../../state/store';
import { BaseCheck } from '../GgufCheck/BaseCheck';
import { BatchConvert } from '../BatchConvert/BatchConvert';
import { PublishPanel } from '../PublishPanel/PublishPanel';
import { GgufInspect } from '../GgufCheck/GgufInspect';
import { BaseConfigPrompt } from '../BaseConfigPrompt/BaseConfigPrompt';
import { CopyLink } from '../CopyLink/CopyLink';
import { HubSummary } from '../HubInput/HubSummary';
import { InputFiles } from '../InputFiles/InputFiles';
import { Preflight } from '../Preflight/Preflight';
import { ProgressPanel } from '../ProgressPanel/ProgressPanel';
import { ResultPanel } from '../ResultPanel/ResultPanel';
import styles from './App.module.css';

/** The adapter side of a base check, from the plan: what the converted file holds. */
function planShape(plan: ConversionPlan): AdapterShape {
  return { architecture: plan.ggufArchitecture, tensors: plan.tensors.map((t) => ({ name: t.name, ne: t.ne })) };
}

export default function AfterDrop() {
  const phase = useApp((s) => s.phase);
  const needsBase = useApp((s) => !!s.selection?.adapterConfig && !!s.selection.adapter && !s.selection.baseConfig && !s.baseConfigFile);
  const plan = useApp((s) => s.plan);
  // A .gguf dropped without an adapter to convert: inspect it.
  const gguf = useApp((s) => {
    if (s.selection?.adapterConfig || s.selection?.adapter) return null;
    const r = s.recognized.find((f) => f.kind === 'gguf');
    return r ? (s.files.find((f) => f.path === r.path)?.file ?? null) : null;
  });
  const checkable = plan && plan.refusals.length === 0 ? plan : null;
  // .gguf files dropped with an adapter: a base model to check it against.
  const droppedGguf = useApp(
    useShallow((s) =>
      s.selection?.adapter ? s.recognized.filter((r) => r.kind === 'gguf').flatMap((r) => s.files.filter((f) => f.path === r.path).map((f) => f.file)) : [],
    ),
  );
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
          {gguf && <GgufInspect file={gguf} />}
          <BatchConvert />
          <Preflight />
          {checkable && (
            <BaseCheck adapter={planShape(checkable)} label="the adapter, as it will be converted," dropped={droppedGguf.length ? droppedGguf : undefined} />
          )}
          <CopyLink />
        </>
      )}
      {phase === 'converting' && <ProgressPanel />}
      {phase === 'done' && (
        <>
          <ResultPanel />
          {checkable && <BaseCheck adapter={planShape(checkable)} label="the converted adapter" />}
          <PublishPanel />
        </>
      )}
    </>
  );
}
