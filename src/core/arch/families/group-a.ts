import type { ArchFamily } from '../types';

/** Decoder families with Llama-like layouts (registered in ../registry.ts). */
export const groupA: ArchFamily[] = [];
