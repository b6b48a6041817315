/**
 * The model card published with a converted adapter: front matter the Hub reads (the real base
 * model as `base_model`, `base_model_relation: adapter`, the gguf and lora tags) and a body saying
 * what the file is, how it was converted, and how to use it (llama-cli, llama-server, Ollama).
 */
export interface CardInput {
  /** owner/name of the repo published to. */
  repo: string;
  fileName: string;
  /** The base model's Hub id (not the adapter's), when known. */
  baseModel: string | null;
  architecture: string | null;
  outtype: string | null;
  /** Where the adapter came from (a Hub reference or a folder name), if known. */
  source?: string | null;
  /** The conversion's settings, for the record (e.g. outtype, drop_unapplied). */
  settings?: Record<string, string | number | boolean>;
  /** The shareable link of the conversion, if there is one. */
  link?: string | null;
  pairs?: number;
}

/** YAML-safe scalar: quoted unless plainly safe. */
function yaml(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : JSON.stringify(s);
}

export function modelCard(c: CardInput): string {
  const base = c.baseModel ?? 'the base model';
  const baseGguf = `${(c.baseModel ?? 'base-model').split('/').pop()}.gguf`;
  const front = [
    '---',
    ...(c.baseModel ? [`base_model: ${yaml(c.baseModel)}`, 'base_model_relation: adapter'] : []),
    'tags:',
    '- gguf',
    '- lora',
    '- llama.cpp',
    '- lora2gguf',
    '---',
  ];
  const settings = Object.entries({ outtype: c.outtype ?? undefined, ...c.settings }).filter(([, v]) => v !== undefined);
  return [
    ...front,
    '',
    `# ${c.repo.split('/').pop()}`,
    '',
    `A LoRA adapter for ${c.baseModel ? `[${c.baseModel}](https://huggingface.co/${c.baseModel})` : 'its base model (not named when it was published)'} in GGUF, for llama.cpp, Ollama and LM Studio: \`${c.fileName}\`${c.architecture ? ` (architecture \`${c.architecture}\`${c.pairs ? `, ${c.pairs} LoRA pairs` : ''})` : ''}.`,
    '',
    `Converted with [lora2gguf](https://github.com/lora2gguf/lora2gguf)${c.source ? ` from \`${c.source}\`` : ''}.`,
    ...(settings.length ? ['', '| setting | value |', '| --- | --- |', ...settings.map(([k, v]) => `| ${k} | ${String(v)} |`)] : []),
    ...(c.link ? ['', `Repeat the conversion: ${c.link}`] : []),
    '',
    '## Use it',
    '',
    `With llama.cpp, on ${base} converted to GGUF:`,
    '',
    '```sh',
    `llama-cli -m ${baseGguf} --lora ${c.fileName}`,
    `llama-server -m ${baseGguf} --lora ${c.fileName}`,
    '```',
    '',
    'In an Ollama Modelfile:',
    '',
    '```',
    `FROM ${c.baseModel ? `hf.co/${c.baseModel}` : `./${baseGguf}`}`,
    `ADAPTER ./${c.fileName}`,
    '```',
    '',
  ].join('\n');
}
