"""notice(message): a line in `pulumi up`'s output, kept, about something the operator should know happened.

Used when a create takes over an object it found (logic/takeover.py) and when a task left running by
an interrupted run is waited for (interrupted.py). Unlike progress() (progress.py), which shows a
passing status, a notice is an info diagnostic of the resource: the engine keeps it, and the
display lists it under the resource in "Diagnostics:" (the same Log RPC, not ephemeral: pulumi/pulumi
pkg/host/host_server.go, Log). Outside our provider host there is no
engine to tell: the line goes to stderr (which the engine would show as an info of the stack:
sdk/go/common/resource/plugin/plugin.go) and to the `dynamic_providers.notices` logger, which the
integration tests read.
"""

from __future__ import annotations

import logging
import sys

import grpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from dynamic_providers import engine_watch
from dynamic_providers.progress import LOG_TIMEOUT

log = logging.getLogger(__name__)

PREFIX = "proxmox-hci: "


def notice(message: str) -> None:
    text = " ".join(message.split())
    log.info("%s", text)
    call = engine_watch.current_call()
    channel = engine_watch.WATCH.channel
    if call is not None and call.urn and channel is not None:
        request = engine_pb2.LogRequest(severity=engine_pb2.INFO, message=text, urn=call.urn, ephemeral=False)
        try:
            engine_pb2_grpc.EngineStub(channel).Log(request, timeout=LOG_TIMEOUT)
            return
        except grpc.RpcError as exc:  # the line still goes out below
            log.debug("notice not delivered to the engine: %s", exc)
    print(PREFIX + text, file=sys.stderr, flush=True)
