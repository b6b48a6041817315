/// <reference types="vite-plugin-pwa/vanillajs" />
/**
 * Registers the service worker (vite-plugin-pwa, registerType 'prompt') and feeds its events to
 * the PWA store. Called once from main.tsx. The page never reloads by itself: only the update
 * toast's button does, and the button is disabled while a conversion runs.
 */
import { registerSW } from 'virtual:pwa-register';
import { pwaStore, setPwaDeps } from './pwa-state';

/** A build id (VITE_BUILD_ID at build time), shown as `data-build` on <html>: tells versions apart in tests and bug reports. */
export const BUILD_ID: string = import.meta.env.VITE_BUILD_ID ?? '';

export function registerPwa(): void {
  if (BUILD_ID) document.documentElement.dataset['build'] = BUILD_ID;
  if (!('serviceWorker' in navigator)) return;
  const skip = registerSW({
    immediate: true,
    onOfflineReady: pwaStore.events.offlineReady,
    onNeedRefresh: pwaStore.events.needRefresh,
    // Called when the new version has taken control (after skipWaiting). The default would reload at once.
    onNeedReload: pwaStore.events.controllerChanged,
    onRegisterError: () => undefined,
  });
  setPwaDeps({ skipWaiting: () => skip() });
  // workbox-window reports a takeover as an update only if the page was controlled when it loaded;
  // a first-visit tab (claimed by the first service worker) would not reload after the click.
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (pwaStore.getState().updating) pwaStore.events.controllerChanged();
  });
}
