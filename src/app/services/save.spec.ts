import { describe, expect, test } from 'vitest';
import { whileLocked } from './save';

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
