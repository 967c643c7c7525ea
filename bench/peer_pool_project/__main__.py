"""One pool, size 3 / min_size 2, 32 PGs, by the implementation the stack config names."""

import pulumi
import pulumi_proxmoxve as proxmoxve

from dynamic_providers.ceph_pool import CephPool

impl = pulumi.Config().require("impl")
if impl == "bpg":
    pool = proxmoxve.ceph.Pool(
        "pool",
        node_name="pve1",
        name="peer-bpg",
        size=3,
        min_size=2,
        pg_num=32,
        pg_autoscale_mode="off",
        application="rbd",
    )
    pulumi.export("name", pool.name)
elif impl == "ours":
    ours = CephPool(
        "pool",
        api_nodes=["pve1", "pve2", "pve3"],
        pool_name="peer-ours",
        size=3,
        min_size=2,
        pg_num=32,
        autoscale_mode="off",
        application="rbd",
    )
    pulumi.export("pool_id", ours.pool_id)
else:
    raise pulumi.RunError(f"impl: {impl!r} is not bpg or ours")
