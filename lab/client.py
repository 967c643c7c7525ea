"""How a process talks to a lab it did not start in-process: start and stop it, read lab.json, call it.

`start_lab`/`stop_lab` run the real CLI (`python -m lab up|down`) in a child process, so a lab never
lives in its caller's process; `Lab` is a running lab as tests and benchmarks see it, and `control`
calls the lab-only endpoints under /lab/. Nothing here imports the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lab.statefile import LabInfo


class LabError(Exception):
    """A lab operation that failed, with a message for the user (the CLI prints it without a traceback)."""


def control(info: LabInfo, method: str, path: str, payload: dict[str, Any] | None = None, timeout: float = 120) -> Any:
    """Call a lab-only /lab/ endpoint with the lab's API token."""
    response = requests.request(
        method,
        info.endpoint + path,
        json=payload,
        timeout=timeout,
        verify=info.ca_cert,
        headers={"Authorization": f"PVEAPIToken={info.api_token}"},
    )
    if response.status_code >= 400:
        raise LabError(f"{method} {path}: {response.status_code} {response.json().get('message', response.text)}")
    return response.json()["data"]


@dataclass
class Lab:
    """A running lab, as a test sees it."""

    info: LabInfo

    def __getattr__(self, name: str) -> Any:  # endpoint, ca_cert, nodes, ... straight from lab.json
        return getattr(self.info, name)

    def api(self) -> Any:
        """proxmoxer with the API token (most calls)."""
        from proxmoxer import ProxmoxAPI

        host = self.info.endpoint.removeprefix("https://")
        user, _, rest = self.info.api_token.partition("!")
        name, _, value = rest.partition("=")
        return ProxmoxAPI(
            host, user=user, token_name=name, token_value=value, verify_ssl=self.info.ca_cert, timeout=120
        )

    def root_api(self) -> Any:
        """proxmoxer with a root@pam password ticket (the root-only calls)."""
        from proxmoxer import ProxmoxAPI

        host = self.info.endpoint.removeprefix("https://")
        return ProxmoxAPI(
            host, user="root@pam", password=self.info.root_password, verify_ssl=self.info.ca_cert, timeout=120
        )

    def ceph(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """The `ceph` CLI against this lab's cluster (the truth, not the API's view of it)."""
        out = subprocess.run(
            ["ceph", "-c", self.info.ceph_conf, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and out.returncode != 0:
            raise AssertionError(f"ceph {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def wait_osds_up(self, count: int, timeout: float = 180) -> None:
        """Until `count` OSDs are up and in. PVE's OSD task ends once ceph-volume has started the daemon
        (pve-manager PVE/API2/Ceph/OSD.pm createosd), before the OSD boots into the osdmap."""
        deadline = time.monotonic() + timeout
        while True:
            stat = json.loads(self.ceph("osd", "stat", "--format", "json"))
            if min(stat["num_up_osds"], stat["num_in_osds"]) >= count:
                return
            if time.monotonic() >= deadline:
                raise LabError(f"{count} OSDs up and in: not within {timeout:.0f} s; last seen: {stat}")
            time.sleep(0.3)

    def rbd(self, *args: str, timeout: float = 60) -> str:
        out = subprocess.run(
            ["rbd", "-c", self.info.ceph_conf, *args], capture_output=True, text=True, timeout=timeout, check=True
        )
        return out.stdout

    def control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        return control(self.info, method, path, payload)

    def fail_node(self, node: str) -> None:
        self.control("POST", f"/lab/nodes/{node}/fail")

    def recover_node(self, node: str) -> None:
        self.control("POST", f"/lab/nodes/{node}/recover")

    def zap(self, node: str, disk: str) -> None:
        """`ceph-volume lvm zap --destroy <disk>` on the node (an OSD's leftover LVs go)."""
        self.control("POST", f"/lab/nodes/{node}/zap", {"disk": disk})

    def _cli(self, *args: str) -> str:
        """The real `python -m lab` command against this lab (it also persists what it changes)."""
        out = subprocess.run(
            [sys.executable, "-m", "lab", *args, "--state-dir", self.info.state_dir],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if out.returncode != 0:
            raise LabError(out.stderr.strip() or out.stdout.strip())
        return out.stdout

    def add_node(self, name: str, disks: str | None = None) -> None:
        """`python -m lab add-node`: the node joins; lab.json (so `nodes`) is read again."""
        self._cli("add-node", name, *(("--disks", disks) if disks else ()))
        self.info = LabInfo.load(Path(self.info.state_dir))

    def fail_disk(self, node: str, device: str) -> None:
        self._cli("fail-disk", node, device)

    def replace_disk(self, node: str, device: str, size: str | None = None) -> None:
        self._cli("replace-disk", node, device, *((size,) if size else ()))

    def fault(self, name: str, **kwargs: Any) -> None:
        self.control("POST", f"/lab/faults/{name}", kwargs)

    def clear_faults(self) -> None:
        self.control("POST", "/lab/faults-clear")

    def request_counts(self) -> dict[tuple[str, str], int]:
        data = self.control("GET", "/lab/requests")
        return {(c["method"], c["path"]): c["count"] for c in data["counts"]}

    def request_times(self) -> list[dict[str, Any]]:
        """The newest requests the lab answered, oldest first: {time (wall clock), method, path (template)}."""
        result: list[dict[str, Any]] = self.control("GET", "/lab/requests/times")
        return result

    def tasks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/lab/tasks")
        return result


def start_lab(state_dir: Path, *options: str) -> Lab:
    subprocess.run(
        [sys.executable, "-m", "lab", "up", "--state-dir", str(state_dir), *options], check=True, timeout=120
    )
    return Lab(LabInfo.load(state_dir))


def stop_lab(state_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "lab", "down", "--state-dir", str(state_dir)], check=False, timeout=180)
