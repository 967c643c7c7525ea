"""The PVE-side state of a lab that real Ceph does not hold: packages, locks, HA config, counters."""
