import { OUTTYPES } from '../../../core/light';
// Straight from its module (not through light): the lazy chunk then carries it.
import { describeMlxLayers } from '../../../core/mlx/describe';
import type { ConversionPlan, OutType } from '../../../core';
import { formatBytes, formatNumber } from '../../services/format';
import { hasSavePicker, PickerCancelled, saveTargetFor } from '../../services/save';
import { RUNG_LABELS, type SaveRung } from '../../services/save-paths';
import { getAppStore, outputFileName, saveChoiceOf, useApp } from '../../state/store';
import { Diagnostics } from '../Diagnostics/Diagnostics';
import { ErrorPanel } from '../ErrorPanel/ErrorPanel';
import { TensorTable } from '../TensorTable/TensorTable';
import styles from './Preflight.module.css';

const OUTTYPE_NOTE: Record<OutType, string> = {
  f32: 'exact, largest (default)',
  f16: 'half size',
  bf16: 'half size, keeps bf16 range',
  q8_0: 'smallest, 8-bit',
};

/** Codes the "leave out what llama.cpp would not apply" opt-in resolves. */
const DROPPABLE = new Set(['tied_head', 'not_applied_by_runtime']);

function scalingText(plan: ConversionPlan): string {
  const scales = [...new Set(plan.modules.map((m) => m.peftScale))];
  if (plan.adapter.mlx && scales.length <= 1) return `${formatNumber(plan.adapter.mlx.scale)} (mlx-lm's scale)`;
  const { r, loraAlpha, useRslora } = plan.adapter;
  const formula = useRslora ? `α/√r = ${formatNumber(loraAlpha)}/√${r}` : `α/r = ${formatNumber(loraAlpha)}/${r}`;
  if (scales.length <= 1) return `${formatNumber(scales[0] ?? (useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r))} (${formula})`;
  return `${formatNumber(Math.min(...scales))} – ${formatNumber(Math.max(...scales))} (varies per module)`;
}

function targetText(t: ConversionPlan['adapter']['targetModules'], mlx: boolean): string {
  if (t === null) return mlx ? "mlx-lm's default: every linear layer of those blocks" : '—';
  if (typeof t === 'string') return `pattern ${t}`;
  return t.join(', ');
}

function onConvert() {
  const store = getAppStore();
  const state = store.getState();
  const fileName = outputFileName(state.options);
  // Before the probe has answered (the first moments after load): the save dialog if there is one, else storage.
  const chosen = saveChoiceOf(state);
  if (chosen && 'error' in chosen) return;
  const rung: SaveRung = chosen?.choice.rung ?? (hasSavePicker() ? 'picker' : 'storage');
  // The save dialog must open inside the click, before anything is awaited.
  saveTargetFor(rung, fileName, state.plan?.totalBytes ?? 0).then(
    (target) => store.getState().convert(target),
    (e) => {
      if (e instanceof PickerCancelled) return;
      store.getState().failLoad(e);
    },
  );
}

const RUNG_NOTES: Record<SaveRung, string> = {
  picker: 'You choose where to save; the file is written tensor by tensor.',
  storage: 'The file is prepared in browser storage, then offered as a download.',
  stream: 'The file streams into your Downloads folder as it is written; nothing is kept in memory.',
  memory: 'The file is kept in this tab’s memory, then offered as a download.',
};

export function Preflight() {
  const plan = useApp((s) => s.plan);
  const planError = useApp((s) => s.planError);
  const inspecting = useApp((s) => s.inspecting);
  const options = useApp((s) => s.options);
  const convertError = useApp((s) => s.convertError);
  const savePaths = useApp((s) => s.savePaths);
  const notice = useApp((s) => s.notice);
  const ready = useApp((s) => !!s.selection?.adapter && !!s.selection.adapterConfig && !!(s.baseConfigFile ?? s.selection.baseConfig));
  const store = getAppStore().getState();

  if (!ready) return null;
  if (planError) return <ErrorPanel error={planError} testId="plan-error" />;
  if (!plan) return <p className={styles.loading}>{inspecting ? 'Reading the adapter…' : ''}</p>;

  const droppable = plan.refusals.some((r) => DROPPABLE.has(r.code));
  const blocked = plan.refusals.length > 0;
  const saving = saveChoiceOf({ savePaths, plan });
  const rung: SaveRung = saving && 'choice' in saving ? saving.choice.rung : hasSavePicker() ? 'picker' : 'storage';
  const cannotSave = saving && 'error' in saving ? saving.error : null;

  return (
    <>
      <section className={styles.card} aria-labelledby="summary-heading" data-testid="preflight">
        <h3 id="summary-heading">Adapter</h3>
        <dl className={styles.facts}>
          <div>
            <dt>Architecture</dt>
            <dd data-testid="architecture">{plan.architecture}</dd>
          </div>
          <div>
            <dt>llama.cpp architecture</dt>
            <dd data-testid="gguf-architecture">{plan.ggufArchitecture}</dd>
          </div>
          <div>
            <dt>Written by</dt>
            <dd data-testid="adapter-format">{plan.adapter.mlx ? 'MLX adapter (mlx-lm)' : 'PEFT'}</dd>
          </div>
          <div>
            <dt>Rank (r)</dt>
            <dd data-testid="rank">{plan.adapter.r}</dd>
          </div>
          {plan.adapter.mlx ? (
            <div>
              <dt>Scale (mlx-lm)</dt>
              <dd data-testid="alpha">
                {formatNumber(plan.adapter.mlx.scale)} (written as α = scale × r = {formatNumber(plan.adapter.loraAlpha)})
              </dd>
            </div>
          ) : (
            <div>
              <dt>Alpha (α)</dt>
              <dd data-testid="alpha">{formatNumber(plan.adapter.loraAlpha)}</dd>
            </div>
          )}
          <div>
            <dt>Effective scaling</dt>
            <dd data-testid="scaling">{scalingText(plan)}</dd>
          </div>
          <div>
            <dt>Layers with LoRA</dt>
            <dd data-testid="layers">
              {plan.adapter.layers}
              {plan.adapter.mlx && ` — ${describeMlxLayers(plan.adapter.mlx)}`}
            </dd>
          </div>
          <div>
            <dt>Output tensors</dt>
            <dd data-testid="output-tensor-count">{plan.tensors.length}</dd>
          </div>
          <div>
            <dt>Base model</dt>
            <dd>{plan.adapter.baseModel ?? '—'}</dd>
          </div>
          <div style={{ gridColumn: '1 / -1' }}>
            <dt>Target modules</dt>
            <dd data-testid="targets">{targetText(plan.adapter.targetModules, !!plan.adapter.mlx)}</dd>
          </div>
        </dl>
      </section>

      <Diagnostics plan={plan} />

      {(droppable || options.dropUnapplied) && (
        <label className={styles.check}>
          <input
            type="checkbox"
            checked={options.dropUnapplied}
            onChange={(e) => store.setDropUnapplied(e.currentTarget.checked)}
            data-testid="drop-unapplied"
          />
          <span>
            <strong>Leave out what llama.cpp would not apply</strong> (named above) and convert the rest. The output then differs from PEFT by exactly that
            part, and the result page lists it.
          </span>
        </label>
      )}
      {(plan.normVectors.length > 0 || options.keepNormVectors) && (
        <label className={styles.check}>
          <input
            type="checkbox"
            checked={options.keepNormVectors}
            onChange={(e) => store.setKeepNormVectors(e.currentTarget.checked)}
            data-testid="keep-norm-vectors"
          />
          <span>
            <strong>Keep the {plan.normVectors.length || ''} norm vectors</strong> in the file, as llama.cpp&apos;s own converter does, knowing that llama.cpp
            ignores them.
          </span>
        </label>
      )}

      <section className={styles.card} aria-labelledby="output-heading">
        <h3 id="output-heading">Output</h3>
        <div className={styles.options}>
          <fieldset className={styles.outtypes}>
            <legend>Output type</legend>
            {OUTTYPES.map((o) => (
              <label key={o} className={styles.radio}>
                <input
                  type="radio"
                  name="outtype"
                  value={o}
                  checked={options.outtype === o}
                  onChange={() => store.setOuttype(o)}
                  data-testid={`outtype-${o}`}
                />
                <span className={styles.radioText}>
                  <strong>{o}</strong> — {OUTTYPE_NOTE[o]}
                </span>
                <span className={styles.size} data-testid={`size-${o}`}>
                  {formatBytes(plan.sizeByOuttype[o])}
                </span>
              </label>
            ))}
          </fieldset>
          <div className={styles.nameField}>
            <label htmlFor="output-name">Name (general.name and file name)</label>
            <input
              id="output-name"
              type="text"
              value={options.name}
              onChange={(e) => store.setName(e.currentTarget.value)}
              data-testid="output-name"
              autoComplete="off"
              spellCheck={false}
            />
            <p className={styles.fileName}>
              File: <span data-testid="output-file-name">{outputFileName(options)}</span> · {formatBytes(plan.sizeByOuttype[options.outtype])}
            </p>
          </div>
        </div>
        <p className={styles.fileName} data-testid="values-checked">
          Values are checked as they stream: a tensor holding NaN or infinite values stops the conversion, and nothing is kept.{' '}
          <label>
            <input
              type="checkbox"
              checked={options.keepNonFinite}
              onChange={(e) => store.setKeepNonFinite(e.currentTarget.checked)}
              data-testid="keep-non-finite"
            />{' '}
            Write them as they are
          </label>
        </p>
        {notice && (
          <p className={styles.notice} role="status" data-testid="notice">
            {notice}
          </p>
        )}
        {convertError && <ErrorPanel error={convertError} testId="convert-error" />}
        {cannotSave && <ErrorPanel error={cannotSave} testId="save-error" />}
        <p className={styles.fileName}>
          Saves to: <strong data-testid="save-path">{saving && 'choice' in saving ? saving.choice.label : RUNG_LABELS[rung]}</strong>
          {saving && 'choice' in saving && saving.choice.passedOver.length > 0 && (
            <span data-testid="save-path-why"> — {saving.choice.passedOver.join('; ')}</span>
          )}
          {saving && 'choice' in saving && saving.choice.caveat && (
            <>
              <br />
              <span data-testid="save-path-caveat">{saving.choice.caveat}</span>
            </>
          )}
        </p>
        <div className={styles.actions}>
          <button type="button" className="primary" onClick={onConvert} disabled={blocked || inspecting || !!cannotSave} data-testid="convert">
            {rung === 'picker' ? 'Convert and save…' : 'Convert'}
          </button>
          <span className={styles.why}>{blocked ? 'Conversion is refused: see above for why and what to do.' : RUNG_NOTES[rung]}</span>
        </div>
      </section>

      <section className={styles.card} aria-labelledby="tensors-heading">
        <h3 id="tensors-heading">Tensors</h3>
        <TensorTable plan={plan} />
      </section>
    </>
  );
}
