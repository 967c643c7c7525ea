"""Settings that make real Ceph daemons fit a small lab machine and react at lab speed.

They are passed on each daemon's command line (not written to ceph.conf), so ceph.conf and the
MON config database look like a PVE cluster's, and `ceph config show <daemon>` still reveals them
(source "cmdline"). Ceph's rules stay as they are: size 3 over hosts, the default CRUSH rule,
quorum, cephx, scrubbing. What changes is memory, thread counts and timeouts.
"""

from __future__ import annotations

MiB = 1024**2

# Every daemon.
COMMON: dict[str, str] = {
    # Each daemon has 3 messenger worker threads by default; 2 keep up easily with a lab's traffic.
    "ms_async_op_threads": "2",
    # After a peer dies, reconnect attempts back off up to 15 s. When a `fail_node` is recovered, the
    # surviving MONs would then reach the restarted MON (same address, nonce 0) only after that
    # backoff: it stayed out of quorum for up to 16 s. Loopback reconnects cost nothing; cap at 2 s.
    "ms_max_backoff": "2",
    # Heartbeat timing is read by both OSDs (who ping) and MONs (who judge reports): a killed node's
    # OSDs must be marked down within seconds, not the default 20 s grace. Peers on loopback answer
    # in microseconds, so a 1 s interval and 5 s grace make no false alarms.
    "osd_heartbeat_interval": "1",
    "osd_heartbeat_grace": "5",
}

MON: dict[str, str] = {
    # Forming a quorum after a MON joins waits one election timeout (default 5 s), though messages
    # between MONs on loopback take microseconds. 1 s made elections repeat on a busy 2-core host.
    "mon_election_timeout": "2",
    # Probing for peers re-tries every 2 s.
    "mon_probe_timeout": "1",
    # Batch proposals for 0.25 s instead of 1 s: maps (OSD boot, pool create) commit sooner.
    "paxos_propose_interval": "0.25",
    # A lab shares the host's disk: a host disk above 70 % full would make every lab HEALTH_WARN
    # (MON_DISK_LOW), which real MON disks do not. The critical shutdown level (5 %) stays.
    "mon_data_avail_warn": "6",
    # A dead MON blocks every Paxos commit (an OSD marked down, too) until the leader gives up on it:
    # lease-ack and accept timeouts are 2 x mon_lease (default 5 s, so 10 s). With 3 s a failed node's
    # OSDs are down after ~8.5 s (6 s + a 2 s election); leases are still renewed every 1.8 s.
    "mon_lease": "3",
    # Do not stretch the heartbeat grace for OSDs with a "laggy" history (a lab kills OSDs on purpose).
    "mon_osd_adjust_heartbeat_grace": "false",
    # A standby MGR takes over 10 s after the active one stops sending beacons (default 30 s), so a
    # `fail_node` of the active MGR's node recovers quickly.
    "mon_mgr_beacon_grace": "10",
    # MON memory: the rocksdb block cache (default 512 MiB) and the autotuned target (2 GiB).
    "mon_memory_target": str(256 * MiB),
    "rocksdb_cache_size": str(64 * MiB),
    # Modules enabled when the MGR map is created (default "restful iostat nfs"): restful has no
    # certificate in a lab, nfs needs CephFS/orchestrator; iostat is light and PVE shows it.
    "mgr_initial_modules": "iostat",
}

MGR: dict[str, str] = {
    # mgr_stats_period and mgr_tick_period are in MGR_CONFIG_DB below, not here.
    # Every module in /usr/share/ceph/mgr is loaded into its own Python sub-interpreter, enabled or
    # not, in the active and in the standby MGR alike. Never load the optional ones a lab does not
    # use; Ceph's always-on modules (balancer, crash, devicehealth, orchestrator, pg_autoscaler,
    # progress, rbd_support, status, telemetry, volumes) and iostat stay.
    "mgr_disabled_modules": ",".join(
        (
            "alerts",
            "cephadm",
            "dashboard",
            "diskprediction_local",
            "influx",
            "insights",
            "k8sevents",
            "localpool",
            "mds_autoscaler",
            "mirroring",
            "nfs",
            "osd_perf_query",
            "osd_support",
            "prometheus",
            "restful",
            "rook",
            "selftest",
            "snap_schedule",
            "stats",
            "telegraf",
            "test_orchestrator",
            "zabbix",
        )
    ),
}

# Set in the MON config DB after the first MON (`ceph config set mgr ...`), as an operator tunes a
# cluster, because clients read them: daemons send their stats (PG states included) to the MGR every
# mgr_stats_period (default 5 s) and the MGR passes a digest to the MONs every mgr_tick_period
# (default 2 s), so `ceph status` lags an OSD change by up to their sum, and the health gate reads
# both through PVE's GET ceph/cfg/value to know how long (dynamic_providers/logic/health.py). On the
# command line they would be invisible to PVE's API. 1 s each; three OSDs' stats are tiny.
MGR_CONFIG_DB: dict[str, str] = {
    "mgr_stats_period": "1",
    "mgr_tick_period": "1",
}

OSD: dict[str, str] = {
    # Memory: the cache autotuner aims at osd_memory_target (default 4 GiB, lowest accepted value
    # 896 MiB, and it never shrinks caches below 128 MiB). Instead: a fixed 64 MiB cache (the
    # target stays at its minimum for anything that reads it), and at most 64 MiB of client data
    # in flight per OSD (default 500 MiB). With MALLOC_ENV below, an OSD after a 4 MiB-object write
    # benchmark holds ~250 MiB instead of ~550 MiB.
    "osd_memory_target": str(896 * MiB),
    "bluestore_cache_autotune": "false",
    "bluestore_cache_size": str(64 * MiB),
    "osd_client_message_size_cap": str(64 * MiB),
    # rocksdb memtables: 4 x 256 MiB by default.
    "bluestore_rocksdb_options": (
        "compression=kNoCompression,max_write_buffer_number=2,min_write_buffer_number_to_merge=1,"
        "recycle_log_file_num=2,write_buffer_size=16777216,writable_file_max_buffer_size=0,"
        "compaction_readahead_size=2097152,max_background_compactions=1,max_total_wal_size=67108864"
    ),
    # 8 op shards x 2 threads (ssd) or 5 x 1 (hdd) per OSD are for many-core servers.
    "osd_op_num_shards_ssd": "2",
    "osd_op_num_threads_per_shard_ssd": "1",
    "osd_op_num_shards_hdd": "2",
    "osd_op_num_threads_per_shard_hdd": "1",
    # Closing a BlueStore device waits for its aio thread, which polls every 250 ms; mkfs and boot
    # open and close the disk about ten times. 50 ms wake-ups of an idle thread cost nothing.
    "bdev_aio_poll_ms": "50",
    # mkfs re-reads the fresh store (fsck), mostly the free-list of a 512 GiB device: ~1.5 s per OSD
    # for checking a file that was all zeros a second earlier.
    "bluestore_fsck_on_mkfs": "false",
    # Report to the MONs quickly after boot and after peering changes.
    "osd_mon_report_interval": "1",
    # Each open BlueStore device reserves an aio context of this depth (default 1024), and an OSD
    # opens its device twice (data and BlueFS): the host's fs.aio-max-nr (65536) then caps a machine
    # at ~32 OSDs, and a 12-node lab with 4 disks each needs 48. A queue of 128 is plenty here.
    "bdev_aio_max_queue_depth": "128",
}

# Debian builds Ceph without tcmalloc, so the daemons use glibc malloc. Its mmap threshold grows
# to the largest block freed (up to 32 MiB): after a few 4 MiB client writes every such buffer
# comes from the heap and stays there, and an OSD sat at ~500 MiB with 10 MiB in its mempools.
# A fixed threshold hands large buffers back to the kernel on free; two arenas per process
# (default 8 per core) limit fragmentation across Ceph's many threads.
MALLOC_ENV: dict[str, str] = {
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_MMAP_THRESHOLD_": str(128 * 1024),
}


def lab_overrides(mon_osd_down_out_interval: float) -> dict[str, dict[str, str]]:
    """A lab's own settings (`lab up` options), per daemon kind.

    mon_osd_down_out_interval: seconds after which the MONs mark a down OSD out, so its PGs recover
    elsewhere (Ceph's default 600; OSDMonitor::tick checks it every mon_tick_interval, 5 s).
    """
    return {"mon": {"mon_osd_down_out_interval": f"{mon_osd_down_out_interval:g}"}}


BY_KIND = {"mon": MON, "mgr": MGR, "osd": OSD}


def args_for(kind: str, overrides: dict[str, dict[str, str]] | None = None) -> list[str]:
    """The tuning of one daemon type as `--key=value` arguments; `overrides` per kind come last."""
    settings = {**COMMON, **BY_KIND[kind], **(overrides or {}).get(kind, {})}
    return [f"--{key}={value}" for key, value in settings.items()]
