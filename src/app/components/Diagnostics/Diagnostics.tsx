import type { ConversionPlan } from '../../../core';
import { ERROR_WORDS } from '../../services/error-words';
import styles from './Diagnostics.module.css';

function tensorLine(tensors: unknown): string | null {
  if (!Array.isArray(tensors) || tensors.length === 0) return null;
  const t = tensors as string[];
  return `${t.slice(0, 4).join(', ')}${t.length > 4 ? ` and ${t.length - 4} more` : ''}`;
}

/** The plan's refusals (conversion blocked) and warnings, each with its explanation and what to do. */
export function Diagnostics({ plan }: { plan: ConversionPlan }) {
  if (plan.refusals.length === 0 && plan.warnings.length === 0) return null;
  return (
    <div className={styles.list}>
      {plan.refusals.map((r, i) => {
        const words = ERROR_WORDS[r.code];
        const tensors = tensorLine(r.details?.tensors);
        return (
          <div key={`r${i}`} className={`${styles.item} ${styles.refusal}`} role="alert" data-testid="refusal" data-code={r.code}>
            <p className={styles.kind}>Refused: {words?.title ?? r.code}</p>
            <p>{r.message}</p>
            {tensors && <p className={styles.tensors}>{tensors}</p>}
            <p>
              <strong>What to do: </strong>
              {r.hint ?? words?.todo}
            </p>
          </div>
        );
      })}
      {plan.warnings.map((w, i) => (
        <div key={`w${i}`} className={`${styles.item} ${styles.warning}`} role="status" data-testid="warning" data-code={w.code}>
          <p className={styles.kind}>Warning</p>
          <p>{w.message}</p>
          {tensorLine(w.tensors) && <p className={styles.tensors}>{tensorLine(w.tensors)}</p>}
          {w.hint && <p>{w.hint}</p>}
        </div>
      ))}
    </div>
  );
}
