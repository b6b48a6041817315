// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Converter } from '../services/worker-bridge';
import { createAppStore, setAppStore } from '../state/store';

import { pwaStore, setPwaDeps } from './pwa-state';
import { UpdateToast } from './UpdateToast';

const skipWaiting = vi.fn(async () => undefined);
setPwaDeps({ skipWaiting, reload: () => undefined });

const converter: Converter = {
  recognize: async () => [],
  inspect: () => Promise.reject(new Error('unused')),
  convert: () => Promise.reject(new Error('unused')),
  cancel: () => undefined,
};
const app = createAppStore(converter, {
  holdTempLock: () => () => undefined,
    removePickedIfEmpty: async () => undefined,
    abortStreamDownload: () => undefined,
  getTempFile: async () => new File([], 'x'),
  removeTempFile: async () => undefined,
  createObjectURL: () => 'blob:x',
  revokeObjectURL: () => undefined,
  now: () => 0,
});
setAppStore(app);

afterEach(cleanup);

describe('<UpdateToast>', () => {
  test('"Ready to work offline" once cached', () => {
    render(<UpdateToast />);
    act(() => pwaStore.events.offlineReady());
    expect(screen.getByTestId('offline-ready').textContent).toContain('Ready to work offline');
  });

  test('the update waits while a conversion runs; the click sends skipWaiting only when idle', async () => {
    act(() => app.setState({ phase: 'converting' }));
    render(<UpdateToast />);
    act(() => pwaStore.events.needRefresh());
    const button = screen.getByTestId('update-reload') as HTMLButtonElement;
    expect(screen.getByTestId('update-toast').textContent).toContain('when the conversion has finished');
    expect(button.disabled).toBe(true);
    fireEvent.click(button);
    expect(skipWaiting).not.toHaveBeenCalled();

    act(() => app.setState({ phase: 'done' }));
    expect(button.disabled).toBe(false);
    await act(async () => {
      fireEvent.click(button);
    });
    expect(skipWaiting).toHaveBeenCalledTimes(1);
    expect(pwaStore.getState().updating).toBe(true);
  });
});
