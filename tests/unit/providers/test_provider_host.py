"""dynamic_providers/host.py as the engine sees it: a separate process speaking the provider protocol.

A stand-in engine (the Engine log service, in this process) takes the host's progress messages;
the host is started the way our launcher starts it (`python -m dynamic_providers.host ADDRESS`)
and called over gRPC with providers from host_fixtures.py, pickled as the SDK pickles them.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dill
import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from dynamic_providers.host import BUG_NOTE, MAX_CONCURRENT_CALLS, engine_address, load_sdk_host
from tests.unit.providers import host_fixtures

REPO = Path(__file__).resolve().parents[3]
URN = "urn:pulumi:dev::proxmox-hci::pulumi-python:dynamic/ceph:Osd::osd-pve1-sdb"


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine's log service; records what providers log. No health service: like the real engine's
    UNIMPLEMENTED answer for an unknown service, that counts as alive."""

    def __init__(self) -> None:
        self.logs: list[Any] = []

    def Log(self, request: Any, context: Any) -> Any:  # gRPC's method name
        self.logs.append(request)
        return empty_pb2.Empty()


@contextmanager
def fake_engine() -> Iterator[tuple[FakeEngine, grpc.Server, str]]:
    fake = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    engine_pb2_grpc.add_EngineServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield fake, server, f"127.0.0.1:{port}"
    finally:
        server.stop(0)


@contextmanager
def provider_host(
    engine_address: str | None, sigint_ignored: bool = False
) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    """The host as our launcher starts it; `sigint_ignored` as a background job of a non-interactive shell
    starts its children (SIGINT ignored from the start)."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "dynamic_providers.host", *([engine_address] if engine_address else [])],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())  # the engine's handshake: the port on the first line
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield proc, provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        channel.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[FakeEngine, grpc.Server, str]]:
    with fake_engine() as running:
        yield running


@pytest.fixture(scope="module")
def host(engine: tuple[FakeEngine, grpc.Server, str]) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    """One host for the tests that leave it running (starting one takes about 2 s)."""
    with provider_host(engine[2]) as running:
        yield running


def create_request(provider: Any, **props: Any) -> Any:
    wire = {"__provider": base64.b64encode(dill.dumps(provider)).decode(), **props}
    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the current loop other tests use
    try:
        properties = loop.run_until_complete(rpc.serialize_properties(wire, {}))
    finally:
        loop.close()
    return provider_pb2.CreateRequest(urn=URN, properties=properties)


def error_of(stub: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Create(request, timeout=30)
    return caught.value


def test_sdk_servicer_loads_with_our_decorator() -> None:
    sdk = load_sdk_host(lambda fn: fn)
    assert hasattr(sdk, "DynamicResourceProviderServicer") and hasattr(sdk, "get_provider")


@pytest.mark.parametrize(
    ("argv", "address"),
    [
        (["host", "127.0.0.1:4242"], "127.0.0.1:4242"),
        (["host", "--logtostderr", "-v=9", "127.0.0.1:4242"], "127.0.0.1:4242"),  # pulumi --logflow
        (["host", "--tracing", "http://127.0.0.1:9411", "127.0.0.1:4242"], "127.0.0.1:4242"),
        (["host", "--tracing", "http://127.0.0.1:9411"], None),  # attach mode: no engine
        (["host"], None),
    ],
)
def test_engine_address_is_the_last_argument_after_the_engines_flags(argv: list[str], address: str | None) -> None:
    assert engine_address(argv) == address


def test_our_error_arrives_as_its_message_alone(host: Any) -> None:
    _, stub = host
    err = error_of(stub, create_request(host_fixtures.RefusingProvider()))
    assert err.details() == host_fixtures.REFUSAL
    assert "Traceback" not in err.details()


def test_a_bug_keeps_its_traceback_and_says_it_is_one(host: Any) -> None:
    _, stub = host
    details = error_of(stub, create_request(host_fixtures.BuggyProvider(), pool="vm-pool")).details()
    assert details.startswith("Traceback (most recent call last):")
    assert "KeyError: 'vm-pool'" in details and "host_fixtures.py" in details
    assert details.endswith(BUG_NOTE)


def test_progress_reaches_the_engine_under_the_resource(host: Any, engine: tuple[FakeEngine, grpc.Server, str]) -> None:
    _, stub = host
    engine[0].logs.clear()
    stub.Create(create_request(host_fixtures.ChattyProvider()), timeout=30)
    logs = [(log.message, log.urn, log.ephemeral, log.severity) for log in engine[0].logs]
    assert logs == [(f"step {n} of 3", URN, True, engine_pb2.INFO) for n in (1, 2, 3)]


def test_a_dropped_call_stops_at_the_next_poll_and_never_destroys(host: Any, tmp_path: Path) -> None:
    """The engine's side of a call ends (its connection closed, or a timeout): no step after the wait runs."""
    _, stub = host
    marker = tmp_path / "destroyed"
    call = stub.Create.future(create_request(host_fixtures.DrainThenDestroyProvider(), wait=2.0, marker=str(marker)))
    time.sleep(0.8)  # in the middle of the wait
    call.cancel()
    time.sleep(2.5)  # past the moment the wait would have ended
    assert not marker.exists()


def test_an_undropped_wait_does_reach_its_next_step(host: Any, tmp_path: Path) -> None:
    """The control for the test above: the same provider, left alone, destroys."""
    _, stub = host
    marker = tmp_path / "destroyed"
    stub.Create(create_request(host_fixtures.DrainThenDestroyProvider(), wait=0.5, marker=str(marker)), timeout=30)
    assert marker.read_text() == "destroyed"


def test_the_host_serves_more_calls_at_once_than_the_sdks_four(host: Any, tmp_path: Path) -> None:
    """Eight creates that each wait for all eight to arrive: with the SDK's four workers, four never start."""
    _, stub = host
    calls = [
        stub.Create.future(create_request(host_fixtures.RendezvousProvider(), room=str(tmp_path), expected=8))
        for _ in range(8)
    ]
    saw = [rpc.deserialize_properties(call.result(timeout=60).properties)["saw"] for call in calls]
    assert saw == [8] * 8
    assert MAX_CONCURRENT_CALLS >= 8


def test_the_host_exits_soon_after_the_engine_dies() -> None:
    with fake_engine() as (_, server, address), provider_host(address) as (proc, stub):
        # A call in flight, as when pulumi is killed in the middle of a drain.
        call = stub.Create.future(
            create_request(host_fixtures.DrainThenDestroyProvider(), wait=60, marker="/nonexistent")
        )
        time.sleep(0.5)
        killed = time.monotonic()
        server.stop(0)  # the engine's address now refuses connections
        proc.wait(timeout=15)
        assert time.monotonic() - killed < 6  # two refused checks a second apart, then the call's safe point
        assert proc.returncode == 0
        call.cancel()


def test_the_engines_sigint_ends_the_host_at_once_even_with_a_call_in_flight() -> None:
    """The engine closes a plugin with SIGINT and waits for it to exit (5 s, then SIGKILL): the host
    leaves cleanly, a call still running (here a 60 s wait, as a Ctrl-C reaches) dropped, no traceback."""
    with fake_engine() as (_, _, address), provider_host(address) as (proc, stub):
        call = stub.Create.future(
            create_request(host_fixtures.DrainThenDestroyProvider(), wait=60, marker="/nonexistent")
        )
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)  # far below the call's 60 s
        assert proc.returncode == 0
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()
        call.cancel()


def test_the_engines_sigint_ends_a_host_started_with_sigint_ignored() -> None:
    """A background job of a non-interactive shell (`pulumi up &` in a CI script) starts its children with
    SIGINT ignored, and Python keeps it so: the engine would wait 5 s for each host, then kill it."""
    with provider_host(None, sigint_ignored=True) as (proc, _):
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=4)  # the engine's patience is 5 s
        assert proc.returncode == 0
