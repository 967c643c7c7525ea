"""PVE's error texts, in one place, with only the variable part passed in.

Each function returns the exception the API handler raises (fakepve turns PveError into the
HTTP answer; TaskError ends a worker task with `TASK ERROR: <message>`). The wording is copied from
the `die` that raises it, including PVE's own typos: pve-manager PVE/Ceph/Tools.pm (installed,
initialised, configured; set_pool), PVE/API2/Ceph/MON.pm, PVE/Ceph/Services.pm (MGR directories),
PVE/API2/Ceph/OSD.pm, PVE/API2/Ceph/Pool.pm; pve-storage src/PVE/API2/Disks.pm (wipedisk); the lock
timeouts of pve-cluster src/PVE/Cluster.pm (cfs_lock) and pve-common src/PVE/Tools.pm (lock_file).
"""

from __future__ import annotations

from fakepve.model import PveError, TaskError

__all__ = ["PveError", "TaskError"]

# A die() without a trailing newline gets Perl's location appended: pve-manager PVE/API2/Ceph/OSD.pm
# destroyosd dies so for an OSD of another node (its line in PVE 9.0).
PERL_OSD_PM = " at /usr/share/perl5/PVE/API2/Ceph/OSD.pm line 1010."


def die(message: str) -> PveError:
    return PveError(500, message)


def param(**fields: str) -> PveError:
    return PveError(400, "Parameter verification failed.", fields)


def forbidden(why: str) -> PveError:
    return PveError(403, f"Permission check failed ({why})")


def binary_not_installed(binary: str) -> PveError:
    return die(f"binary not installed: {binary}")


def not_initialized(missing: list[str]) -> PveError:
    return die("pveceph configuration not initialized - " + ", ".join(f"missing '{m}'" for m in missing))


def not_configured() -> PveError:
    return die("ceph not fully configured - missing '/etc/pve/priv/ceph.client.admin.keyring'")


def cfs_lock_timeout(lock: str) -> TaskError:
    return TaskError(f"cfs-lock '{lock}' error: got lock request timeout")


def disk_lock_timeout() -> TaskError:
    return TaskError("can't lock file '/run/lock/pve-diskmanage.lck' - got timeout")


# -- MON ----------------------------------------------------------------------------------------


def mon_exists(mon_id: str) -> PveError:
    return die(f"monitor '{mon_id}' already exists")


def mon_address_in_use(ip: str) -> PveError:
    return die(f"monitor address '{ip}' already in use")


def mon_ip_not_local(ip: str, node: str) -> PveError:
    return die(f"Specified monitor IP '{ip}' not configured or up on {node}!")


def mon_no_ip(network: str, node: str) -> PveError:
    return die(f"No active IP found for the requested ceph public network '{network}' on node '{node}'")


def mon_no_cluster() -> PveError:
    return die("Could not connect to ceph cluster despite configured monitors")


def no_such_mon(mon_id: str) -> PveError:
    return die(f"no such monitor id '{mon_id}'")


def mon_not_local(mon_id: str) -> PveError:
    return die(f"monitor filesystem '/var/lib/ceph/mon/ceph-{mon_id}' does not exist on this node")


def last_mon() -> PveError:
    return die("can't remove last monitor")


# -- MGR ----------------------------------------------------------------------------------------


def mgr_dir_exists(mgr_id: str) -> TaskError:
    return TaskError(f"ceph manager directory '/var/lib/ceph/mgr/ceph-{mgr_id}' already exists")


def mgr_dir_missing(mgr_id: str) -> TaskError:
    return TaskError(f"ceph manager directory '/var/lib/ceph/mgr/ceph-{mgr_id}' not found")


# -- OSD and disks ------------------------------------------------------------------------------


def device_in_use(dev: str) -> PveError:
    return die(f"device '{dev}' is already in use")


def device_unknown(dev: str) -> PveError:
    return die(f"unable to get device info for '{dev}'")


def no_cluster_address(network: str, node: str) -> PveError:
    return die(f"No address from ceph cluster network ({network}) found on node '{node}'. Check your network config.")


def no_such_osd(osd_id: int | str) -> PveError:
    return die(f"no such OSD '{osd_id}'")


def osd_not_on_node(osd_id: int, node: str) -> PveError:
    return die(f"OSD osd.{osd_id} does not belong to node {node}!{PERL_OSD_PM}")


def osd_in_use() -> PveError:
    return die("osd is in use (in == 1)")


def osd_running() -> PveError:
    return die("osd is still running (up == 1)")


def osd_metadata_wrong_host(osd_id: int, node: str) -> PveError:
    return die(f"OSD '{osd_id}' does not exists on host '{node}'")


def disk_has_holder(dev: str) -> PveError:
    return die(f"disk/partition '{dev}' has a holder")


# -- pools ---------------------------------------------------------------------------------------


def pool_in_use(pool: str, storage: str) -> TaskError:
    return TaskError(f"ceph pool '{pool}' still in use by storage '{storage}'")


def unrecognized_pool(prefix: str, pool: str) -> TaskError:
    return TaskError(f"error with '{prefix}': mon_cmd failed - unrecognized pool '{pool}'")


def could_not_set(keys: list[str]) -> TaskError:
    return TaskError("Could not set: " + ", ".join(keys))
