import { describe, expect, it, vi } from 'vitest';
import { documentTitle } from './DocumentTitle';
import { createPwaStore } from './pwa-state';

function setup() {
  const deps = { skipWaiting: vi.fn(async () => undefined), reload: vi.fn() };
  return { deps, store: createPwaStore(deps) };
}

describe('PWA update flow', () => {
  it('a waiting version never reloads the page by itself', () => {
    const { deps, store } = setup();
    store.events.needRefresh();
    expect(store.getState().needRefresh).toBe(true);
    // The new version takes over without this tab asking (another tab clicked): no reload, just a notice.
    store.events.controllerChanged();
    expect(deps.reload).not.toHaveBeenCalled();
    expect(store.getState().tookOver).toBe(true);
    expect(store.getState().needRefresh).toBe(false);
  });

  it('reloads only after the user asked for the update and the new version took control', async () => {
    const { deps, store } = setup();
    store.events.needRefresh();
    await store.getState().update();
    expect(deps.skipWaiting).toHaveBeenCalledTimes(1);
    expect(deps.reload).not.toHaveBeenCalled();
    expect(store.getState().updating).toBe(true);
    store.events.controllerChanged();
    expect(deps.reload).toHaveBeenCalledTimes(1);
    // Both workbox-window and the page's own controllerchange listener may report it: one reload.
    store.events.controllerChanged();
    expect(deps.reload).toHaveBeenCalledTimes(1);
  });

  it('update does nothing when no version is waiting, and is not sent twice', async () => {
    const { deps, store } = setup();
    await store.getState().update();
    expect(deps.skipWaiting).not.toHaveBeenCalled();
    store.events.needRefresh();
    await Promise.all([store.getState().update(), store.getState().update()]);
    expect(deps.skipWaiting).toHaveBeenCalledTimes(1);
  });

  it('offline-ready is replaced by the update prompt, and can be dismissed', () => {
    const { store } = setup();
    store.events.offlineReady();
    expect(store.getState().offlineReady).toBe(true);
    store.getState().dismissOfflineReady();
    expect(store.getState().offlineReady).toBe(false);
    store.events.offlineReady();
    store.events.needRefresh();
    expect(store.getState()).toMatchObject({ offlineReady: false, needRefresh: true });
  });
});

describe('documentTitle', () => {
  it.each([
    ['empty', '', null, 'lora2gguf — PEFT LoRA to GGUF in your browser'],
    ['preflight', 'my-lora', null, 'my-lora — Check before converting — lora2gguf'],
    ['converting', 'my-lora', 42, '42% Converting my-lora — lora2gguf'],
    ['done', 'my-lora', null, 'Done: my-lora — lora2gguf'],
  ] as const)('%s', (phase, name, percent, title) => {
    expect(documentTitle(phase, name, percent)).toBe(title);
  });
});
