/**
 * Opening a shared link: read the fragment, report what was ignored, restore the options, and
 * for a Hub adapter open its preflight (conversion starts only on the user's click). For local
 * files the options wait for the drop (the store's pendingOptions) and the page asks for the files.
 */
import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import { openFromHub } from '../services/hub-session';
import { getAppStore, type Options } from '../state/store';
import { decodeLink, isLinkFragment, type LinkProblem, type LinkState } from './link';

export interface LinkView {
  problems: LinkProblem[];
  /** A link for local files was opened: the page asks for them. */
  askForFiles: boolean;
  /** The options the link restored, for the notice. */
  restored: Partial<Options> | null;
  /** Who wrote the adapter the link was made for (the notice asks for the right files). */
  format: LinkState['format'];
}

export const linkStore = createStore<LinkView>(() => ({ problems: [], askForFiles: false, restored: null, format: null }));

export function useLink<T>(selector: (s: LinkView) => T): T {
  return useStore(linkStore, selector);
}

function optionsOf(state: LinkState): Partial<Options> {
  const o: Partial<Options> = {};
  if (state.outtype) o.outtype = state.outtype;
  if (state.name) o.name = state.name;
  if (state.dropUnapplied !== null) o.dropUnapplied = state.dropUnapplied;
  if (state.keepNormVectors !== null) o.keepNormVectors = state.keepNormVectors;
  return o;
}

/** Apply a fragment (location.hash). Not a link: nothing happens. Never throws. */
export function applyLink(hash: string): void {
  if (!isLinkFragment(hash.replace(/^#/, ''))) return;
  const app = getAppStore();
  if (app.getState().phase === 'converting') return;
  const { state, problems } = decodeLink(hash);
  if (!state) {
    linkStore.setState({ problems, askForFiles: false, restored: null, format: null });
    return;
  }
  const options = optionsOf(state);
  if (state.adapter) {
    linkStore.setState({ problems, askForFiles: false, restored: options, format: state.format });
    void openFromHub({ ref: state.adapter, base: state.base, options });
    return;
  }
  // Local files: the options (outtype at once; name and the rest with the drop).
  app.getState().reset();
  app.setState({ pendingOptions: options, options: { ...app.getState().options, ...options } });
  linkStore.setState({ problems, askForFiles: true, restored: options, format: state.format });
}

/** Read the page's fragment now, and again when it changes (a link pasted into the address bar). */
export function startLinks(): void {
  applyLink(window.location.hash);
  window.addEventListener('hashchange', () => applyLink(window.location.hash));
}
