"""The lab's server process: the PVE API plus the Ceph daemons it starts, until SIGTERM.

`python -m lab up` starts this in the background; it never runs in the caller's process, so a
crashed test run cannot take the lab down half-way and `lab down` can always stop it by PID.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.ceph_backend.backend import CephBackend
from lab.ceph_backend.tuning import lab_overrides
from lab.models.cluster import ClusterState
from lab.processes import ProcessTracker
from lab.server import LabPve
from lab.spec import API_PORT, LabSpec, build_spec, with_disk_replaced, with_node
from lab.statefile import TOKEN_ID, LabSettings, read_secrets, read_settings
from lab.tls import LabCertificates

log = logging.getLogger("lab")

# PVE serves each node's API calls with its own pvedaemon workers (pve-manager PVE/Service/pvedaemon.pm:
# max_workers => 3) and runs every task in a process of its own (PVE::RPCEnvironment fork_worker), so a
# node's disk list never waits for another node's OSD create. The lab does both in one process, the
# blocking parts (ceph-volume, `ceph` and `rbd` calls, disk reads) in threads of its event loop's
# default executor: asyncio's default of min(32, CPUs + 4) threads made 12 nodes' requests queue
# behind each other's running tasks (a disks/list took 1.4 s at the median and up to 5.4 s while 12
# OSD creates ran: bench/orchestration.py, request times). Threads that wait on a subprocess cost
# next to nothing.
API_WORKERS_PER_NODE = 3
TASK_THREADS = 64  # running tasks at once before one waits for a thread: PVE has no such limit


def executor_threads(nodes: int) -> int:
    """Threads the lab needs so that neither its tasks nor its nodes' API calls queue for one."""
    return TASK_THREADS + API_WORKERS_PER_NODE * nodes


def lab_spec(settings: LabSettings) -> LabSpec:
    """The spec `up` made, then every node added and disk replaced since, in order."""
    spec = build_spec(settings.subnet, settings.nodes, settings.disks, settings.pve_version, settings.pve_release)
    for name, disks in settings.added_nodes:
        spec = with_node(spec, name, disks or None)
    for node, devpath, size in settings.replaced_disks:
        spec = with_disk_replaced(spec, node, devpath, size or None)
    return spec


def build_lab(state_dir: Path) -> LabPve:
    settings = read_settings(state_dir)
    secrets = read_secrets(state_dir)
    spec = lab_spec(settings)
    cluster = ClusterState(spec=spec)
    if settings.ceph_installed:
        # As if the GUI's wizard had installed its default release on every node.
        for node in spec.node_names:
            cluster.install(node, spec.release.wizard_default_ceph)
    backend = CephBackend(
        state_dir / "ceph", spec, ProcessTracker(state_dir), lab_overrides(settings.mon_osd_down_out_interval)
    )
    pve = LabPve(cluster, backend, secrets.root_password, host=spec.api_host, port=API_PORT)
    pve.apitokens[TOKEN_ID] = secrets.token_secret
    pve.ha_manager.fence_delay = settings.ha_fence_delay
    pve.tfa = settings.tfa  # fakepve: /access/ticket answers root@pam's password with the partial ticket
    return pve


async def serve(state_dir: Path) -> None:
    pve = build_lab(state_dir)
    certs = LabCertificates(
        ca_cert=state_dir / "tls" / "ca.pem",
        server_cert=state_dir / "tls" / "server.pem",
        server_key=state_dir / "tls" / "server.key",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    nodes = len(pve.cluster.spec.node_names)
    loop.set_default_executor(ThreadPoolExecutor(executor_threads(nodes), thread_name_prefix="lab"))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await pve.start(str(certs.server_cert), str(certs.server_key))
    log.info("lab API listening on %s", pve.url)
    try:
        await stop.wait()
    finally:
        log.info("stopping: API, then Ceph daemons")
        await pve.stop()
        pve.rados.close()
        await asyncio.to_thread(pve.backend.shutdown)


def main(state_dir: Path) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(state_dir))
    return 0
