"""Pulumi dynamic providers for the Ceph lifecycle on Proxmox VE, over one shared PVE client (pve/).

Each resource lives in its own module with its provider (import it from there, e.g.
`from dynamic_providers.ceph_osd import CephOsd`); pure decisions are in logic/. This package
imports nothing itself, so the pure logic loads without pulumi.
"""
