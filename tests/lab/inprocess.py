"""A LabPve served in this process on a private event loop, without Ceph: fast tests of VM and HA logic."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import ProxmoxAPI, ResourceException

from lab.ceph_backend.errors import CephCommandError
from lab.models.cluster import ClusterState
from lab.server import LabPve
from lab.spec import build_spec
from lab.tls import make_certificates
from tests import waiting

FENCE_DELAY = 0.5


class NoCeph:
    """The backend of a lab whose tests need no Ceph: node failures are only API-side."""

    conf_path = Path("/nonexistent/ceph.conf")
    admin_keyring = Path("/nonexistent/ceph.client.admin.keyring")

    def initialized(self) -> bool:
        return False

    def fail_node(self, node: str) -> None:
        pass

    def recover_node(self, node: str) -> None:
        pass

    def rbd(self, *args: str, timeout: float = 60) -> Any:
        raise CephCommandError(1, "rbd: couldn't connect to the cluster!", ["rbd", *args])


class InProcessLab:
    """A LabPve served on a private event loop in a thread, as fakepve's own pytest plugin does."""

    def __init__(self, tmp: Path, pve_version: int = 9, nodes: int = 3, backend: Any = None) -> None:
        spec = build_spec(
            f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}.0/24", nodes=nodes, pve_version=pve_version
        )
        self.password = secrets.token_hex(8)
        self.pve = LabPve(
            ClusterState(spec=spec),
            backend or NoCeph(),  # type: ignore[arg-type]  # a stand-in with the methods these tests reach
            self.password,
            host=spec.api_host,
            port=0,
        )
        self.pve.ha_manager.fence_delay = FENCE_DELAY
        # VM disks default to a shared (RBD) storage: HA migrates running VMs live, which PVE refuses
        # for VMs with local disks. Nothing here allocates on it, so no Ceph is needed.
        self.pve.add_ceph_storage("ceph-vm", "vms")
        self.certs = make_certificates(tmp / "tls", [spec.api_host])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.pve.start(str(self.certs.server_cert), str(self.certs.server_key)))

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run plain code on the server's loop (model changes must not race the API)."""

        async def wrapped() -> Any:
            return fn()

        return self.call(wrapped())

    def api(self) -> Any:
        return ProxmoxAPI(
            self.pve.host,
            port=self.pve.port,
            user="root@pam",
            password=self.password,
            verify_ssl=str(self.certs.ca_cert),
            timeout=30,
        )

    def add_vm(self, vmid: int, node: str = "pve1", running: bool = False, **config: Any) -> Any:
        cfg = {"memory": "1024", "scsi0": f"ceph-vm:vm-{vmid}-disk-0,size=4G", **config}
        return self.run(
            lambda: self.pve.add_vm(
                vmid, f"vm{vmid}", node=node, config=cfg, status="running" if running else "stopped"
            )
        )

    def fail_node(self, node: str) -> None:
        self.call(self.pve.fail_node(node))

    def recover_node(self, node: str) -> None:
        self.call(self.pve.recover_node(node))

    def stop(self) -> None:
        try:
            self.call(self.pve.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15) -> Any:
    """tests.waiting.wait_for, polling fast: nothing in process takes long."""
    return waiting.wait_for(what, check, timeout, interval=0.05)


def wait_task(api: Any, upid: str, timeout: float = 15) -> tuple[str, list[str]]:
    return waiting.wait_task(api, upid, timeout)


def error_of(call: Callable[[], Any]) -> tuple[int, str, Any]:
    with pytest.raises(ResourceException) as info:
        call()
    return info.value.status_code, str(info.value.content).strip(), info.value.errors
