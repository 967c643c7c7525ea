"""Ha: HA resources for the VMs that ask for it, placed by HA groups (PVE 8) or HA rules (PVE 9).

PVE 9 refuses every group call ("ha groups have been migrated to rules") and PVE 8 has no rules,
so the stack's pveVersion picks one; hci_config rejects the other kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_proxmoxve as proxmoxve

from dynamic_providers.logic.maintenance import without_nodes
from hci_config.model import HaConfig, VmConfig

from .vm import Vm


@dataclass(frozen=True)
class HaArgs:
    pve_version: int
    ha: HaConfig
    vms: Sequence[VmConfig]  # those with `ha` set get an HA resource
    machines: Mapping[str, Vm]  # VM name -> its component
    # Nodes in maintenance: left out of every group and node-affinity rule, so the CRM moves the services
    # off them by its own rules (pve-ha-manager src/PVE/HA/Manager.pm next_state_started ->
    # select_service_node), and back (failback) once they are listed again.
    maintenance: Sequence[str] = ()
    after: Sequence[pulumi.Resource] = ()  # the maintenance resources (ok-to-stop) come first


def sid(vm: VmConfig) -> str:
    return f"vm:{vm.vm_id}"


def priorities(nodes: Mapping[str, int | None]) -> Mapping[str, int]:
    """Node -> priority; None (no priority) is valid for bpg, though its Python type says int."""
    return cast("Mapping[str, int]", nodes)


def unplaced(args: HaArgs) -> list[str]:
    """The started HA resources the CRM does not move off a node in maintenance by itself: in no group
    (PVE 8) or no enabled node-affinity rule (PVE 9), or without failback (a group's nofailback, a
    resource's failback 0), which keeps a service on its node while that node is allowed at all
    (pve-ha-manager src/PVE/HA/Manager.pm select_service_node). HA moves them when asked
    (POST /cluster/ha/resources/{sid}/migrate)."""
    pve8 = args.pve_version == 8
    no_failback = {g.name for g in args.ha.groups if g.no_failback}
    in_rule = {n for r in args.ha.rules if r.type == "node-affinity" and not r.disable for n in r.vms}
    out = []
    for vm in args.vms:
        if vm.ha is None or vm.ha.state != "started":
            continue
        if pve8:
            moved_by_ha = vm.ha.group is not None and vm.ha.group not in no_failback
        else:
            moved_by_ha = vm.name in in_rule and vm.ha.failback is not False
        if not moved_by_ha:
            out.append(sid(vm))
    return out


class Ha(pulumi.ComponentResource):
    groups: dict[str, proxmoxve.Hagroup]
    resources: dict[str, proxmoxve.Haresource]  # by VM name
    rules: dict[str, proxmoxve.Harule]
    unplaced: list[str]  # the started HA services the CRM does not move off a node in maintenance by itself

    def __init__(self, name: str, args: HaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("proxmox-hci:pve:Ha", name, None, opts)
        pve8 = args.pve_version == 8
        self.unplaced = unplaced(args)
        self.groups = {
            group.name: proxmoxve.Hagroup(
                f"{name}-group-{group.name}",
                group=group.name,
                nodes=priorities(without_nodes(group.nodes, args.maintenance)),
                restricted=group.restricted,
                no_failback=group.no_failback,
                comment=group.comment,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
            )
            for group in (args.ha.groups if pve8 else [])
        }
        self.resources = {}
        for vm in args.vms:
            if vm.ha is None:
                continue
            machine = args.machines[vm.name]
            # HA takes over a VM only once it exists where it will live: after its create and disk moves.
            after: list[pulumi.Resource] = [machine.machine, *machine.moves]
            if pve8 and vm.ha.group:
                after.append(self.groups[vm.ha.group])
            self.resources[vm.name] = proxmoxve.Haresource(
                f"{name}-resource-{vm.name}",
                resource_id=sid(vm),
                type="vm",
                state=vm.ha.state,
                max_restart=vm.ha.max_restart,
                max_relocate=vm.ha.max_relocate,
                comment=vm.ha.comment,
                group=vm.ha.group if pve8 else None,
                failback=None if pve8 else vm.ha.failback,
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        by_name = {vm.name: vm for vm in args.vms}
        self.rules = {}
        for rule in [] if pve8 else args.ha.rules:
            # PVE refuses a rule over resources that are not HA-managed yet.
            self.rules[rule.name] = proxmoxve.Harule(
                f"{name}-rule-{rule.name}",
                rule=rule.name,
                type=rule.type,
                resources=sorted(sid(by_name[vm_name]) for vm_name in rule.vms),
                nodes=priorities(without_nodes(rule.nodes, args.maintenance)) if rule.nodes is not None else None,
                strict=rule.strict,
                affinity=rule.affinity,
                disable=rule.disable,
                comment=rule.comment,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*(self.resources[n] for n in rule.vms), *args.after]
                ),
            )
        self.register_outputs(
            {
                "resources": [sid(by_name[n]) for n in self.resources],
                "groups": list(self.groups),
                "rules": list(self.rules),
            }
        )
