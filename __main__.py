"""proxmox-hci: validate the stack config, build the HCI cluster, export what it is."""

import pulumi

from hci_config.errors import ConfigError
from hci_config.loader import load_config
from hci_config.pulumi_source import raw_stack_config


def main() -> None:
    try:
        config = load_config(raw_stack_config(pulumi.get_project()))
    except ConfigError as exc:
        # RunError ends the program with the message alone, no traceback.
        raise pulumi.RunError(str(exc)) from None
    for warning in config.warnings:
        pulumi.log.warn(warning)

    # Imported once the config is known to be good: the components load pulumi_proxmoxve and every
    # provider, a second a preview of a bad config need not spend (tests/e2e/test_bad_configs_preview.py).
    from components.hci_cluster import HciCluster, HciClusterArgs

    cluster = HciCluster("hci", HciClusterArgs(config=config))
    pulumi.export("fsid", cluster.ceph.fsid)
    pulumi.export("cephHealth", cluster.ceph.health)
    pulumi.export("monQuorum", cluster.ceph.mon_quorum)
    pulumi.export("osdCount", cluster.ceph.osd_count)
    pulumi.export("pools", cluster.ceph.pool_names)
    pulumi.export("storages", cluster.ceph.storage_names)
    pulumi.export("vmNodes", {name: vm.node for name, vm in cluster.vms.items()})
    if cluster.ceph.manual_steps:  # a node is retiring (nodes[].retire): what is left by hand
        pulumi.export("manualSteps", cluster.ceph.manual_steps)


main()
