import { expose, wrap } from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import { ConversionError } from '../src/core';
import { deserializeThrown, registerErrorTransfer, serializeThrown } from './protocol';

interface Api {
  failConversion(): Promise<void>;
  failDom(): Promise<void>;
  failPlain(): Promise<void>;
  failValue(): Promise<void>;
  ok(x: number): Promise<number>;
}

const ports: { close(): void }[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

function connect(): ReturnType<typeof wrap<Api>> {
  registerErrorTransfer();
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  const api: Api = {
    async failConversion() {
      throw new ConversionError(
        'tied_head',
        'lm_head LoRA on a tied base',
        { tensors: ['a.lora_A.weight', 'a.lora_B.weight'], field: 'config.json: tie_word_embeddings', module: 'lm_head' },
        'drop it',
      );
    },
    async failDom() {
      const e = new Error('disk full');
      Object.defineProperty(e, 'name', { value: 'QuotaExceededError' });
      throw e;
    },
    async failPlain() {
      throw new TypeError('boom');
    },
    async failValue() {
      throw 42;
    },
    async ok(x) {
      return x + 1;
    },
  };
  // Node's MessagePort is an EventTarget-like endpoint Comlink accepts.
  expose(api, port1 as unknown as Parameters<typeof expose>[1]);
  return wrap<Api>(port2 as unknown as Parameters<typeof wrap>[0]);
}

describe('Comlink error transfer', () => {
  test('a ConversionError keeps its class, code, details and hint across the channel', async () => {
    const remote = connect();
    const err = await remote.failConversion().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversionError);
    const ce = err as ConversionError;
    expect(ce.code).toBe('tied_head');
    expect(ce.message).toBe('lm_head LoRA on a tied base');
    expect(ce.details).toEqual({ tensors: ['a.lora_A.weight', 'a.lora_B.weight'], field: 'config.json: tie_word_embeddings', module: 'lm_head' });
    expect(ce.hint).toBe('drop it');
  });

  test('other errors keep their name (the page decides by it) and message', async () => {
    const remote = connect();
    const dom = (await remote.failDom().catch((e: unknown) => e)) as Error;
    expect(dom).toBeInstanceOf(Error);
    expect(dom.name).toBe('QuotaExceededError');
    expect(dom.message).toBe('disk full');
    const plain = (await remote.failPlain().catch((e: unknown) => e)) as Error;
    expect(plain.name).toBe('TypeError');
    expect(plain.message).toBe('boom');
  });

  test('a thrown non-error value arrives as itself; results are untouched', async () => {
    const remote = connect();
    expect(await remote.failValue().catch((e: unknown) => e)).toBe(42);
    expect(await remote.ok(1)).toBe(2);
  });

  test('serialize → deserialize is the identity on what people read', () => {
    const original = new ConversionError('shape_mismatch', 'ranks differ', { tensors: ['x'] }, 'fix it');
    const back = deserializeThrown(structuredClone(serializeThrown(original))) as ConversionError;
    expect(back.toJSON()).toEqual(original.toJSON());
    expect(back.stack).toBe(original.stack);
  });
});
