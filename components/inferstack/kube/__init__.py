"""Pure builders: a Plan in, Kubernetes objects out as plain dicts in a deterministic order.

`placement_objects(plan, placement)` is the one entry point: the namespace, service account, weight
cache (PVC and prefetch Job), serving Deployment, Service, PodDisruptionBudget, NetworkPolicies and
KEDA ScaledObject for one placement, in the form
the plan's cache tier takes (`cache_tiers`); a replica that spans nodes runs as a LeaderWorkerSet instead of
the Deployment (`kube.lws`). Files (`inferstack render`) and Pulumi resources (components) carry these same
dicts.
"""

from inferstack.kube import cache_tiers, lws
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan


def placement_objects(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """Every object for one placement, dependencies first: the cache tier's, grouped where a replica spans nodes."""
    return lws.grouped(plan, placement, cache_tiers.placement_objects(plan, placement))


__all__ = ["placement_objects"]
