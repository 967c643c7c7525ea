"""The dynamic-provider host: `python -m dynamic_providers.host ENGINE_ADDRESS`, in place of `-m pulumi.dynamic`.

The engine starts the `pulumi-resource-pulumi-python` plugin for every Python dynamic provider;
our launcher (scripts/install-engine.sh) runs this module when Pulumi.yaml asks for it
(`runtime.options.dynamicProviderHost`, which reaches the launcher as
PULUMI_RUNTIME_DYNAMICPROVIDERHOST). It serves exactly the SDK's provider servicer
(pulumi/dynamic/__main__.py: deserialising providers, configure, the wire format), with three
changes the operator sees, and one they feel (4.):

1. Errors. Upstream answers every exception with its full traceback. Here a ProxmoxHciError (an
   error our providers understood and explained: what failed, where, PVE's or Ceph's words, the
   fix) reaches `pulumi up` as its message alone; any other exception is a bug, and keeps its
   traceback, with a line saying so.
2. Progress. Each call runs in an engine_watch call scope holding its resource's URN, which
   progress.progress() uses to show live status under that resource.
3. The engine's death. The host watches the engine (engine_watch); once it is gone, calls in flight
   stop at their next safe point, and the host exits instead of running on unobserved.
4. Concurrency. It serves as many calls at once as the engine sends (MAX_CONCURRENT_CALLS), not four.

The SDK module cannot be imported (it starts serving at import), so it is loaded from its source
with that call left out and its error decorator replaced by ours; `load_sdk_host` checks that
both are where we expect, so an SDK upgrade that moves them fails loudly here, not silently.
"""

from __future__ import annotations

import ast
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pulumi.dynamic

from dynamic_providers import engine_watch
from dynamic_providers.errors import ProxmoxHciError

SDK_DECORATOR = "_abort_with_traceback"
EXIT_GRACE = 10.0  # seconds calls in flight get to reach a safe point once the engine is gone
# Calls served at once. The engine runs one host for every Python dynamic provider of a stack, and
# the SDK's host serves four calls at a time (pulumi/dynamic/__main__.py, ThreadPoolExecutor(
# max_workers=4)): a fifth create queued behind four long waits (quorum, a health gate, an OSD task)
# although the engine had let it start (its own limit, --parallel, defaults to 4 per CPU:
# pkg/cmd/pulumi/operations/up.go defaultParallel). Our calls spend their time waiting on PVE, each
# with its own client, so the engine's limit is the one that should bind: 64 threads cover
# --parallel up to 64 (16 CPUs), and an idle thread costs next to nothing.
MAX_CONCURRENT_CALLS = 64
BUG_NOTE = (
    "\nThis is a bug in proxmox-hci's providers, not an error from PVE or Ceph: please report it with the "
    "traceback above."
)

Handler = Callable[[Any, Any, Any], Any]


def answer_errors(fn: Handler) -> Handler:
    """The SDK's `_abort_with_traceback`, ours: a call scope for the URN, and clean errors."""

    def wrapper(self: Any, request: Any, context: Any) -> Any:
        with engine_watch.WATCH.call_scope(getattr(request, "urn", ""), context):
            try:
                return fn(self, request, context)
            except engine_watch.EngineGone as exc:
                context.abort(grpc.StatusCode.CANCELLED, str(exc))
            except ProxmoxHciError as exc:
                context.abort(grpc.StatusCode.UNKNOWN, clean_message(exc))
            except Exception:  # noqa: BLE001 - every other exception is a bug: keep its traceback
                context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc() + BUG_NOTE)

    wrapper.__name__ = getattr(fn, "__name__", "handler")
    wrapper.__doc__ = fn.__doc__
    return wrapper


def clean_message(exc: ProxmoxHciError) -> str:
    """What the operator reads under the resource: our message (it already carries PVE's or Ceph's words)."""
    return str(exc).strip() or type(exc).__name__


def load_sdk_host(decorator: Callable[[Handler], Handler] = answer_errors) -> ModuleType:
    """pulumi/dynamic/__main__.py as a module that does not serve, with `decorator` for its handlers."""
    path = Path(pulumi.dynamic.__file__).with_name("__main__.py")
    tree = ast.parse(path.read_text(), filename=str(path))
    kept: list[ast.stmt] = []
    found = {"main call": False, SDK_DECORATOR: False}
    for node in tree.body:
        if isinstance(node, ast.Expr) and _is_call_of(node.value, "main"):
            found["main call"] = True
            continue
        if isinstance(node, ast.FunctionDef) and node.name == SDK_DECORATOR:
            found[SDK_DECORATOR] = True
            continue
        kept.append(node)
    missing = [name for name, seen in found.items() if not seen]
    if missing:
        raise RuntimeError(
            f"{path} no longer has the shape dynamic_providers/host.py expects (missing: {', '.join(missing)}); "
            "check the pulumi SDK pin against host.py"
        )
    tree.body = kept
    module = ModuleType("dynamic_providers._sdk_host")
    module.__file__ = str(path)
    module.__dict__[SDK_DECORATOR] = decorator
    exec(compile(tree, str(path), "exec"), module.__dict__)  # the SDK's own source, see the docstring
    return module


def _is_call_of(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name and not node.args


def engine_address(argv: list[str]) -> str | None:
    """The engine's address: the last argument, after the flags the engine may pass first (--logtostderr,
    -v=N with --logflow; "--tracing ENDPOINT"), as buildPluginArguments in sdk/go/common/resource/plugin
    /plugin.go orders them. None when the host runs without an engine (attach mode)."""
    args = argv[1:]
    if not args or args[-1].startswith("-") or (len(args) > 1 and args[-2].lstrip("-") == "tracing"):
        return None
    return args[-1]


def main(argv: list[str]) -> None:
    # The engine ends a plugin with SIGINT, then waits up to 5 s before it kills it. Python leaves SIGINT
    # ignored when it started so, as every process started from a background job of a non-interactive
    # shell (`cmd &` in a CI script) is: asked for here, it raises KeyboardInterrupt either way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sdk = load_sdk_host()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS), options=sdk._GRPC_CHANNEL_OPTIONS
    )
    sdk.provider_pb2_grpc.add_ResourceProviderServicer_to_server(sdk.DynamicResourceProviderServicer(), server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    server.start()
    watch = engine_watch.WATCH
    try:  # from the port on: a SIGINT may come at any moment after it
        # The engine reads the port from the first line of stdout.
        sys.stdout.buffer.write(f"{port}\n".encode())
        sys.stdout.flush()
        address = engine_address(argv)
        if address:
            watch.attach(address)
        watch.gone.wait()
    except KeyboardInterrupt:  # the engine's normal way of closing a plugin (SIGINT), once its calls returned
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # leaving already: a second one must not cut that short
    # Calls still in flight (the engine is gone, or a Ctrl-C reached the whole process group) were
    # dropped: each raises EngineGone at its next safe point, never in the middle of a step.
    server.stop(0)
    watch.wait_for_calls(EXIT_GRACE)
    if not watch.gone.is_set():
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    # os._exit, not a return: the interpreter's teardown (grpc's threads, module finalisers) takes 40-70 ms
    # the engine waits out for every run's host (pulumi sdk/go/common/resource/plugin/plugin.go, kill:
    # SIGINT, then it waits for the exit), twice in a `pulumi refresh` (its preview, then the refresh);
    # and a call stuck in a long HTTP read must not keep the process alive. Once the engine is gone,
    # stdout and stderr lead nowhere: nothing is flushed to them.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
