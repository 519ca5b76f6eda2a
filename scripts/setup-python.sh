#!/usr/bin/env bash
# A Python virtual environment for the HTTP API tests of `ledger serve`:
#   - tools/tests/serve_python.rs reads the server with Microsoft's SDKs, azure-mgmt-consumption
#     and azure-mgmt-billingbenefits (only pre-releases exist: pinned exactly);
#   - scripts/serve-schemathesis.sh fuzzes it against /openapi.json with schemathesis.
# Idempotent: a venv that already has the packages is left as it is.
#
#   scripts/setup-python.sh            # creates target/python-venv (or $LEDGER_PYTHON_VENV)
#
# Prints the venv's directory on its last line. The tests find it at the same place.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${LEDGER_PYTHON_VENV:-$PWD/target/python-venv}"
PYTHON="${PYTHON:-python3}"
# Versions known to work; newer ones are fine too (pip resolves within these bounds).
PACKAGES=(
    "azure-mgmt-consumption>=11,<12"
    "azure-mgmt-billingbenefits==1.0.0b2"
    "azure-core>=1.30,<2"
    "schemathesis>=4,<5"
)

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import azure.mgmt.consumption, azure.mgmt.billingbenefits, azure.core, schemathesis' 2>/dev/null; then
    echo "setup-python: $VENV already has azure-mgmt-consumption, azure-mgmt-billingbenefits, azure-core and schemathesis" >&2
    echo "$VENV"
    exit 0
fi

command -v "$PYTHON" >/dev/null || { echo "setup-python: $PYTHON not found; install Python 3.9 or newer" >&2; exit 1; }
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
"$VENV/bin/python" -c 'import azure.mgmt.consumption, azure.mgmt.billingbenefits, azure.core, schemathesis' >&2
"$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -Ei '^(azure-mgmt-consumption|azure-mgmt-billingbenefits|azure-core|schemathesis|hypothesis) ' >&2 || true
echo "$VENV"
