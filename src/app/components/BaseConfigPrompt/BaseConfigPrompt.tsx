import { getAppStore, useApp } from '../../state/store';
import { DropZone } from '../DropZone/DropZone';
import styles from './BaseConfigPrompt.module.css';

/**
 * The adapter is there but not its base model's config.json: say which base the adapter names,
 * and take that model's config.json. (The catalogue and the Hub will offer it here too.)
 */
export function BaseConfigPrompt() {
  const baseModel = useApp((s) => s.selection?.baseModel ?? null);
  const problem = useApp((s) => s.baseConfigProblem);
  const hubUrl = baseModel && /^[\w.-]+\/[\w.-]+$/.test(baseModel) ? `https://huggingface.co/${baseModel}/blob/main/config.json` : null;
  return (
    <section className={styles.box} aria-labelledby="base-heading" data-testid="base-prompt">
      <h3 id="base-heading">The base model&apos;s config.json is needed</h3>
      {baseModel ? (
        <p>
          The adapter was trained on{' '}
          <span className={styles.model} data-testid="base-model-name">
            {baseModel}
          </span>
          . Its config.json tells the converter the architecture, the number of heads and whether the output head is tied.
          {hubUrl && (
            <>
              {' '}
              It is on the model&apos;s page:{' '}
              <a href={hubUrl} target="_blank" rel="noreferrer noopener">
                {baseModel}/config.json
              </a>
              .
            </>
          )}
        </p>
      ) : (
        <p>The adapter does not say which base model it was trained on (no base_model_name_or_path). Drop that model&apos;s config.json.</p>
      )}
      <DropZone
        compact
        folders={false}
        idPrefix="base"
        lead="Drop the base model’s config.json here"
        sub="Only config.json is needed, not the weights."
        onFiles={(c) => void getAppStore().getState().addBaseConfig(c)}
        onError={(e) => getAppStore().getState().failLoad(e)}
      />
      {problem && (
        <p className={styles.problem} role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}
