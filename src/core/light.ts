/**
 * What the page needs before it loads the converter: the error type, the output types, Hub
 * references, output names and the bundled base-config catalogue. None of it imports the
 * converter, the architecture tables or @huggingface/gguf, so the first screen stays small; the
 * converter runs in the worker. (Types of the whole core can still be imported from `./index`.)
 */
export { ConversionError, ERROR_CODES, isAbortError, isConversionError } from './errors';
export { OUTTYPES } from './outtype';
export type { OutType, OutTypeOption } from './outtype';
export { defaultOutputFileName } from './naming';
export { lookupBaseConfig } from './catalogue/lookup';
export {
  parseHubRef,
  formatHubRef,
  hubRefDisplayName,
  isValidRepoId,
  looksLikeHubReference,
  repoIdProblem,
  revisionProblem,
  refFilePath,
  DEFAULT_HUB_ENDPOINT,
  DEFAULT_REVISION,
} from './hub/ref';
