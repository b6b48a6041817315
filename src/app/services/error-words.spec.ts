import { describe, expect, test } from 'vitest';
import { ConversionError, ERROR_CODES } from '../../core';
import { describeError, ERROR_WORDS } from './error-words';

describe('error words', () => {
  test.each(ERROR_CODES.map((c) => [c]))('%s has a title and a what-to-do', (code) => {
    const w = ERROR_WORDS[code];
    expect(w, code).toBeDefined();
    expect(w.title.length).toBeGreaterThan(10);
    expect(w.todo.length).toBeGreaterThan(10);
  });

  test('the map has no words for codes that do not exist', () => {
    expect(Object.keys(ERROR_WORDS).sort()).toEqual([...ERROR_CODES].sort());
  });

  test('a ConversionError: its message, the tensors and field involved, its own hint first', () => {
    const tensors = Array.from({ length: 9 }, (_, i) => `t${i}`);
    const d = describeError(
      new ConversionError('shape_mismatch', 'ranks differ', { tensors, field: 'adapter_config.json: r', file: 'adapter_model.safetensors' }, 'do this'),
    );
    expect(d.code).toBe('shape_mismatch');
    expect(d.title).toBe(ERROR_WORDS.shape_mismatch.title);
    expect(d.message).toBe('ranks differ');
    expect(d.involved).toEqual(['File: adapter_model.safetensors', 'Field: adapter_config.json: r', 'Tensors: t0, t1, t2, t3, t4, t5 and 3 more']);
    expect(d.todo).toBe('do this');
    expect(describeError(new ConversionError('dora', 'no')).todo).toBe(ERROR_WORDS.dora.todo);
  });

  test('a serialized ConversionError (plain object) is described like the real one', () => {
    const json = new ConversionError('tied_head', 'tied', { tensors: ['lm_head.lora_A.weight'] }).toJSON();
    expect(describeError(json).code).toBe('tied_head');
  });

  test('browser failures and unknown errors get words, never a crash', () => {
    const quota = Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
    expect(describeError(quota)).toMatchObject({ code: 'browser', title: 'Not enough storage space' });
    expect(describeError(Object.assign(new Error('x'), { name: 'AbortError' })).code).toBe('aborted');
    expect(describeError(new TypeError('weird'))).toMatchObject({ code: 'unexpected', message: 'weird' });
    expect(describeError('a string').message).toBe('a string');
    expect(describeError(undefined).code).toBe('unexpected');
  });
});
