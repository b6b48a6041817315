/**
 * Unit suite global setup: bundle the CLI (scripts/build-cli.mjs, as `npm install` does), so the
 * spawned-CLI tests run the artifact users run, current with the sources under test.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build-cli.mjs')], { stdio: 'inherit' });
}
