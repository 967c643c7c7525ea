"""The lab's PVE-side state and behaviour that neither fakepve nor real Ceph holds (see docs/architecture.md)."""
