#!/usr/bin/env bash
# The README's test command: set up everything (scripts/setup.sh), then lint, type-check and run
# every test tier: unit, lab (real Ceph), integration (providers against the lab) and end-to-end
# (the real pulumi engine against the lab). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE_BIN=$(scripts/setup.sh | tail -1)
export PATH="$ENGINE_BIN:$PWD/.venv/bin:$PATH" PROXMOX_HCI_ENGINE_BIN="$ENGINE_BIN"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy .
echo "== pytest"
exec pytest "$@"
