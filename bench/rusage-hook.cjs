// Preloaded into each benchmarked CLI process (node --require): on exit, write the process's own
// CPU time and peak resident memory to the file named by L2G_RUSAGE_FILE.
//
// CommonJS, preloaded with --require, on purpose: a hook preloaded with --import is an ES module,
// and Node's ES module loader reads it through libuv's thread pool, which starts the pool at its
// default size (four threads) before bin/lora2gguf.cjs can choose one thread, as it does for
// users. Measured so (an .mjs hook) the benchmark timed a four-thread CLI.
//
// The peak is VmHWM from /proc/self/status, the high-water mark of this program's own memory:
// getrusage's maxRSS also counts the benchmark's process the child was forked from (Linux keeps
// the larger of the pre-exec image's and the program's), which made a tiny conversion read
// 103 MB while it peaks at 56 MB. Where there is no /proc, maxRSS is what there is.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');

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
