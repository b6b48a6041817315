/**
 * `npm test`'s first step on a fresh machine: scripts/ensure-chromium.sh, run with a fake
 * `apt-get` and `id` first on the PATH and CHROMIUM_PATH pointing into a scratch folder.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'ensure-chromium.sh');

function fakeMachine(opts: { uid: number; aptGet: 'installs' | 'installs nothing' | 'absent' }) {
  const dir = mkdtempSync(join(tmpdir(), 'ensure-chromium-'));
  const bin = join(dir, 'bin');
  const browser = join(dir, 'chromium');
  const log = join(dir, 'apt.log');
  mkdirSync(bin);
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script('id', `echo ${opts.uid}`);
  // Only the fake bin is on the PATH (on Debian /bin is /usr/bin, where the real apt-get lives):
  // the one real tool the fakes need is chmod.
  symlinkSync('/usr/bin/chmod', join(bin, 'chmod'));
  if (opts.aptGet !== 'absent') {
    const make = opts.aptGet === 'installs' ? `if [ "$1" = install ]; then printf '#!/bin/sh\\n' > "${browser}"; chmod +x "${browser}"; fi` : '';
    script('apt-get', `echo "$@" >> "${log}"\n${make}`);
  }
  const run = () =>
    spawnSync('/bin/bash', [SCRIPT], {
      encoding: 'utf8',
      env: { PATH: bin, CHROMIUM_PATH: browser },
    });
  return { run, browser, apt: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

describe('scripts/ensure-chromium.sh', () => {
  it('does nothing when Chromium is there', () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs' });
    writeFileSync(m.browser, '#!/bin/sh\n');
    chmodSync(m.browser, 0o755);
    const r = m.run();
    expect(r.status).toBe(0);
    expect(m.apt()).toEqual([]);
  });

  it("installs Debian's chromium as root with apt-get, then succeeds", () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs' });
    const r = m.run();
    expect(r.status).toBe(0);
    expect(m.apt()).toEqual(['update', 'install -y chromium']);
    expect(existsSync(m.browser)).toBe(true);
    expect(r.stderr).toMatch(/installing Debian's package/);
  });

  it('stops at once, naming the command, when it cannot install (not root)', () => {
    const m = fakeMachine({ uid: 1000, aptGet: 'installs' });
    const r = m.run();
    expect(r.status).toBe(1);
    expect(m.apt()).toEqual([]);
    expect(r.stderr).toContain('apt-get update && apt-get install -y chromium');
  });

  it('stops, naming the command, where there is no apt-get', () => {
    const r = fakeMachine({ uid: 0, aptGet: 'absent' }).run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('apt-get install -y chromium');
  });

  it('fails clearly when the install leaves no browser at the path', () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs nothing' });
    const r = m.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/still missing; set CHROMIUM_PATH/);
  });
});
