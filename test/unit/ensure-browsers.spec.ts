/**
 * `npm test`'s first step on a fresh machine: scripts/ensure-browsers.sh, run with a fake
 * `apt-get` and `id` first on the PATH and every browser path pointing into a scratch folder.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'ensure-browsers.sh');

/** Each piece: its environment variable, and the Debian package that provides it. */
const PIECES: [string, string][] = [
  ['CHROMIUM_PATH', 'chromium'],
  ['FIREFOX_PATH', 'firefox-esr'],
  ['WEBKIT_DRIVER_PATH', 'webkit2gtk-driver'],
  ['MINIBROWSER_PATH', 'libwebkit2gtk-4.1-0'],
  ['XVFB_RUN_PATH', 'xvfb'],
];

function fakeMachine(opts: { uid: number; aptGet: 'installs' | 'installs nothing' | 'absent'; present?: string[] }) {
  const dir = mkdtempSync(join(tmpdir(), 'ensure-browsers-'));
  const bin = join(dir, 'bin');
  const paths = Object.fromEntries(PIECES.map(([env, pkg]) => [env, join(dir, pkg)]));
  const browser = paths['CHROMIUM_PATH']!;
  const log = join(dir, 'apt.log');
  const makeExecutable = (path: string) => {
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
  };
  for (const [env, pkg] of PIECES) if (opts.present?.includes(pkg)) makeExecutable(paths[env]!);
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
    // The fake installs each package named on its command line at that piece's path.
    const make =
      opts.aptGet === 'installs'
        ? `if [ "$1" = install ]; then for p in "$@"; do case "$p" in ${PIECES.map(([, pkg]) => `${pkg}) printf '#!/bin/sh\\n' > "${dir}/${pkg}"; chmod +x "${dir}/${pkg}";;`).join(' ')} esac; done; fi`
        : '';
    script('apt-get', `echo "$@" >> "${log}"\n${make}`);
  }
  const run = () =>
    spawnSync('/bin/bash', [SCRIPT], {
      encoding: 'utf8',
      env: { PATH: bin, ...paths },
    });
  return { run, browser, makeExecutable, paths, apt: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

const ALL = PIECES.map(([, pkg]) => pkg);

describe('scripts/ensure-browsers.sh', () => {
  it('does nothing when every browser piece is there', () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs', present: ALL });
    const r = m.run();
    expect(r.status).toBe(0);
    expect(m.apt()).toEqual([]);
  });

  it("installs only the missing Debian packages as root with apt-get, then succeeds", () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs', present: ['chromium', 'xvfb'] });
    const r = m.run();
    expect(r.status).toBe(0);
    expect(m.apt()).toEqual(['update', 'install -y firefox-esr webkit2gtk-driver libwebkit2gtk-4.1-0']);
    for (const path of Object.values(m.paths)) expect(existsSync(path)).toBe(true);
    expect(r.stderr).toMatch(/installing: apt-get update && apt-get install -y firefox-esr/);
  });

  it('on a fresh machine: all five', () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs' });
    expect(m.run().status).toBe(0);
    expect(m.apt()).toEqual(['update', `install -y ${ALL.join(' ')}`]);
  });

  it('stops at once, naming the command, when it cannot install (not root)', () => {
    const m = fakeMachine({ uid: 1000, aptGet: 'installs', present: ['chromium', 'firefox-esr', 'xvfb'] });
    const r = m.run();
    expect(r.status).toBe(1);
    expect(m.apt()).toEqual([]);
    expect(r.stderr).toContain('apt-get update && apt-get install -y webkit2gtk-driver libwebkit2gtk-4.1-0');
  });

  it('stops, naming the command, where there is no apt-get', () => {
    const r = fakeMachine({ uid: 0, aptGet: 'absent' }).run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`apt-get install -y ${ALL.join(' ')}`);
  });

  it('fails clearly when the install leaves a piece missing at its path', () => {
    const m = fakeMachine({ uid: 0, aptGet: 'installs nothing', present: ['chromium', 'firefox-esr', 'webkit2gtk-driver', 'libwebkit2gtk-4.1-0'] });
    const r = m.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/xvfb is still missing at its path; set CHROMIUM_PATH/);
  });
});
