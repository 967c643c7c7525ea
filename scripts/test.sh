#!/usr/bin/env bash
# The README's test command: set up everything (scripts/setup.sh), then lint, type-check and run
# every test tier: unit, lab (real Ceph), integration (providers against the lab) and end-to-end
# (the real pulumi engine against the lab). Extra arguments go to pytest.
#
# scripts/test.sh --unit [pytest args] is the fast lane for quick loops: the virtualenv only (no
# Debian Ceph packages, no engine), ruff, mypy and tests/unit without tests/unit/engine (which
# checks the engine's plugin schema). It starts no lab and no Ceph daemon; the full run stays
# what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

unit=false
if [[ ${1:-} == --unit ]]; then
    unit=true
    shift
fi

if $unit; then
    scripts/setup.sh --venv
    export PATH="$PWD/.venv/bin:$PATH"
else
    ENGINE_BIN=$(scripts/setup.sh | tail -1)
    export PATH="$ENGINE_BIN:$PWD/.venv/bin:$PATH" PROXMOX_HCI_ENGINE_BIN="$ENGINE_BIN"
    export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
fi

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy .
echo "== pytest"
if $unit; then
    exec pytest tests/unit --ignore=tests/unit/engine "$@"
fi
exec pytest "$@"
