// @vitest-environment happy-dom
/** The result page says how long the conversion took and how fast, and offers the link again. */
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { createAppStore, setAppStore } from '../../state/store';
import { formatRate, formatSeconds, ResultPanel } from './ResultPanel';

describe('ResultPanel', () => {
  afterEach(() => {
    cleanup();
    setAppStore(createAppStore({} as never, {} as never));
  });

  it('shows the time and the speed, and a Copy link button', () => {
    const store = createAppStore({} as never, {} as never);
    store.setState({
      phase: 'done',
      result: {
        size: 2_000_000,
        tensorCount: 4,
        ggufVersion: 3,
        keys: [],
        fileName: 'x-F16-LoRA.gguf',
        target: 'handle',
        downloadUrl: null,
        tempName: null,
        outtype: 'f16',
        architecture: 'llama',
        baseModel: 'org/base',
        warnings: [],
        seconds: 2.5,
        inputBytes: 500_000_000,
      },
    });
    setAppStore(store);
    render(<ResultPanel />);
    expect(screen.getByTestId('result-time').textContent).toBe('2.50 s');
    expect(screen.getByTestId('result-speed').textContent).toBe('200 MB/s of input');
    expect(screen.getByTestId('copy-link')).toBeTruthy();
  });

  it('formats long and short times and slow speeds', () => {
    expect(formatSeconds(0.123)).toBe('0.12 s');
    expect(formatSeconds(42.26)).toBe('42.3 s');
    expect(formatSeconds(185)).toBe('3 min 5 s');
    expect(formatRate(5e6, 1)).toBe('5.0 MB/s of input');
  });
});
