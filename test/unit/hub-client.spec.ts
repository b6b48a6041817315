/**
 * Why the adapter's weights and small config files are still read by our own Hub client
 * (src/core/hub) rather than by @huggingface/hub (which model info, listing and publishing use):
 * measured here, side by side, against the same fake Hub — the same adapter planned and converted both ways, with the
 * requests each makes. The library's `downloadFile` Blob fetches every slice from the resolve URL
 * (one Hub request plus its redirect to the CDN, per read, nothing cached), where ours resolves
 * once and reads the CDN by 2 MiB blocks, cached and coalesced; for a small file it probes with
 * `Range: bytes=0-0` before reading it whole. Both keep the token away from the CDN.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downloadFile } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert, fetchHubText, inspect, MemorySink, openHubFile, parseHubRef, type ByteSource } from '../../src/core';
import { startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { REFERENCE } from '../helpers/fixtures';

const INPUT = join(REFERENCE, 'mixtral_bf16_f16', 'input');
const CONFIG = readFileSync(join(INPUT, 'adapter_config.json'), 'utf8');
const WEIGHTS = new Uint8Array(readFileSync(join(INPUT, 'adapter_model.safetensors')));
const BASE = readFileSync(join(INPUT, 'base', 'config.json'), 'utf8');
let hub: FakeHub;

beforeAll(async () => {
  hub = await startFakeHub([{ id: 'test-org/gated-lora', files: { 'adapter_config.json': CONFIG, 'adapter_model.safetensors': WEIGHTS }, gated: true }]);
});
afterAll(async () => {
  await hub?.close();
});

/** A ByteSource over a Blob, read by slices (as the worker reads dropped files). */
function blobBytes(blob: Blob): ByteSource {
  return {
    byteLength: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

async function planAndConvert(source: ByteSource): Promise<Uint8Array> {
  // Small read windows, as a large adapter has many: each window is a read the client must serve.
  const plan = await inspect({ adapterConfig: CONFIG, baseConfig: BASE, adapter: source }, { outtype: 'f16' });
  const sink = new MemorySink();
  await convert(plan, source, sink, { readWindowBytes: 16 * 1024 });
  return sink.bytes();
}

describe('@huggingface/hub against our Hub client, measured', () => {
  it('the weights: the same bytes; the library makes several times the requests, and both keep the token off the CDN', async () => {
    const ref = parseHubRef('test-org/gated-lora');
    hub.reset();
    const ours = await planAndConvert(await openHubFile(ref, 'adapter_model.safetensors', { endpoint: hub.url, token: hub.token }));
    const ourRequests = hub.requests.length;
    const ourCdnAuth = hub.requests.some((r) => r.server === 'cdn' && r.authorization);

    hub.reset();
    const blob = await downloadFile({ repo: { type: 'model', name: 'test-org/gated-lora' }, path: 'adapter_model.safetensors', hubUrl: hub.url, accessToken: hub.token, xet: false });
    const theirs = await planAndConvert(blobBytes(blob!));
    const libraryRequests = hub.requests.length;
    const libraryCdnAuth = hub.requests.some((r) => r.server === 'cdn' && r.authorization);

    console.log(`planning and converting ${WEIGHTS.byteLength} bytes from the Hub: our client ${ourRequests} requests, @huggingface/hub ${libraryRequests}`);
    expect(Buffer.from(theirs).equals(Buffer.from(ours))).toBe(true);
    expect(libraryRequests).toBeGreaterThanOrEqual(2 * ourRequests);
    expect([ourCdnAuth, libraryCdnAuth]).toEqual([false, false]);
  });

  it('a small config file: one request for ours, a probe and a read for the library', async () => {
    const ref = parseHubRef('test-org/gated-lora');
    hub.reset();
    expect(await fetchHubText(ref, 'adapter_config.json', { endpoint: hub.url, token: hub.token })).toBe(CONFIG);
    const ours = hub.requests.length;
    hub.reset();
    const blob = await downloadFile({ repo: { type: 'model', name: 'test-org/gated-lora' }, path: 'adapter_config.json', hubUrl: hub.url, accessToken: hub.token, xet: false });
    expect(await blob!.text()).toBe(CONFIG);
    const library = hub.requests.length;
    console.log(`adapter_config.json: our client ${ours} request(s), @huggingface/hub ${library}`);
    expect(ours).toBe(1);
    expect(library).toBeGreaterThan(ours);
  });
});
