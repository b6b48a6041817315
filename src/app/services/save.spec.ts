import { describe, expect, test } from 'vitest';
import { startStreamDownload, whileLocked } from './save';

const named = (name: string) => Object.assign(new Error(name), { name });

describe('whileLocked', () => {
  test('retries a removal refused while a dying worker still holds the file, until it goes through', async () => {
    let calls = 0;
    await whileLocked(
      async () => {
        calls++;
        if (calls < 3) throw named(calls === 1 ? 'NoModificationAllowedError' : 'InvalidStateError');
      },
      [1, 1, 1],
    );
    expect(calls).toBe(3);
  });

  test('any other error is thrown at once', async () => {
    let calls = 0;
    const failure = whileLocked(
      async () => {
        calls++;
        throw named('NotFoundError');
      },
      [1, 1],
    );
    await expect(failure).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(calls).toBe(1);
  });

  test('gives up after the last delay with the last error', async () => {
    let calls = 0;
    const failure = whileLocked(
      async () => {
        calls++;
        throw named('NoModificationAllowedError');
      },
      [1, 1],
    );
    await expect(failure).rejects.toMatchObject({ name: 'NoModificationAllowedError' });
    expect(calls).toBe(3);
  });
});

describe('startStreamDownload', () => {
  test('no service worker in control, or one that does not answer: a named save_unavailable error, not a browser exception', async () => {
    const none = { navigator: {} } as unknown as Window;
    await expect(startStreamDownload('x.gguf', 10, none)).rejects.toMatchObject({ code: 'save_unavailable', message: expect.stringMatching(/no longer controls this page/) });
    const silent = { navigator: { serviceWorker: { controller: { postMessage: () => undefined } } } } as unknown as Window;
    await expect(startStreamDownload('x.gguf', 10, silent)).rejects.toMatchObject({ code: 'save_unavailable', message: expect.stringMatching(/did not answer/) });
  }, 10_000);
});
