import { useEffect } from 'react';
import { useApp } from '../state/store';

const APP = 'lora2gguf';

/** The window title (the installed app's title bar, the tab) follows what the app is doing. */
export function documentTitle(phase: string, name: string, percent: number | null): string {
  switch (phase) {
    case 'reading':
      return `Reading files — ${APP}`;
    case 'preflight':
      return `${name ? `${name} — ` : ''}Check before converting — ${APP}`;
    case 'converting':
      return `${percent !== null ? `${percent}% ` : ''}Converting${name ? ` ${name}` : ''} — ${APP}`;
    case 'done':
      return `Done${name ? `: ${name}` : ''} — ${APP}`;
    default:
      return `${APP} — PEFT LoRA to GGUF in your browser`;
  }
}

export function DocumentTitle() {
  const phase = useApp((s) => s.phase);
  const name = useApp((s) => s.options.name);
  const percent = useApp((s) => (s.progress && s.progress.totalBytes > 0 ? Math.floor((s.progress.bytesWritten / s.progress.totalBytes) * 100) : null));
  useEffect(() => {
    document.title = documentTitle(phase, name, percent);
  }, [phase, name, percent]);
  return null;
}
