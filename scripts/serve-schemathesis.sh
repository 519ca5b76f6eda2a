#!/usr/bin/env bash
# Fuzz `ledger serve` against its own /openapi.json with schemathesis (every check), on
# loopback only. The same run is part of the test suite (tools/tests/serve_python.rs); this
# script is for running it by hand, longer, or against an existing ledger.
#
#   scripts/serve-schemathesis.sh                 # a generated ledger (writes allowed: the write
#                                                 # endpoints are fuzzed too), 40 examples per operation
#   scripts/serve-schemathesis.sh --data DIR      # an existing ledger (not in use by another process),
#                                                 # read-only: the fuzzer never writes to it
#   EXAMPLES=500 scripts/serve-schemathesis.sh    # a longer run
#
# Needs target/release/ledger (cargo build --release -p tools) and the venv of
# scripts/setup-python.sh (made here if missing). Exits with schemathesis's status.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=""
if [ "${1:-}" = "--data" ]; then DATA="$2"; fi
EXAMPLES="${EXAMPLES:-40}"
LEDGER="${LEDGER_BIN:-$PWD/target/release/ledger}"
VENV="$(scripts/setup-python.sh | tail -n 1)"
[ -x "$LEDGER" ] || { echo "serve-schemathesis: $LEDGER not found: cargo build --release -p tools" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

WRITES=""
if [ -z "$DATA" ]; then
    WRITES="--allow-writes"
    DATA="$WORK/data"
    "$LEDGER" gen --lines 20000 --accounts 2 --out "$WORK/charges.csv" >&2
    "$LEDGER" --data "$DATA" agreement "$WORK"/charges-agreement-*.toml >&2
    "$LEDGER" --data "$DATA" ingest "$WORK/charges.csv" >&2
fi

TOKEN="schemathesis-$$"
"$LEDGER" --data "$DATA" serve --addr 127.0.0.1:0 --token "$TOKEN" $WRITES > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 200); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
ADDR="$(grep -o 'http://[0-9.:]*' "$WORK/serve.out" | head -n 1)"
[ -n "$ADDR" ] || { echo "serve-schemathesis: the server did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }

CONFIG="$PWD/tools/tests/schemathesis.toml"
echo "+ schemathesis --config-file $CONFIG run $ADDR/openapi.json --checks all --max-examples $EXAMPLES ..." >&2
# From the temporary directory: schemathesis leaves its own state (.schemathesis/) where it runs.
cd "$WORK"
"$VENV/bin/schemathesis" --config-file "$CONFIG" run "$ADDR/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all --max-examples "$EXAMPLES" --seed "${SEED:-20261122}" \
    --no-color --generation-database none --request-timeout 30
