/**
 * The page's way to the worker's GGUF readers (check against a base, inspect an adapter), set
 * once at start-up like the Hub session's (main.tsx); components call these.
 */
import type { AdapterShape } from '../../core';
import type { BaseCheck, GgufInfo } from '../../../workers/protocol';
import type { Converter } from './worker-bridge';

let converter: Converter | null = null;

export function setGgufConverter(c: Converter): void {
  converter = c;
}

function need<K extends 'ggufInfo' | 'checkBase' | 'checkBaseOnHub'>(k: K): NonNullable<Converter[K]> {
  const fn = converter?.[k];
  if (!fn) throw new Error('The converter is not ready.');
  return fn.bind(converter) as NonNullable<Converter[K]>;
}

export const readGgufInfo = (file: File): Promise<GgufInfo> => need('ggufInfo')(file);
export const checkBaseFiles = (adapter: AdapterShape, base: File[]): Promise<BaseCheck> => need('checkBase')(adapter, base);
export const checkBaseOnHub = (adapter: AdapterShape, reference: string, endpoint: string, token: string | null): Promise<BaseCheck> =>
  need('checkBaseOnHub')(adapter, reference, endpoint, token);

/** The converter itself, for the views that run conversions of their own (the batch view). */
export function sessionConverter(): Converter {
  if (!converter) throw new Error('The converter is not ready.');
  return converter;
}
