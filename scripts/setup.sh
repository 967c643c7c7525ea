#!/usr/bin/env bash
# Everything proxmox-hci needs on a fresh Debian 12 machine, idempotent:
#   1. Debian packages: Ceph's daemons and CLI (the lab runs real Ceph), python3-rados, and radosgw
#      (the S3-compatible gateway the shared-state tests keep Pulumi's state in, on a lab's Ceph).
#   2. A Python 3.11 virtualenv in .venv with the pinned packages of requirements.lock, the policy
#      pack's own in policy/.venv with those of policy/requirements.lock, and the third-party client
#      tier's in tests/conformance/.venv with those of tests/conformance/requirements.lock (Ansible).
#   3. The Pulumi engine (CLI, Python language host, proxmoxve plugin) and actionlint, built from
#      the Go module proxy.
# Prints nothing on stdout but, on its last line, the directory holding the engine's binaries.
#
# scripts/setup.sh --venv does step 2 only (the virtualenvs) and prints nothing (scripts/test.sh --unit: no Ceph, no engine).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }

DEBIAN_PACKAGES=(ceph-mon ceph-mgr ceph-osd ceph-common python3-rados python3-rbd radosgw)

install_debian_packages() {
    local missing=()
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
    # The packages enable systemd units on install; the lab runs its own daemons, never these.
}

find_python() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            command -v "$candidate"; return
        fi
    done
    log "Python 3.11 is required (the pinned wheels and Debian's python3-rados are built for it)"; exit 1
}

# install_virtualenv DIR LOCK: DIR holds a virtualenv with exactly the pins of LOCK.
install_virtualenv() {
    local venv=$1 lock=$2 stamp want
    stamp=$venv/.requirements.lock.sha256
    want=$(sha256sum "$lock" | cut -d' ' -f1)
    if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
        return
    fi
    log "creating $venv with the pinned packages of $lock"
    [[ -x $venv/bin/python ]] || "$(find_python)" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip >&2
    "$venv/bin/python" -m pip install -q --require-virtualenv -r "$lock" >&2
    echo "$want" > "$stamp"
}

install_virtualenvs() {
    install_virtualenv .venv requirements.lock
    install_virtualenv policy/.venv policy/requirements.lock
    install_virtualenv tests/conformance/.venv tests/conformance/requirements.lock
}

case "${1:-}" in
    "") install_debian_packages; install_virtualenvs; scripts/install-engine.sh | tail -1 ;;
    --venv) install_virtualenvs ;;
    *) log "usage: scripts/setup.sh [--venv]"; exit 2 ;;
esac
