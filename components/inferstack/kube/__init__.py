"""Pure builders: a Plan in, Kubernetes objects out as plain dicts in a deterministic order.

`placement_objects(plan, placement)` is the one entry point: the namespace, service account, weight
cache (PVC and prefetch Job), serving Deployment, Service, PodDisruptionBudget, NetworkPolicies and
KEDA ScaledObject for one placement, in the form
the plan's cache tier takes (`cache_tiers`). Files (`inferstack render`) and Pulumi resources (components)
carry these same dicts.
"""

from inferstack.kube.cache_tiers import placement_objects

__all__ = ["placement_objects"]
