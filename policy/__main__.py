"""Entry point of the proxmox-hci policy pack: `pulumi preview --policy-pack policy`."""

from hci_policy.pack import build

build()
