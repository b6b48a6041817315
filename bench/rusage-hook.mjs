// Preloaded into each benchmarked CLI process (node --import): on exit, write the process's own
// CPU time and peak resident memory to the file named by L2G_RUSAGE_FILE.
import { writeFileSync } from 'node:fs';

const out = process.env.L2G_RUSAGE_FILE;
if (out) {
  process.on('exit', () => {
    const r = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ userMicros: r.userCPUTime, systemMicros: r.systemCPUTime, maxRssKiB: r.maxRSS }));
  });
}
