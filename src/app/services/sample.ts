/**
 * The bundled sample adapter (public/sample, made by scripts/make-sample.ts): fetched from the
 * app's own origin and handed over like a dropped folder.
 */
import type { Collected } from './walk';

export const SAMPLE_NAME = 'tiny-llama-lora-sample';
const SAMPLE_FILES = ['adapter_config.json', 'adapter_model.safetensors', 'base/config.json'];

export async function loadSample(base: string = import.meta.env.BASE_URL): Promise<Collected> {
  const files = await Promise.all(
    SAMPLE_FILES.map(async (path) => {
      const res = await fetch(`${base}sample/${path}`);
      if (!res.ok) throw new Error(`The sample file ${path} could not be loaded (HTTP ${res.status}).`);
      const name = path.slice(path.lastIndexOf('/') + 1);
      return { path: `${SAMPLE_NAME}/${path}`, file: new File([await res.blob()], name) };
    }),
  );
  return { rootName: SAMPLE_NAME, files, truncated: false };
}
