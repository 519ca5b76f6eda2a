#!/usr/bin/env bash
# Azurite, Azure Storage's emulator (the npm package `azurite`), for the Blob Storage ingest
# test (tests/tests/ingest_blob.rs): installed with the machine's npm into target/azurite
# (or $LEDGER_AZURITE_DIR). Idempotent: an installed Azurite is left as it is.
#
#   scripts/setup-azurite.sh           # prints the azurite-blob executable on its last line
#
# The test calls this script itself, then starts azurite-blob on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${LEDGER_AZURITE_DIR:-$PWD/target/azurite}"
# A version known to work with object_store 0.14 and Node.js 20.
VERSION="${LEDGER_AZURITE_VERSION:-3.37.0}"
BIN="$DIR/node_modules/.bin/azurite-blob"

if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
    echo "setup-azurite: $DIR has azurite $("$BIN" --version 2>/dev/null)" >&2
    echo "$BIN"
    exit 0
fi
command -v npm >/dev/null || { echo "setup-azurite: npm not found; install Node.js 20 and npm" >&2; exit 1; }
mkdir -p "$DIR"
echo "setup-azurite: npm install azurite@$VERSION into $DIR" >&2
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "azurite@$VERSION" >&2
[ -x "$BIN" ] || { echo "setup-azurite: $BIN missing after npm install" >&2; exit 1; }
echo "setup-azurite: installed azurite $("$BIN" --version 2>/dev/null)" >&2
echo "$BIN"
