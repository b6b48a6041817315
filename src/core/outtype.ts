/**
 * Output types the user can ask for. A module of its own (no imports) so that the page can offer
 * them before it loads the converter.
 */
export const OUTTYPES = ['f32', 'f16', 'bf16', 'q8_0'] as const;
export type OutType = (typeof OUTTYPES)[number];
/** `auto` is resolved to one of the others before planning. */
export type OutTypeOption = OutType | 'auto';
