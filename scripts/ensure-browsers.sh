#!/usr/bin/env bash
# Run first by `npm test`: the browser suites need Debian's browsers (never a downloaded build):
# Chromium, Firefox ESR, WebKitGTK's WebDriver and MiniBrowser, and xvfb for MiniBrowser's display.
# All present: nothing to do. Some missing: install Debian's packages when that is possible here
# (root and apt-get), else stop at once with the exact command, instead of failing deep in a suite.
# Each path can be overridden (as in e2e/harness.ts and e2e/engines.ts).
set -euo pipefail

# path|package, one per browser piece.
needs=(
  "${CHROMIUM_PATH:-/usr/bin/chromium}|chromium"
  "${FIREFOX_PATH:-/usr/bin/firefox-esr}|firefox-esr"
  "${WEBKIT_DRIVER_PATH:-/usr/bin/WebKitWebDriver}|webkit2gtk-driver"
  "${MINIBROWSER_PATH:-/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser}|libwebkit2gtk-4.1-0"
  "${XVFB_RUN_PATH:-/usr/bin/xvfb-run}|xvfb"
)

missing() {
  local out=()
  for need in "${needs[@]}"; do
    [ -x "${need%%|*}" ] || out+=("${need##*|}")
  done
  echo "${out[@]:-}"
}

packages=$(missing)
[ -z "$packages" ] && exit 0

install="apt-get update && apt-get install -y $packages"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: the browser tests need Debian's $packages; installing: $install" >&2
  apt-get update >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y $packages >&2
  still=$(missing)
  [ -z "$still" ] && exit 0
  echo "npm test: apt-get install finished, but $still is still missing at its path; set CHROMIUM_PATH, FIREFOX_PATH, WEBKIT_DRIVER_PATH, MINIBROWSER_PATH or XVFB_RUN_PATH." >&2
  exit 1
fi
echo "npm test: the browser tests need Debian's $packages, which are missing. Install them as root:" >&2
echo "  $install" >&2
echo "(or set CHROMIUM_PATH, FIREFOX_PATH, WEBKIT_DRIVER_PATH, MINIBROWSER_PATH or XVFB_RUN_PATH to installed ones), then run npm test again." >&2
exit 1
