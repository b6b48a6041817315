/**
 * The service worker's state as the page sees it, in a small store of its own: whether the app
 * is cached for offline use, whether a new version is waiting, and the one action that lets it
 * take over. Kept apart from the conversion store; the toast reads both.
 */
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';

export interface PwaState {
  /** The app shell is cached: it loads and converts with no network. */
  offlineReady: boolean;
  /** A new version is installed and waiting for the user's go-ahead. */
  needRefresh: boolean;
  /** The user clicked "Reload": the waiting version was told to take over; the page reloads when it has. */
  updating: boolean;
  /** A new version took over without this tab asking (another tab clicked "Reload"). */
  tookOver: boolean;
  dismissOfflineReady(): void;
  dismissRefresh(): void;
  /** Ask the waiting service worker to take over, then reload. Only ever called from a click. */
  update(): Promise<void>;
}

/** What the store needs from the registration (virtual:pwa-register in the app, fakes in tests). */
export interface PwaDeps {
  /** Tell the waiting service worker to skip waiting. */
  skipWaiting(): Promise<void>;
  reload(): void;
}

export function createPwaStore(deps: PwaDeps): StoreApi<PwaState> & {
  /** Callbacks for registerSW. */
  events: { offlineReady(): void; needRefresh(): void; controllerChanged(): void };
} {
  const store = createStore<PwaState>((set, get) => ({
    offlineReady: false,
    needRefresh: false,
    updating: false,
    tookOver: false,
    dismissOfflineReady: () => set({ offlineReady: false }),
    dismissRefresh: () => set({ needRefresh: false }),
    async update() {
      if (!get().needRefresh || get().updating) return;
      set({ updating: true });
      await deps.skipWaiting();
    },
  }));
  let reloading = false;
  const events = {
    offlineReady: () => store.setState({ offlineReady: true }),
    needRefresh: () => store.setState({ needRefresh: true, offlineReady: false }),
    /** The new version controls the page now. Reload only when this tab asked for it, and once. */
    controllerChanged: () => {
      if (store.getState().updating) {
        if (!reloading) deps.reload();
        reloading = true;
      } else {
        store.setState({ tookOver: true, needRefresh: false });
      }
    },
  };
  return Object.assign(store, { events });
}

/** Filled in by register.ts (the real service worker); tests set their own. */
const appDeps: PwaDeps = {
  skipWaiting: async () => undefined,
  reload: () => window.location.reload(),
};

export function setPwaDeps(deps: Partial<PwaDeps>): void {
  Object.assign(appDeps, deps);
}

/** The app's PWA store (one per page). */
export const pwaStore = createPwaStore({ skipWaiting: () => appDeps.skipWaiting(), reload: () => appDeps.reload() });

export function usePwa<T>(selector: (s: PwaState) => T): T {
  return useStore(pwaStore, selector);
}
