import { ConversionError } from '../errors';
import { readGgufHeader, type GgufHeaderRead } from '../gguf/reader';
import { openHubFile } from '../hub/api';
import { formatHubRef, parseHubRef } from '../hub/ref';
import { shardNames, type BaseModel } from './base';

/**
 * A base GGUF on the Hub (`owner/repo/path/model.gguf[@revision]`, `hf:…`, or a pasted URL): the
 * header of every shard (for a split model, all that the named one belongs to), read by range
 * requests; `baseBytes` is the files' total size. Used by the CLI's check and the page's.
 */
export async function readHubBaseModel(reference: string, options: { endpoint: string; token?: string }): Promise<BaseModel & { baseBytes: number }> {
  const ref = parseHubRef(reference, { endpoint: options.endpoint });
  const parts = ref.subfolder.split('/');
  const file = parts.pop() ?? '';
  if (!/\.gguf$/i.test(file)) {
    throw new ConversionError('wrong_input', `${reference} does not name a .gguf file in the repository.`, {}, 'Give owner/repo/path/to/model.gguf.');
  }
  const folder = { ...ref, subfolder: parts.join('/') };
  const names = shardNames(file);
  const headers: GgufHeaderRead[] = [];
  let baseBytes = 0;
  for (const name of names) {
    const source = await openHubFile(folder, name, options);
    baseBytes += source.byteLength;
    headers.push(await readGgufHeader(source, `${formatHubRef(folder)}/${name}`));
  }
  return { file: names[0]!, headers, baseBytes };
}
