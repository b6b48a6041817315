// Preloaded into each benchmarked CLI process (node --import): on exit, write the process's own
// CPU time and peak resident memory to the file named by L2G_RUSAGE_FILE.
//
// The peak is VmHWM from /proc/self/status, the high-water mark of this program's own memory:
// getrusage's maxRSS also counts the benchmark's process the child was forked from (Linux keeps
// the larger of the pre-exec image's and the program's), which made a tiny conversion read
// 103 MB while it peaks at 56 MB. Where there is no /proc, maxRSS is what there is.
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env.L2G_RUSAGE_FILE;
if (out) {
  process.on('exit', () => {
    const r = process.resourceUsage();
    let maxRssKiB = r.maxRSS;
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (hwm) maxRssKiB = Number(hwm[1]);
    } catch {
      // not Linux
    }
    writeFileSync(out, JSON.stringify({ userMicros: r.userCPUTime, systemMicros: r.systemCPUTime, maxRssKiB }));
  });
}
