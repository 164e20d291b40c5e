"""Pure builders: a Plan in, Kubernetes objects out as plain dicts in a deterministic order.

`placement_objects(plan, placement)` is the one entry point: the namespace, service account, weight
cache (PVC and prefetch Job), serving Deployment, Service, PodDisruptionBudget, NetworkPolicies and
KEDA ScaledObject for one placement; a replica that spans nodes runs as a LeaderWorkerSet instead of the
Deployment (`kube.lws`). Files (`inferstack render`) and Pulumi resources (components) carry these same dicts.
"""

from inferstack.kube import lws, objects
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan


def placement_objects(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """Every object for one placement, dependencies first."""
    return lws.grouped(plan, placement, objects.placement_objects(plan, placement))


__all__ = ["placement_objects"]
