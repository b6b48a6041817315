/**
 * The CLI's network-free base configs and Hub input, in-process (runCli) against the local fake
 * Hub: `hf:` references read by ranges and byte-identical to converting the same files locally,
 * the token sent only to the Hub, the bundled catalogue standing in for a missing config.json,
 * --text-only, and adapter_model.bin folders.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupBaseConfig } from '../../src/core';
import { runCli } from '../../cli/main';
import { BIN_FIXTURE_BASE, FIXTURES, REFERENCE } from '../helpers/fixtures';
import { referenceBaseRepo, referenceCaseRepo, startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { peftToMlx } from '../helpers/mlx';
import { baseTensorsFor, writeSparseBase } from '../helpers/gguf-base';
import { bytesSource, readGgufHeader } from '../../src/core';
import type { GgufTensorInfo } from '../../src/core/gguf/writer';
import { readGguf } from '../helpers/gguf-read';
import { buildSafetensors, type BuildTensor } from '../helpers/safetensors-build';

const ORG = 'test-org';
const LLAMA_INPUT = join(REFERENCE, 'llama_bf16_f16', 'input');
const LLAMA_BASE_CONFIG = join(LLAMA_INPUT, 'base', 'config.json');
const work = mkdtempSync(join(tmpdir(), 'l2g-cli-hub-'));
let hub: FakeHub;
let dirCount = 0;

function freshDir(): string {
  const d = join(work, `run-${dirCount++}`);
  mkdirSync(d);
  return d;
}

async function cli(args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd, isTTY: false, env });
  return { code, out, err };
}

/** The llama_bf16_f16 adapter with base_model_name_or_path replaced (the fixture names a catalogue base). */
function withBase(baseId: string): Record<string, Uint8Array | string> {
  const config = JSON.parse(readFileSync(join(LLAMA_INPUT, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  return {
    'adapter_config.json': JSON.stringify({ ...config, base_model_name_or_path: baseId }),
    'adapter_model.safetensors': new Uint8Array(readFileSync(join(LLAMA_INPUT, 'adapter_model.safetensors'))),
  };
}

/** The llama fixture as mlx-lm would have saved it, trained on `${ORG}/tiny-llama-base`. */
function mlxRepoFiles(): Record<string, Uint8Array | string> {
  const mlx = peftToMlx(
    readFileSync(join(LLAMA_INPUT, 'adapter_config.json'), 'utf8'),
    new Uint8Array(readFileSync(join(LLAMA_INPUT, 'adapter_model.safetensors'))),
    readFileSync(LLAMA_BASE_CONFIG, 'utf8'),
    { model: `${ORG}/tiny-llama-base` },
  );
  return { 'adapter_config.json': mlx.config, 'adapters.safetensors': mlx.weights, '0000100_adapters.safetensors': 'a checkpoint, not read' };
}

/** A base model GGUF for the llama fixture (its header, then 16 MB of data), whole and split in two. */
async function ggufBaseFiles(): Promise<Record<string, Uint8Array>> {
  const r = await cli([LLAMA_INPUT, '--base-config', LLAMA_BASE_CONFIG, '--outtype', 'f16', '--outfile', 'for-base.gguf'], work);
  if (r.code !== 0) throw new Error(r.err);
  const adapter = await readGgufHeader(bytesSource(new Uint8Array(readFileSync(join(work, 'for-base.gguf')))));
  const tensors = baseTensorsFor(adapter);
  const file = (ts: GgufTensorInfo[]) => {
    const path = join(work, `base-${ts.length}.gguf`);
    writeSparseBase(path, { arch: 'llama', name: 'Tiny Hub Base', blocks: 2, tensors: ts, size: 16 * 2 ** 20 });
    return new Uint8Array(readFileSync(path));
  };
  return {
    'Tiny-F16.gguf': file(tensors),
    'split/Tiny-F16-00001-of-00002.gguf': file(tensors.slice(0, 6)),
    'split/Tiny-F16-00002-of-00002.gguf': file(tensors.slice(6)),
  };
}

beforeAll(async () => {
  hub = await startFakeHub([
    { id: `${ORG}/tiny-base-gguf`, files: await ggufBaseFiles() },
    { id: `${ORG}/mlx-lora`, files: mlxRepoFiles() },
    referenceCaseRepo('llama_bf16_f16', `${ORG}/llama-lora`),
    referenceCaseRepo('llama_bf16_f16', `${ORG}/gated-lora`, { gated: true }),
    referenceCaseRepo('llama_bf16_f16', `${ORG}/checkpoints`, { subfolder: 'runs/a/checkpoint-10', refs: ['v1'] }),
    { id: `${ORG}/hub-base-lora`, files: withBase(`${ORG}/tiny-llama-base`) },
    referenceBaseRepo('llama_bf16_f16', `${ORG}/tiny-llama-base`),
  ]);
});
afterAll(async () => {
  await hub.close();
  rmSync(work, { recursive: true, force: true });
});

/** The local conversion every Hub run of the llama fixture must reproduce byte for byte. */
async function localOutput(name: string): Promise<Uint8Array> {
  const cwd = freshDir();
  const r = await cli([LLAMA_INPUT, '--base-config', LLAMA_BASE_CONFIG, '--outtype', 'f16', '--name', name, '--outfile', 'local.gguf'], cwd);
  expect(r.code, r.err).toBe(0);
  return new Uint8Array(readFileSync(join(cwd, 'local.gguf')));
}

describe('lora2gguf hf:owner/repo', () => {
  it('converts from the Hub by ranges, byte-identical to the local files, reporting the pinned commit', async () => {
    const expected = await localOutput('llama-lora');
    const size = readFileSync(join(LLAMA_INPUT, 'adapter_model.safetensors')).byteLength;
    hub.reset();
    const cwd = freshDir();
    const r = await cli([`hf:${ORG}/llama-lora`, '--base-config', LLAMA_BASE_CONFIG, '--outtype', 'f16', '--json'], cwd, { HF_ENDPOINT: hub.url });
    expect(r.code, r.out + r.err).toBe(0);
    const summary = JSON.parse(r.out) as { outfile: string; name: string; hub: { ref: string; commit: string; file: string } };
    const sha = hub.shaOf(`${ORG}/llama-lora`);
    expect(summary.hub).toEqual({ ref: `${ORG}/llama-lora@${sha}`, commit: sha, file: 'adapter_model.safetensors' });
    expect(summary.name).toBe('llama-lora'); // hubRefDisplayName: the repo's name
    expect(new Uint8Array(readFileSync(summary.outfile))).toEqual(expected);
    // Read by range requests, each byte about once: no second full read.
    const served = hub.bytesServed.get(`${ORG}/llama-lora/adapter_model.safetensors`) ?? 0;
    expect(served).toBeGreaterThanOrEqual(size);
    expect(served).toBeLessThan(size * 1.5);
    expect(hub.requests.filter((q) => q.path.includes('adapter_model.safetensors')).every((q) => q.range !== null)).toBe(true);
  });

  it("an mlx-lm adapter on the Hub: adapters.safetensors by ranges, the base from the config's model, the PEFT conversion's bytes", async () => {
    const expected = await localOutput('mlx-lora');
    const cwd = freshDir();
    const r = await cli([`hf:${ORG}/mlx-lora`, '--outtype', 'f16', '--json'], cwd, { HF_ENDPOINT: hub.url });
    expect(r.code, r.out + r.err).toBe(0);
    const summary = JSON.parse(r.out) as { outfile: string; hub: { file: string }; baseConfig: { origin: string; source: string } };
    expect(summary.hub.file).toBe('adapters.safetensors');
    expect(summary.baseConfig.origin).toBe('hub');
    expect(summary.baseConfig.source).toContain(`${ORG}/tiny-llama-base`);
    expect(new Uint8Array(readFileSync(summary.outfile))).toEqual(expected);
  });

  it('check against a base GGUF on the Hub: its header by ranges (not its 16 MB), split bases too', async () => {
    hub.reset();
    const cwd = freshDir();
    const r = await cli(['check', LLAMA_INPUT, `hf:${ORG}/tiny-base-gguf/Tiny-F16.gguf`, '--base-config', LLAMA_BASE_CONFIG, '--json'], cwd, { HF_ENDPOINT: hub.url });
    expect(r.code, r.out + r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ compatible: true, base: 'Tiny Hub Base' });
    // One block of the range reader (2 MiB) holds the header: far from the 16 MB file.
    expect(hub.bytesServed.get(`${ORG}/tiny-base-gguf/Tiny-F16.gguf`)).toBeLessThanOrEqual(2 * 2 ** 20);
    const split = await cli(['check', LLAMA_INPUT, `hf:${ORG}/tiny-base-gguf/split/Tiny-F16-00001-of-00002.gguf`, '--base-config', LLAMA_BASE_CONFIG, '--json'], cwd, {
      HF_ENDPOINT: hub.url,
    });
    expect(split.code, split.out + split.err).toBe(0);
    expect(JSON.parse(split.out)).toMatchObject({ compatible: true, shards: 2 });
  });

  it('takes a subfolder and a revision, a pasted URL, and --hub-endpoint over HF_ENDPOINT', async () => {
    const expected = await localOutput('checkpoint-10');
    const cwd = freshDir();
    const r = await cli(
      [`hf:${ORG}/checkpoints/runs/a/checkpoint-10@v1`, '--base-config', LLAMA_BASE_CONFIG, '--outtype', 'f16', '--hub-endpoint', hub.url],
      cwd,
      {
        HF_ENDPOINT: 'http://127.0.0.1:9',
      },
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`commit ${hub.shaOf(`${ORG}/checkpoints`)}`);
    expect(new Uint8Array(readFileSync(join(cwd, 'checkpoint-10-F16-LoRA.gguf')))).toEqual(expected);

    const url = await cli(
      [`${hub.url}/${ORG}/checkpoints/tree/v1/runs/a/checkpoint-10`, '--base-config', LLAMA_BASE_CONFIG, '--outtype', 'f16', '--outfile', 'u.gguf'],
      cwd,
      {
        HF_ENDPOINT: hub.url,
      },
    );
    expect(url.code, url.err).toBe(0);
    expect(new Uint8Array(readFileSync(join(cwd, 'u.gguf')))).toEqual(expected);
  });

  it("fetches the base's config.json from the Hub when neither a flag nor the catalogue gives it", async () => {
    const expected = await localOutput('hub-base-lora');
    const cwd = freshDir();
    const r = await cli([`hf:${ORG}/hub-base-lora`, '--outtype', 'f16', '--json'], cwd, { HF_ENDPOINT: hub.url });
    expect(r.code, r.out + r.err).toBe(0);
    const summary = JSON.parse(r.out) as { outfile: string; baseConfig: { origin: string; source: string } };
    expect(summary.baseConfig.origin).toBe('hub');
    expect(summary.baseConfig.source).toContain(`${ORG}/tiny-llama-base`);
    expect(new Uint8Array(readFileSync(summary.outfile))).toEqual(expected);
  });

  it('a gated repo: without HF_TOKEN exit 1 naming HF_TOKEN; with it, the token goes only to the Hub and is never printed', async () => {
    const cwd = freshDir();
    const denied = await cli([`hf:${ORG}/gated-lora`, '--base-config', LLAMA_BASE_CONFIG], cwd, { HF_ENDPOINT: hub.url });
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('[auth_required]');
    expect(denied.err).toContain('HF_TOKEN');
    expect(readdirSync(cwd)).toEqual([]);

    hub.reset();
    const ok = await cli([`hf:${ORG}/gated-lora`, '--base-config', LLAMA_BASE_CONFIG, '--outtype', 'f16'], cwd, { HF_ENDPOINT: hub.url, HF_TOKEN: hub.token });
    expect(ok.code, ok.err).toBe(0);
    expect(new Uint8Array(readFileSync(join(cwd, 'gated-lora-F16-LoRA.gguf')))).toEqual(await localOutput('gated-lora'));
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((q) => !q.authorization)).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'hub' && q.token === hub.token).length).toBeGreaterThan(0);
    expect(ok.out + ok.err).not.toContain(hub.token);

    const wrong = await cli([`hf:${ORG}/gated-lora`, '--base-config', LLAMA_BASE_CONFIG, '--json'], cwd, { HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain('HF_TOKEN');
    expect(wrong.out).not.toContain('hf_wrong');
  });

  it('an aborted run (Ctrl-C) stops the Hub reads with exit 130 and writes nothing', async () => {
    const cwd = freshDir();
    const controller = new AbortController();
    controller.abort();
    hub.reset();
    let err = '';
    const code = await runCli([`hf:${ORG}/llama-lora`, '--base-config', LLAMA_BASE_CONFIG], {
      stdout: () => {},
      stderr: (t) => (err += t),
      cwd,
      isTTY: false,
      env: { HF_ENDPOINT: hub.url },
      signal: controller.signal,
    });
    expect(code).toBe(130);
    expect(err).toContain('interrupted');
    expect(hub.bytesServed.get(`${ORG}/llama-lora/adapter_model.safetensors`) ?? 0).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('refuses a malformed reference and a missing repo with exit 1', async () => {
    const cwd = freshDir();
    const bad = await cli(['hf:not a repo'], cwd, { HF_ENDPOINT: hub.url });
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('[wrong_input]');
    const missing = await cli([`hf:${ORG}/no-such-repo`, '--base-config', LLAMA_BASE_CONFIG], cwd, { HF_ENDPOINT: hub.url });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/\[(not_found|auth_required)\]/);
  });
});

describe('base config from the bundled catalogue (offline)', () => {
  it('converts a local adapter whose base is in the catalogue, exactly as with that config.json given, and says so', async () => {
    const baseId = 'meta-llama/Llama-3.2-1B-Instruct';
    const hit = lookupBaseConfig(baseId)!;
    const base = JSON.parse(hit.config) as { hidden_size: number; num_attention_heads: number; num_key_value_heads: number; head_dim?: number };
    const headDim = base.head_dim ?? base.hidden_size / base.num_attention_heads;
    const r = 4;
    const values = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.37 + seed) / 64));
    const p = 'base_model.model.model.layers.0.self_attn';
    const tensors: BuildTensor[] = [
      { name: `${p}.q_proj.lora_A.weight`, dtype: 'F32', shape: [r, base.hidden_size], data: values(r * base.hidden_size, 1) },
      { name: `${p}.q_proj.lora_B.weight`, dtype: 'F32', shape: [base.hidden_size, r], data: values(base.hidden_size * r, 2) },
      { name: `${p}.k_proj.lora_A.weight`, dtype: 'F32', shape: [r, base.hidden_size], data: values(r * base.hidden_size, 3) },
      {
        name: `${p}.k_proj.lora_B.weight`,
        dtype: 'F32',
        shape: [base.num_key_value_heads * headDim, r],
        data: values(base.num_key_value_heads * headDim * r, 4),
      },
    ];
    const cwd = freshDir();
    const adapter = join(cwd, 'synthetic');
    mkdirSync(adapter);
    // An unsloth re-upload name maps to the original's entry.
    writeFileSync(
      join(adapter, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        r,
        lora_alpha: 8,
        target_modules: ['q_proj', 'k_proj'],
        base_model_name_or_path: 'unsloth/Llama-3.2-1B-Instruct-bnb-4bit',
      }),
    );
    writeFileSync(join(adapter, 'adapter_model.safetensors'), buildSafetensors(tensors));
    writeFileSync(join(cwd, 'catalogue-config.json'), hit.config);

    const viaCatalogue = await cli([adapter, '--outfile', 'cat.gguf'], cwd);
    expect(viaCatalogue.code, viaCatalogue.err).toBe(0);
    expect(viaCatalogue.err).toContain(`bundled catalogue entry ${baseId}`);
    expect(viaCatalogue.err).toContain(hit.source);
    const given = await cli([adapter, '--base-config', join(cwd, 'catalogue-config.json'), '--outfile', 'given.gguf'], cwd);
    expect(given.code, given.err).toBe(0);
    expect(readFileSync(join(cwd, 'cat.gguf'))).toEqual(readFileSync(join(cwd, 'given.gguf')));
    expect((await readGguf(new Uint8Array(readFileSync(join(cwd, 'cat.gguf'))))).tensors).toHaveLength(4);

    const json = await cli([adapter, '--dry-run', '--json'], cwd);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.out) as { baseConfig: unknown }).baseConfig).toEqual({ origin: 'catalogue', source: baseId, citation: hit.source });
  });

  it('a given config.json wins over the catalogue', async () => {
    // The fixture names a catalogue base (tied embeddings) but ships its own untied config.json.
    const cwd = freshDir();
    type DryRun = { baseConfig: { origin: string }; plan: { tied: boolean } };
    const catalogue = await cli([LLAMA_INPUT, '--dry-run', '--json'], cwd);
    const fromCatalogue = JSON.parse(catalogue.out) as DryRun;
    expect(fromCatalogue.baseConfig.origin).toBe('catalogue');
    expect(fromCatalogue.plan.tied).toBe(true);
    const given = await cli([LLAMA_INPUT, '--base', join(LLAMA_INPUT, 'base'), '--dry-run', '--json'], cwd);
    expect(given.code, given.out).toBe(0);
    const fromGiven = JSON.parse(given.out) as DryRun;
    expect(fromGiven.baseConfig.origin).toBe('supplied');
    expect(fromGiven.plan.tied).toBe(false);
  });
});

describe('--text-only and adapter_model.bin', () => {
  it('--text-only converts a LoRA with vision-tower modules, leaving them out with a warning', async () => {
    const input = join(REFERENCE, 'llama_vision_tower', 'input');
    const cwd = freshDir();
    const refused = await cli([input, '--base', join(input, 'base'), '--outfile', 'v.gguf'], cwd);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/vision/i);
    expect(readdirSync(cwd)).toEqual([]);
    const ok = await cli([input, '--base', join(input, 'base'), '--outfile', 'v.gguf', '--text-only'], cwd);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toContain('warning:');
    const gguf = await readGguf(new Uint8Array(readFileSync(join(cwd, 'v.gguf'))));
    expect(gguf.tensors.length).toBeGreaterThan(0);
    expect(gguf.tensors.every((t) => !/vision|visual|mm_proj|audio/i.test(t.name))).toBe(true);
  });

  it('converts a folder holding adapter_model.bin exactly like the same tensors as safetensors', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'bin', 'adapter_fp32.expected.json'), 'utf8')) as {
      tensors: Record<string, { shape: number[]; values: number[] }>;
    };
    const config = JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] });
    const baseConfig = BIN_FIXTURE_BASE;
    const cwd = freshDir();
    writeFileSync(join(cwd, 'base.json'), baseConfig);
    const bin = join(cwd, 'bin-adapter');
    const st = join(cwd, 'st-adapter');
    mkdirSync(bin);
    mkdirSync(st);
    writeFileSync(join(bin, 'adapter_config.json'), config);
    writeFileSync(join(st, 'adapter_config.json'), config);
    copyFileSync(join(FIXTURES, 'bin', 'adapter_fp32.bin'), join(bin, 'adapter_model.bin'));
    writeFileSync(
      join(st, 'adapter_model.safetensors'),
      buildSafetensors(Object.entries(expected.tensors).map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: t.values }))),
    );
    const dry = await cli([bin, '--base-config', 'base.json', '--dry-run'], cwd);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain('PyTorch zip');
    const a = await cli([bin, '--base-config', 'base.json', '--name', 'x', '--outfile', 'bin.gguf'], cwd);
    const b = await cli([st, '--base-config', 'base.json', '--name', 'x', '--outfile', 'st.gguf'], cwd);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(readFileSync(join(cwd, 'bin.gguf'))).toEqual(readFileSync(join(cwd, 'st.gguf')));
  });
});
