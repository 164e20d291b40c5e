"""GPU node pools as the cloud layer builds them: one per standalone placement, several per platform
placement. The fleet planner and the single-spec planner both hand the clouds `PoolPlan`s."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.catalog import mig
from inferstack.plan.capacity import CapacityChoice, NodeChoice, PlacementPlan

#: Resource-name suffix of a standalone placement's only GPU pool (`<deployment>-<placement>-gpu`).
STANDALONE_POOL = "gpu"


@dataclass(frozen=True)
class PoolPlan:
    """One GPU node pool: the node shape, how many nodes, how they are bought, where, and (for GPU
    slicing) the MIG profile every GPU of the pool is partitioned into."""

    #: Resource-name suffix: `gpu` for a standalone placement, `gpu-<pool>` on a platform.
    name: str
    gpu_sku: str
    node: NodeChoice
    nodes_min: int
    nodes_max: int
    capacity: CapacityChoice
    gpu_zones: tuple[str, ...] = ()
    #: MIG profile (e.g. `3g.40gb`) every GPU of the pool is split into; None for whole GPUs.
    mig_profile: str | None = None
    #: The pool's nodes serve replicas that span nodes: they get the inter-node fabric their type has
    #: (catalog multinode.yaml) and the cluster the LeaderWorkerSet controller.
    spans_nodes: bool = False
    #: The node_local cache tier reads from the nodes' NVMe: the clouds set it up as one array (`plan.coldstart`).
    local_nvme: bool = False

    @property
    def device(self) -> str:
        """What a replica's unit of this pool is, as its nodes are labelled (`contract.GPU_NODE_LABEL`) and
        plans name it (`fit.gpu`): the GPU SKU, or on a MIG pool the slice (`<GPU>-MIG-<profile>`)."""
        if self.mig_profile is None:
            return self.gpu_sku
        profile = mig.profile(self.gpu_sku, self.mig_profile)
        if profile is None:
            raise ValueError(f"{self.gpu_sku} has no MIG profile {self.mig_profile!r}")
        return profile.sku

    @classmethod
    def of_placement(cls, placement: PlacementPlan, gpu_sku: str) -> PoolPlan | None:
        """The single pool a standalone placement's plan asks for; None where the plan has no node type
        (existing clusters bring their own GPU nodes)."""
        if placement.node is None or placement.node.node_type is None:
            return None
        return cls(
            name=STANDALONE_POOL,
            gpu_sku=gpu_sku,
            node=placement.node,
            nodes_min=placement.nodes_min,
            nodes_max=placement.nodes_max,
            capacity=placement.capacity or CapacityChoice("on_demand", None, True),
            gpu_zones=placement.gpu_zones,
            spans_nodes=placement.nodes_per_replica > 1,
        )
