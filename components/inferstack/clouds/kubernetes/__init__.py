"""An existing Kubernetes cluster anywhere: inferstack creates no network, cluster, node pool or
storage, only a Kubernetes provider from the spec's `cluster.kubeconfig` path and/or
`cluster.context`. Serving pods select the GPU nodes by the spec's `cluster.gpu_node_labels`, and
the cache claim uses the cluster's default StorageClass unless `cache.storage_class` names one.
A cluster that already has GPU nodes already runs their device plugin (and usually the GPU operator's
DCGM exporter), so only KEDA is installed here, and only when `AddonSettings.keda` is on.

Existing EKS/GKE clusters (`cluster.kind: existing` on aws or gcp) are handled here too: their GPU
nodes must carry the selectors the serving layer uses for that cloud (`inferstack.dev/gpu: <SKU>`).
"""

from __future__ import annotations

import os

import pulumi

from inferstack.clouds.addons import AddonSettings, ClusterAddons
from inferstack.clouds.base import (
    Cloud,
    ClusterContext,
    ClusterHandle,
    kubernetes_provider,
)
from inferstack.plan.pools import PoolPlan


class ExistingCluster(Cloud[None, ClusterHandle]):
    name = "kubernetes"

    def network(self, ctx: ClusterContext) -> None:
        return None

    def cluster(self, ctx: ClusterContext, network: None) -> ClusterHandle:
        spec_cluster = ctx.cluster
        kubeconfig = os.path.expanduser(spec_cluster.kubeconfig) if spec_cluster.kubeconfig else None
        provider = kubernetes_provider(ctx, kubeconfig, context=spec_cluster.context)
        return ClusterHandle(name=ctx.cluster_name, provider=provider)

    def gpu_node_pool(self, ctx: ClusterContext, pool: PoolPlan, network: None, cluster: ClusterHandle) -> None:
        return None

    def addons(
        self, ctx: ClusterContext, cluster: ClusterHandle, after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        if not ctx.addons.keda:
            return []
        return [
            ClusterAddons(
                f"{ctx.name}-addons",
                settings=AddonSettings(device_plugin=False, dcgm_exporter=False, keda=True, prometheus_stack=False),
                opts=pulumi.ResourceOptions(
                    parent=ctx.parent, providers={"kubernetes": cluster.provider}, depends_on=after
                ),
            )
        ]


__all__ = ["ExistingCluster"]
