import { useId, useRef, useState, type DragEvent } from 'react';
import { captureDrop, collectDropped, collectFileList, type Collected } from '../../services/walk';
import styles from './DropZone.module.css';

interface Props {
  onFiles(collected: Collected): void;
  onError(e: unknown): void;
  busy?: boolean;
  compact?: boolean;
  /** The headline, e.g. "Drop the adapter folder here". */
  lead?: string;
  sub?: string;
  /** Offer a folder picker too (not for a single config.json). */
  folders?: boolean;
  /** Names the hidden inputs for tests and assistive tech. */
  idPrefix?: string;
}

/**
 * A drop target for a folder or files. Everything it does is reachable by keyboard through its
 * real buttons ("Choose files", "Choose folder"); a click anywhere else on it opens the file
 * picker too. (No role="button" on the zone: it contains buttons, and nested controls confuse
 * screen readers.)
 */
export function DropZone({
  onFiles,
  onError,
  busy = false,
  compact = false,
  lead = 'Drop the adapter folder here',
  sub = 'adapter_config.json + adapter_model.safetensors, and the base model’s config.json if you have it',
  folders = true,
  idPrefix = 'adapter',
}: Props) {
  const [over, setOver] = useState(false);
  const filesRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  const hintId = useId();
  const leadId = useId();

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (busy) return;
    // Capture synchronously: the DataTransfer is emptied when this handler returns.
    const items = captureDrop(e.dataTransfer);
    collectDropped(items).then(onFiles, onError);
  };
  const fromInput = (input: HTMLInputElement | null) => {
    if (!input?.files || input.files.length === 0) return;
    const collected = collectFileList(input.files);
    input.value = '';
    onFiles(collected);
  };

  return (
    <div
      className={`${styles.zone} ${compact ? styles.compact : ''} ${over ? styles.over : ''} ${busy ? styles.busy : ''}`}
      role="group"
      aria-labelledby={leadId}
      aria-describedby={hintId}
      aria-busy={busy}
      onClick={(e) => {
        if (e.target === e.currentTarget && !busy) filesRef.current?.click();
      }}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      data-testid={`${idPrefix}-dropzone`}
    >
      <p className={styles.lead} id={leadId}>
        {busy ? 'Reading files…' : lead}
      </p>
      <p className={styles.sub} id={hintId}>
        {sub}
      </p>
      <div className={styles.buttons}>
        <button type="button" onClick={() => filesRef.current?.click()} disabled={busy}>
          Choose files
        </button>
        {folders && (
          <button type="button" onClick={() => folderRef.current?.click()} disabled={busy}>
            Choose folder
          </button>
        )}
      </div>
      <input
        ref={filesRef}
        type="file"
        multiple
        hidden
        aria-label={`${lead}: choose files`}
        data-testid={`${idPrefix}-files-input`}
        onChange={(e) => fromInput(e.currentTarget)}
      />
      {folders && (
        <input
          ref={(el) => {
            folderRef.current = el;
            // React does not know the non-standard attribute; set it on the element.
            el?.setAttribute('webkitdirectory', '');
          }}
          type="file"
          hidden
          aria-label={`${lead}: choose a folder`}
          data-testid={`${idPrefix}-folder-input`}
          onChange={(e) => fromInput(e.currentTarget)}
        />
      )}
    </div>
  );
}
