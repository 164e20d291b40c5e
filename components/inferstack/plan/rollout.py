"""How a placement rolls out a new version: surge by one replica where the pool has room for it, else
replace in place and name the outage that causes with one replica."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.plan.capacity import PlacementPlan


@dataclass(frozen=True)
class Rollout:
    """maxSurge / maxUnavailable in replicas (for a LeaderWorkerSet: in groups), and the seconds without a
    serving replica each rollout causes (None when it causes none)."""

    max_surge: int
    max_unavailable: int
    outage_seconds: float | None
    #: The pool's room that decides it, as the plan shows it.
    reason: str


def plan_rollout(placement: PlacementPlan, replica_seconds: float) -> Rollout:
    """Surge by one replica when the pool's max nodes leave one replica's nodes free above min replicas
    (maxSurge 1, maxUnavailable 0: the old replica serves until the new one is ready). Otherwise maxSurge
    0, maxUnavailable 1; with one replica that is an outage of one replica start (`replica_seconds`, the
    cold-start budget's cached path). Existing clusters: their free GPUs are not known, so no surge."""
    node = placement.node
    if node is not None and node.node_type is None:
        room = "an existing cluster's free GPUs are not known"
        return Rollout(0, 1, replica_seconds if placement.replicas_min == 1 else None, room)
    per_node = node.replicas_per_node if node else 0
    slots = placement.nodes_max // placement.nodes_per_replica * per_node
    spare = slots - placement.replicas_min
    room = f"the pool's {placement.nodes_max} node(s) at most hold {slots} replica(s), {placement.replicas_min} at min"
    if spare >= 1:
        return Rollout(1, 0, None, room)
    outage = replica_seconds if placement.replicas_min == 1 else None
    return Rollout(0, 1, outage, f"{room}, no room for one more")
