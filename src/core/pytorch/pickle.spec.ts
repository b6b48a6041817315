import { describe, expect, it } from 'vitest';
import { ConversionError } from '../errors';
import { unpickle } from './pickle';

/**
 * Bytes made by CPython's pickle (3.11) from
 * {'a': 1, 'b': [1, -2, 300, 70000, 2**40, -2**40], 'c': (None, True, False), 'd': 1.5,
 *  'e': 'ü', 'f': b'xy', 'g': ('a', 'a')}
 */
const PROTOCOL_4 = [
  128, 4, 149, 100, 0, 0, 0, 0, 0, 0, 0, 125, 148, 40, 140, 1, 97, 148, 75, 1, 140, 1, 98, 148, 93, 148, 40, 75, 1, 74, 254, 255, 255, 255, 77, 44, 1, 74, 112,
  17, 1, 0, 138, 6, 0, 0, 0, 0, 0, 1, 138, 6, 0, 0, 0, 0, 0, 255, 101, 140, 1, 99, 148, 78, 136, 137, 135, 148, 140, 1, 100, 148, 71, 63, 248, 0, 0, 0, 0, 0, 0,
  140, 1, 101, 148, 140, 2, 195, 188, 148, 140, 1, 102, 148, 67, 2, 120, 121, 148, 140, 1, 103, 148, 104, 1, 104, 1, 134, 148, 117, 46,
];
/** The same object at protocol 2, where bytes go through the global _codecs.encode. */
const PROTOCOL_2 = [
  128, 2, 125, 113, 0, 40, 88, 1, 0, 0, 0, 97, 113, 1, 75, 1, 88, 1, 0, 0, 0, 98, 113, 2, 93, 113, 3, 40, 75, 1, 74, 254, 255, 255, 255, 77, 44, 1, 74, 112, 17,
  1, 0, 138, 6, 0, 0, 0, 0, 0, 1, 138, 6, 0, 0, 0, 0, 0, 255, 101, 88, 1, 0, 0, 0, 99, 113, 4, 78, 136, 137, 135, 113, 5, 88, 1, 0, 0, 0, 100, 113, 6, 71, 63,
  248, 0, 0, 0, 0, 0, 0, 88, 1, 0, 0, 0, 101, 113, 7, 88, 2, 0, 0, 0, 195, 188, 113, 8, 88, 1, 0, 0, 0, 102, 113, 9, 99, 95, 99, 111, 100, 101, 99, 115, 10,
  101, 110, 99, 111, 100, 101, 10, 113, 10, 88, 2, 0, 0, 0, 120, 121, 113, 11, 88, 6, 0, 0, 0, 108, 97, 116, 105, 110, 49, 113, 12, 134, 113, 13, 82, 113, 14,
  88, 1, 0, 0, 0, 103, 113, 15, 104, 1, 104, 1, 134, 113, 16, 117, 46,
];

describe('unpickle (the data a state dict needs)', () => {
  it('decodes protocol 4 frames, memo, ints of every width, floats, strings, bytes and tuples', () => {
    const { value, end } = unpickle(Uint8Array.from(PROTOCOL_4), 'x');
    expect(end).toBe(PROTOCOL_4.length);
    const m = value as Map<string, unknown>;
    expect([...m.keys()]).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(m.get('a')).toBe(1);
    expect(m.get('b')).toEqual([1, -2, 300, 70000, 2 ** 40, -(2 ** 40)]);
    expect(m.get('c')).toEqual([null, true, false]);
    expect(Object.isFrozen(m.get('c'))).toBe(true); // a tuple
    expect(m.get('d')).toBe(1.5);
    expect(m.get('e')).toBe('ü');
    expect(m.get('f')).toEqual(Uint8Array.from([120, 121]));
    expect(m.get('g')).toEqual(['a', 'a']); // the second 'a' comes from the memo
  });

  it('refuses the _codecs.encode global protocol 2 uses for bytes', () => {
    let err: unknown;
    try {
      unpickle(Uint8Array.from(PROTOCOL_2), 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).details['global']).toBe('_codecs.encode');
  });

  it('starts at an offset and stops at STOP (pickles that follow each other)', () => {
    const two = Uint8Array.from([0x80, 2, 0x4b, 7, 0x2e, 0x80, 2, 0x4b, 9, 0x2e]);
    const first = unpickle(two, 'x');
    expect(first).toEqual({ value: 7, end: 5 });
    expect(unpickle(two, 'x', first.end)).toEqual({ value: 9, end: 10 });
  });

  it('flags a pickle that runs out of bytes as truncated', () => {
    let err: unknown;
    try {
      unpickle(Uint8Array.from([0x80, 2, 0x58, 100, 0, 0, 0, 0x61]), 'x');
    } catch (e) {
      err = e;
    }
    expect((err as ConversionError).details['truncated']).toBe(true);
  });

  it('refuses a persistent id that is not a storage', () => {
    // PROTO 2, BINUNICODE "evil", TUPLE1, BINPERSID, STOP
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x58, 4, 0, 0, 0, 101, 118, 105, 108, 0x85, 0x51, 0x2e]), 'x')).toThrow(/unknown persistent id/);
  });
});
