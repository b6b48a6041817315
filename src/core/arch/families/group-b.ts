import type { ArchFamily } from '../types';

/** Families with fused projections or special layouts (registered in ../registry.ts). */
export const groupB: ArchFamily[] = [];
