"""The cluster side of GPUDirect-TCPX/TCPXO on GKE: what `kube.gpudirect.cluster_objects` describes, as
Pulumi resources on the cluster's Kubernetes provider, after the node pools whose networks they name.

One GPU NIC network set per cluster: the `Network` objects are named `gpunet-N` and every GPUDirect pod
lists those names, so a second GPUDirect pool in the same cluster (with VPCs of its own) is refused
rather than given networks its pods would not name.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from inferstack.clouds.gcp.node_pool import GkeGpuNodePool
from inferstack.kube.gpudirect import cluster_objects, facts


def gpudirect_objects(
    name: str,
    pools: list[GkeGpuNodePool],
    parent: pulumi.Resource,
    provider: k8s.Provider,
    after: list[pulumi.Resource],
) -> list[pulumi.Resource]:
    """The GPU NIC `GKENetworkParamSet`s and `Network`s of the cluster's GPUDirect pool, the NCCL plugin
    installer and the NRI device injector, named from `name`; none where no pool is GPUDirect."""
    direct = [p for p in pools if p.fabric is not None and facts(p.fabric) is not None]
    if not direct:
        return []
    if len(direct) > 1:
        raise ValueError(
            f"cluster {name!r} has {len(direct)} GPUDirect node pools; its pods name one set of GPU NIC "
            "networks (gpunet-N), so give each GPUDirect pool its own cluster"
        )
    (pool,) = direct
    assert pool.fabric is not None
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=after)
    resources: list[pulumi.Resource] = []
    for obj in cluster_objects([pool.fabric], pool.gpu_vpcs):
        resource_name = f"{name}-{obj['metadata']['name']}-{obj['kind'].lower()}"
        if obj["kind"] == "DaemonSet":
            resources.append(
                k8s.apps.v1.DaemonSet(resource_name, metadata=obj["metadata"], spec=obj["spec"], opts=opts)
            )
        else:
            resources.append(
                k8s.apiextensions.CustomResource(
                    resource_name,
                    api_version=obj["apiVersion"],
                    kind=obj["kind"],
                    metadata=obj["metadata"],
                    spec=obj["spec"],
                    opts=opts,
                )
            )
    return resources
