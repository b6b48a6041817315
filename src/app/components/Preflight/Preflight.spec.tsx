// @vitest-environment happy-dom
/// <reference types="vite/client" />
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { bytesSource, inspect } from '../../../core';
import { REFERENCE } from '../../../../test/helpers/fixtures';
import { recognizeFiles } from '../../../../workers/recognize';
import type { Converter } from '../../services/worker-bridge';
import { createAppStore, setAppStore } from '../../state/store';
import { Preflight } from './Preflight';

/** The real core in-process behind the Converter interface (no worker, no writes). */
const converter: Converter = {
  recognize: (files) => recognizeFiles(files),
  async inspect(inputs, options) {
    return inspect(
      {
        adapterConfig: await inputs.adapterConfig.text(),
        baseConfig: await inputs.baseConfig.text(),
        adapter: bytesSource(new Uint8Array(await (inputs.adapter as File).arrayBuffer())),
      },
      options,
    );
  },
  convert: () => Promise.reject(new Error('not in this test')),
  cancel: () => undefined,
};

async function storeWith(caseName: string) {
  const store = createAppStore(converter, {
    holdTempLock: () => () => undefined,
    removePickedIfEmpty: async () => undefined,
    abortStreamDownload: () => undefined,
    getTempFile: async () => new File([], 'x'),
    removeTempFile: async () => undefined,
    createObjectURL: () => 'blob:x',
    revokeObjectURL: () => undefined,
    now: () => 0,
  });
  setAppStore(store);
  const dir = join(REFERENCE, caseName, 'input');
  const files = ['adapter_config.json', 'adapter_model.safetensors', 'base/config.json'].map((p) => ({
    path: `${caseName}/${p}`,
    file: new File([readFileSync(join(dir, p))], p.split('/').pop()!),
  }));
  await store.getState().addFiles({ rootName: caseName, files, truncated: false });
  return store;
}

afterEach(cleanup);

describe('<Preflight>', () => {
  test('the tied lm_head refusal: explained, Convert disabled; the opt-in lifts it and shows the warning', async () => {
    const store = await storeWith('gemma2_lm_head');
    render(<Preflight />);
    const refusal = screen.getByTestId('refusal');
    expect(refusal.getAttribute('data-code')).toBe('tied_head');
    expect(refusal.textContent).toMatch(/What to do/);
    expect((screen.getByTestId('convert') as HTMLButtonElement).disabled).toBe(true);
    await act(async () => {
      fireEvent.click(screen.getByTestId('drop-unapplied'));
    });
    await waitFor(() => expect(screen.queryByTestId('refusal')).toBeNull());
    expect(store.getState().options.dropUnapplied).toBe(true);
    expect(screen.getAllByTestId('warning').some((w) => w.getAttribute('data-code') === 'dropped')).toBe(true);
    expect((screen.getByTestId('convert') as HTMLButtonElement).disabled).toBe(false);
  });

  test('mergekit norm vectors: refused; "keep the norm vectors" keeps them (with a warning), "leave out" drops them', async () => {
    const store = await storeWith('qwen2_mergekit_auto');
    render(<Preflight />);
    expect(screen.getByTestId('refusal').getAttribute('data-code')).toBe('not_applied_by_runtime');
    const norms = store.getState().plan!.normVectors;
    expect(norms.length).toBeGreaterThan(0);
    expect(screen.getByTestId('keep-norm-vectors').closest('label')!.textContent).toContain(`Keep the ${norms.length} norm vectors`);
    await act(async () => {
      fireEvent.click(screen.getByTestId('keep-norm-vectors'));
    });
    await waitFor(() => expect(screen.queryByTestId('refusal')).toBeNull());
    expect(store.getState().options.keepNormVectors).toBe(true);
    expect(screen.getAllByTestId('warning').some((w) => w.getAttribute('data-code') === 'norms_not_applied')).toBe(true);
    const kept = store.getState().plan!.tensors.length;
    await act(async () => {
      fireEvent.click(screen.getByTestId('keep-norm-vectors'));
    });
    await waitFor(() => expect(screen.queryByTestId('refusal')).not.toBeNull());
    await act(async () => {
      fireEvent.click(screen.getByTestId('drop-unapplied'));
    });
    await waitFor(() => expect(screen.queryByTestId('refusal')).toBeNull());
    expect(store.getState().plan!.tensors.length).toBe(kept - norms.length);
    expect(screen.getAllByTestId('warning').some((w) => w.getAttribute('data-code') === 'dropped')).toBe(true);
  });

  test('facts, sizes per outtype, and the tensor search', async () => {
    const store = await storeWith('llama_bf16_f16');
    render(<Preflight />);
    const plan = store.getState().plan!;
    expect(screen.getByTestId('architecture').textContent).toBe('LlamaForCausalLM');
    expect(screen.getByTestId('rank').textContent).toBe(String(plan.adapter.r));
    expect(screen.getByTestId('output-file-name').textContent).toBe('llama_bf16_f16-F32-LoRA.gguf');
    // No opt-in checkbox without a droppable refusal.
    expect(screen.queryByTestId('drop-unapplied')).toBeNull();
    expect(screen.getByTestId('tensor-count').textContent).toBe(`${plan.tensors.length} output tensors`);
    fireEvent.change(screen.getByTestId('tensor-search'), { target: { value: 'layers.1.self_attn.q_proj' } });
    await waitFor(() => expect(screen.getByTestId('tensor-count').textContent).toBe(`2 of ${plan.tensors.length} output tensors`));
    await act(async () => {
      fireEvent.click(screen.getByTestId('outtype-q8_0'));
    });
    await waitFor(() => expect(screen.getByTestId('output-file-name').textContent).toBe('llama_bf16_f16-Q8_0-LoRA.gguf'));
  });
});
