#!/usr/bin/env bash
# The README's main command: set up everything (scripts/setup.sh), start a fresh local lab in
# .lab, and run `pulumi up` of the dev stack against it with a local file backend in .pulumi-state.
#
#   scripts/run-dev.sh          set-up, fresh lab, fresh dev stack, pulumi up, then where to look
#   scripts/run-dev.sh --down   pulumi destroy --exclude-protected, then stop the lab and delete its state
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LAB_DIR=$ROOT/.lab
STATE_DIR=$ROOT/.pulumi-state

log() { echo "run-dev: $*" >&2; }

# Set first: scripts/install-engine.sh installs the proxmoxve plugin into this PULUMI_HOME.
export PULUMI_HOME="$ROOT/.pulumi-home"
ENGINE_BIN=$(scripts/setup.sh | tail -1)
export PATH="$ENGINE_BIN:$ROOT/.venv/bin:$PATH"
export PULUMI_BACKEND_URL="file://$STATE_DIR"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"   # the lab's stack has no real secrets
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

if [[ ${1:-} == --down ]]; then
    if [[ -f $LAB_DIR/lab.json ]]; then
        eval "$(python -m lab env --state-dir "$LAB_DIR")"
        pulumi destroy --stack dev --yes --non-interactive --exclude-protected || true
        python -m lab down --state-dir "$LAB_DIR" --purge
    fi
    rm -rf "$STATE_DIR" "$PULUMI_HOME"
    log "lab and dev stack removed"
    exit 0
fi

# A fresh lab each time: the dev stack describes a cluster built from nothing.
if [[ -d $LAB_DIR ]]; then
    python -m lab down --state-dir "$LAB_DIR" --purge >&2
fi
python -m lab up --state-dir "$LAB_DIR" --pve-version 9 >&2
eval "$(python -m lab env --state-dir "$LAB_DIR")"

# A fresh stack for the fresh lab (its state would describe the lab that is gone).
rm -rf "$STATE_DIR" && mkdir -p "$STATE_DIR"
pulumi stack init dev --non-interactive >&2
pulumi stack tag set proxmox-hci:kind lab --stack dev --non-interactive >&2   # read by the policy pack (docs/teams.md)
pulumi up --stack dev --yes --non-interactive --skip-preview

echo
echo "== stack outputs"
pulumi stack output --stack dev
echo
echo "== the lab's Ceph, asked directly (ceph -s)"
ceph -c "$CEPH_CONF" -s
cat <<EOF

Where to look:
  pulumi stack output --stack dev           (with the environment below)
  ceph -c $CEPH_CONF -s
  python -m lab status --state-dir $LAB_DIR
Environment for more commands:
  export PATH="$ENGINE_BIN:$ROOT/.venv/bin:\$PATH" PULUMI_BACKEND_URL="$PULUMI_BACKEND_URL" PULUMI_HOME="$PULUMI_HOME" PULUMI_CONFIG_PASSPHRASE=""
  eval "\$(python -m lab env --state-dir $LAB_DIR)"
Tear down:
  scripts/run-dev.sh --down
EOF
