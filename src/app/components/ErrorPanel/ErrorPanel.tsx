import type { DescribedError } from '../../services/error-words';
import styles from './ErrorPanel.module.css';

/** One error in words: what happened, what is involved, what to do. */
export function ErrorPanel({ error, testId = 'error' }: { error: DescribedError; testId?: string }) {
  return (
    <section className={styles.panel} role="alert" data-testid={testId} data-code={error.code}>
      <h3 className={styles.title}>{error.title}</h3>
      <p className={styles.message}>{error.message}</p>
      {error.involved.length > 0 && (
        <ul className={styles.involved}>
          {error.involved.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
      <p className={styles.todo}>
        <strong>What to do: </strong>
        {error.todo}
      </p>
    </section>
  );
}
