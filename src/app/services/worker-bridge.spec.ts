import { expose } from 'comlink';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConversionError } from '../../core';
import type { ConverterApi } from '../../../workers/protocol';
import { createWorkerConverter } from './worker-bridge';

/** A stand-in for a Worker: one end of a MessageChannel, with the Worker's events and terminate(). */
class FakeWorker extends EventTarget {
  terminated = false;
  constructor(private readonly port: MessagePort) {
    super();
    port.on('message', (data) => this.dispatchEvent(new MessageEvent('message', { data })));
  }
  postMessage(message: unknown, transfer: Transferable[] = []) {
    this.port.postMessage(message, transfer as never);
  }
  terminate() {
    this.terminated = true;
    this.port.close();
  }
  crash(message: string) {
    const e = new Event('error') as Event & { message: string };
    e.message = message;
    this.dispatchEvent(e);
  }
}

const open: MessagePort[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

function setup(api: Partial<ConverterApi>) {
  const workers: FakeWorker[] = [];
  const converter = createWorkerConverter(() => {
    const { port1, port2 } = new MessageChannel();
    open.push(port1, port2);
    expose({ ping: () => true, ...api }, port1 as unknown as Parameters<typeof expose>[1]);
    const w = new FakeWorker(port2);
    workers.push(w);
    return w as unknown as Worker;
  }, { cancelGraceMs: 200, pingMs: 20, deadMs: 150 });
  return { converter, workers };
}

const never = () => new Promise<never>(() => undefined);

describe('worker bridge', () => {
  test('starts the worker lazily, once; a ConversionError arrives intact', async () => {
    const { converter, workers } = setup({
      recognize: async () => [],
      inspect: async () => {
        throw new ConversionError('unsupported_architecture', 'nope', { architecture: 'Foo' }, 'try another');
      },
    });
    expect(workers).toHaveLength(0);
    expect(await converter.recognize([])).toEqual([]);
    const err = (await converter.inspect({} as never, {}).catch((e: unknown) => e)) as ConversionError;
    expect(err).toBeInstanceOf(ConversionError);
    expect([err.code, err.details.architecture, err.hint]).toEqual(['unsupported_architecture', 'Foo', 'try another']);
    expect(workers).toHaveLength(1);
  });

  test('a worker that dies fails every waiting call instead of leaving it hanging; the next call starts a new worker', async () => {
    const { converter, workers } = setup({ recognize: never, inspect: never, convert: never });
    const a = converter.recognize([]);
    const b = converter.convert({} as never, {}, { kind: 'opfs', directory: 'd', name: 'n' }, () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    workers[0]!.crash('out of memory');
    await expect(a).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/out of memory/) });
    await expect(b).rejects.toMatchObject({ code: 'io' });
    expect(workers[0]!.terminated).toBe(true);
    const c = converter.recognize([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(workers).toHaveLength(2);
    workers[1]!.crash('again');
    await expect(c).rejects.toMatchObject({ code: 'io' });
  });

  test('cancel asks the worker first; a conversion that does not stop is ended after the grace period (200 ms here)', async () => {
    let cancelled = 0;
    const { converter, workers } = setup({
      convert: never,
      cancel: () => {
        cancelled++;
      },
    });
    const run = converter.convert({} as never, {}, { kind: 'opfs', directory: 'd', name: 'n' }, () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    converter.cancel();
    await vi.waitFor(() => expect(cancelled).toBe(1));
    expect(workers[0]!.terminated).toBe(false);
    await expect(run).rejects.toMatchObject({ code: 'aborted' });
    expect(workers[0]!.terminated).toBe(true);
  });

  test('the watchdog: a conversion outliving many pings succeeds while the worker answers them', async () => {
    let pings = 0;
    const { converter } = setup({
      convert: () => new Promise((r) => setTimeout(() => r({ ok: true } as never), 400)),
      ping: () => (pings++, true),
    });
    await expect(converter.convert({} as never, {}, { kind: 'opfs', directory: 'd', name: 'n' }, () => undefined)).resolves.toEqual({ ok: true });
    expect(pings).toBeGreaterThanOrEqual(5);
  });

  test('the watchdog: a worker that stops answering (closed or killed, no error event) fails the conversion in words, and is ended', async () => {
    let alive = true;
    const { converter, workers } = setup({
      convert: never,
      recognize: never,
      ping: () => (alive ? true : (never() as never)),
    });
    const run = converter.convert({} as never, {}, { kind: 'opfs', directory: 'd', name: 'n' }, () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(workers[0]!.terminated).toBe(false);
    alive = false;
    await expect(run).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/stopped answering/) });
    expect(workers[0]!.terminated).toBe(true);
    // The next conversion gets a new worker.
    const next = converter.recognize([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(workers).toHaveLength(2);
    workers[1]!.crash('x');
    await expect(next).rejects.toMatchObject({ code: 'io' });
  });
});
