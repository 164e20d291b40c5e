"""AWS: VPC, EKS, a GPU managed node group, EFS weight cache and the cluster autoscaler.

Every regional resource carries `region=` (pulumi-aws v7) and is created through an explicit
`aws.Provider(region=...)` for its placement, so a region lock can be checked on each resource as
well as on its provider. IAM is global and carries no region.

Existing EKS clusters (`cluster.kind: existing`) are reached like any existing cluster, through
`cluster.kubeconfig`/`cluster.context` (see `inferstack.clouds.kubernetes`).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from inferstack.clouds.addons import helm_release
from inferstack.clouds.aws.cluster import KUBERNETES_VERSION, EksCluster, EksClusterSettings
from inferstack.clouds.aws.iam import role
from inferstack.clouds.aws.network import AwsNetwork, ExistingNetwork, zone_slots
from inferstack.clouds.aws.node_pool import EksGpuNodePool
from inferstack.clouds.aws.weight_cache import EfsWeightCache
from inferstack.clouds.base import CacheStorage, Cloud, ClusterHandle, PlacementContext, kubernetes_provider

#: What the cluster autoscaler may do (AWS's documented minimum for auto-discovery).
AUTOSCALER_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
            },
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
            },
        ],
    }
)


class _Network:
    """What `AwsCloud.network` hands on: the regional provider, the network and its zone slots."""

    def __init__(self, provider: aws.Provider, network: AwsNetwork, slots: list[str]):
        self.provider, self.network, self.slots = provider, network, slots


class AwsCloud(Cloud):
    name = "aws"

    def __init__(self) -> None:
        self._eks: dict[str, EksCluster] = {}
        self._providers: dict[str, aws.Provider] = {}

    def network(self, ctx: PlacementContext) -> _Network:
        provider = aws.Provider(f"{ctx.name}-aws", region=ctx.region, opts=pulumi.ResourceOptions(parent=ctx.parent))
        self._providers[ctx.name] = provider
        existing = ctx.existing_network if isinstance(ctx.existing_network, ExistingNetwork) else None
        network = AwsNetwork(
            f"{ctx.name}-network",
            ctx.region,
            ctx.zones,
            ctx.tags,
            existing=existing,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[provider]),
        )
        slots = (
            zone_slots(ctx.zones)
            if existing is None
            else [f"subnet{i}" for i in range(1, len(existing.private_subnet_ids) + 1)]
        )
        return _Network(provider, network, slots)

    def cluster(self, ctx: PlacementContext, network: _Network) -> ClusterHandle:
        eks = EksCluster(
            f"{ctx.name}-cluster",
            EksClusterSettings(
                ctx.cluster_name,
                ctx.region,
                private_endpoint=ctx.private,
                encrypt_secrets=ctx.encrypted,
                operator_cidrs=ctx.operator_cidrs,
            ),
            network.network.private_subnet_ids,
            ctx.tags,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
        )
        self._eks[ctx.name] = eks
        provider = kubernetes_provider(ctx, eks.kubeconfig, depends_on=[eks.cluster])
        return ClusterHandle(eks.cluster_name, provider, eks.kubeconfig, ready=[eks.system_nodes, *eks.addons])

    def gpu_node_pool(self, ctx: PlacementContext, network: _Network, cluster: ClusterHandle) -> EksGpuNodePool:
        eks = self._eks[ctx.name]
        node = ctx.placement.node
        return EksGpuNodePool(
            f"{ctx.name}-gpu",
            cluster_name=eks.cluster_name,
            node_role_arn=eks.node_role_arn,
            subnet_ids=network.network.private_subnet_ids,
            region=ctx.region,
            instance_type=node.node_type,
            gpu_sku=ctx.gpu_sku,
            nodes_min=ctx.placement.nodes_min,
            nodes_max=ctx.placement.nodes_max,
            tags=ctx.tags,
            depends_on=list(eks.addons),
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
        )

    def weight_cache(self, ctx: PlacementContext, network: _Network, cluster: ClusterHandle) -> CacheStorage:
        eks = self._eks[ctx.name]
        cache = EfsWeightCache(
            f"{ctx.name}-cache",
            ctx,
            cluster_name=eks.cluster_name,
            vpc_id=network.network.vpc_id,
            vpc_cidr=network.network.cidr_block,
            subnet_ids=network.network.private_subnet_ids,
            subnet_slots=network.slots,
            k8s_provider=cluster.provider,
            kms_key_arn=eks.kms_key_arn,
            depends_on=[eks.system_nodes],
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
        )
        return CacheStorage(cache.storage_class_name, ready=[cache])

    def addons(
        self, ctx: PlacementContext, cluster: ClusterHandle, after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """The shared add-ons plus the cluster autoscaler (EKS node groups do not scale by themselves)."""
        shared = super().addons(ctx, cluster, after)
        eks = self._eks[ctx.name]
        autoscaler_role = role(
            f"{ctx.name}-autoscaler",
            "pods.eks.amazonaws.com",
            {},
            ctx.tags,
            ctx.parent,
            actions=("sts:AssumeRole", "sts:TagSession"),
            inline={"autoscaling": AUTOSCALER_POLICY},
            provider=self._providers[ctx.name],
        )
        association = aws.eks.PodIdentityAssociation(
            f"{ctx.name}-autoscaler",
            cluster_name=eks.cluster_name,
            namespace="kube-system",
            service_account="cluster-autoscaler",
            role_arn=autoscaler_role.arn,
            region=ctx.region,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=ctx.parent, provider=self._providers[ctx.name], depends_on=after),
        )
        release = helm_release(
            f"{ctx.name}-cluster-autoscaler",
            "cluster-autoscaler",
            {
                "autoDiscovery": {"clusterName": ctx.cluster_name},
                # The autoscaler supports only the Kubernetes minor it was built for: match the cluster's.
                "image": {"tag": f"v{KUBERNETES_VERSION}.0"},
                "awsRegion": ctx.region,
                "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler"}},
                "extraArgs": {
                    "balance-similar-node-groups": True,
                    "skip-nodes-with-system-pods": False,
                    "scale-down-unneeded-time": "10m",
                },
                "nodeSelector": {"inferstack.dev/pool": "system"},
            },
            pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.provider, depends_on=[association, *after]),
        )
        return [*shared, release]


__all__ = ["AwsCloud", "AwsNetwork", "EfsWeightCache", "EksCluster", "EksGpuNodePool", "ExistingNetwork"]
