#!/usr/bin/env bash
# Run first by `npm test`: the browser suite needs Debian's Chromium (never a downloaded build).
# Present: nothing to do. Missing: install Debian's package when that is possible here (root and
# apt-get), else stop at once with the exact command, instead of failing deep in the e2e suite.
# The browser's path is $CHROMIUM_PATH (as in e2e/harness.ts), default /usr/bin/chromium.
set -euo pipefail

browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$browser" ] && exit 0

install="apt-get update && apt-get install -y chromium"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: the browser tests need Chromium ($browser is missing); installing Debian's package: $install" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
  if [ -x "$browser" ]; then exit 0; fi
  echo "npm test: apt-get install finished, but $browser is still missing; set CHROMIUM_PATH to the browser's path." >&2
  exit 1
fi
echo "npm test: the browser tests need Chromium at $browser, which is missing. Install Debian's package as root:" >&2
echo "  $install" >&2
echo "(or set CHROMIUM_PATH to an installed Chromium), then run npm test again." >&2
exit 1
