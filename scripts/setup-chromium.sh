#!/usr/bin/env bash
# Headless Chromium for the report's browser tests (tests/tests/report.rs): Debian's `chromium`
# package, installed with apt-get when /usr/bin/chromium (or $LEDGER_CHROMIUM) is missing.
# Idempotent: an installed Chromium is left as it is. No browser is downloaded any other way.
#
#   scripts/setup-chromium.sh          # prints the browser's path on its last line
#
# Set LEDGER_SKIP_BROWSER_TESTS=1 to skip both this script and the browser tests (they are
# otherwise required, and fail loudly when no Chromium can be started).
set -euo pipefail

if [ "${LEDGER_SKIP_BROWSER_TESTS:-}" = "1" ]; then
    echo "setup-chromium: LEDGER_SKIP_BROWSER_TESTS=1: not installing Chromium; the browser tests will skip" >&2
    exit 0
fi

CHROMIUM="${LEDGER_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    echo "setup-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")" >&2
    echo "$CHROMIUM"
    exit 0
fi

if [ -n "${LEDGER_CHROMIUM:-}" ]; then
    echo "setup-chromium: LEDGER_CHROMIUM=$LEDGER_CHROMIUM is not an executable file" >&2
    exit 1
fi
command -v apt-get >/dev/null || {
    echo "setup-chromium: /usr/bin/chromium is missing and there is no apt-get to install Debian's chromium;" >&2
    echo "  install Chromium, point LEDGER_CHROMIUM at it, or set LEDGER_SKIP_BROWSER_TESTS=1" >&2
    exit 1
}
SUDO=()
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null || { echo "setup-chromium: not root and no sudo: cannot apt-get install chromium" >&2; exit 1; }
    SUDO=(sudo -n)
fi
echo "setup-chromium: installing Debian's chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >&2
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
[ -x /usr/bin/chromium ] || { echo "setup-chromium: apt-get finished but /usr/bin/chromium is not there" >&2; exit 1; }
echo "setup-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)" >&2
echo /usr/bin/chromium
