"""A local Proxmox VE cluster on one machine: fakepve's PVE API with real Ceph daemons underneath."""
