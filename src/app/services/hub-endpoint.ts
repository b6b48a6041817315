import { DEFAULT_HUB_ENDPOINT } from '../../core/light';

/**
 * The Hub this build talks to, fixed at build time (VITE_HUB_ENDPOINT; the e2e suite builds a
 * variant pointed at its local fake Hub). Never taken from a link or the page's URL.
 */
export const HUB_ENDPOINT: string = ((import.meta.env.VITE_HUB_ENDPOINT as string | undefined) || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
