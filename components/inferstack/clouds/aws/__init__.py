"""AWS: VPC, EKS, a GPU managed node group, EFS weight cache and the cluster autoscaler.

Every regional resource carries `region=` (pulumi-aws v7) and is created through an explicit
`aws.Provider(region=...)` for its placement, so a region lock can be checked on each resource as
well as on its provider. IAM is global and carries no region.

Existing EKS clusters (`cluster.kind: existing`) are reached like any existing cluster, through
`cluster.kubeconfig`/`cluster.context` (see `inferstack.clouds.kubernetes`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferstack.catalog import multinode
from inferstack.clouds.addons import helm_release
from inferstack.clouds.aws.certificate import acm_certificate
from inferstack.clouds.aws.cluster import KUBERNETES_VERSION, EksCluster, EksClusterSettings
from inferstack.clouds.aws.dns import route53_records
from inferstack.clouds.aws.iam import pod_identity_addon, role
from inferstack.clouds.aws.network import AwsNetwork, ExistingNetwork, VpcLayout, zone_slots
from inferstack.clouds.aws.node_pool import EksGpuNodePool
from inferstack.clouds.aws.weight_cache import EfsCacheStorage, EfsWeightCache
from inferstack.clouds.base import (
    CacheStorage,
    Cloud,
    ClusterContext,
    ClusterHandle,
    ClusterInfra,
    EndpointTarget,
    ObjectStoreSource,
    PlacementContext,
    PlacementInfra,
    existing_network_of,
    ingress_address,
    kubernetes_provider,
    object_store_sources,
)
from inferstack.contract import (
    GPU_TOLERATION,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    POOL_LABEL,
    SYSTEM_POOL,
    prefetch_service_account,
)
from inferstack.plan.capacity import PlacementPlan
from inferstack.plan.pools import PoolPlan
from inferstack.plan.traffic import GlobalRoute

#: The StorageClass Prometheus's volume asks for on EKS (created with the EBS CSI driver).
METRICS_STORAGE_CLASS = "inferstack-gp3"


def s3_read_policy(sources: list[ObjectStoreSource]) -> str:
    """Read-only access to the sources' prefixes: ListBucket limited by the `s3:prefix` condition key,
    GetObject on the objects under each prefix (AWS IAM, "Amazon S3 condition key examples")."""
    statements = []
    for source in sources:
        under = f"{source.prefix}/*" if source.prefix else "*"
        statements += [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{source.bucket}",
                "Condition": {"StringLike": {"s3:prefix": [source.prefix, under] if source.prefix else ["*"]}},
            },
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{source.bucket}/{under}"},
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def autoscaler_policy(cluster_name: str) -> str:
    """What the cluster autoscaler may do: the upstream "Full Cluster Autoscaler Features Policy
    (Recommended)" (kubernetes/autoscaler cloudprovider/aws/README.md): describe anything, but scale
    or terminate only Auto Scaling groups tagged for auto-discovery and owned by this cluster (EKS
    managed node groups carry both tags)."""
    return json.dumps(
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
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Condition": {
                        "StringEquals": {
                            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                            f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
                        }
                    },
                },
            ],
        }
    )


@dataclass(frozen=True)
class AwsNetworkHandle:
    """What `AwsCloud.network` hands on: the region's provider, the network and its zone slots."""

    provider: aws.Provider
    network: AwsNetwork
    slots: list[str]


@dataclass(kw_only=True)
class EksClusterHandle(ClusterHandle):
    """An EKS cluster ready for Kubernetes objects, with what the node pool, cache and add-ons need."""

    eks: EksCluster
    aws_provider: aws.Provider


class AwsCloud(Cloud[AwsNetworkHandle, EksClusterHandle]):
    name = "aws"
    # The `inferstack-efs` class provisions an access point per claim with the serving UID as owner
    # (efs-ap with uid/gid parameters, aws-efs-csi-driver examples/kubernetes/dynamic_provisioning).
    dynamic_cache_claims = True
    # Prometheus keeps its samples on an encrypted gp3 volume (the EBS CSI driver add-on, below).
    prometheus_stack_values: ClassVar[dict[str, Any]] = {
        "prometheus": {
            "prometheusSpec": {
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": METRICS_STORAGE_CLASS,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "50Gi"}},
                        }
                    }
                }
            }
        }
    }

    def network(self, ctx: ClusterContext) -> AwsNetworkHandle:
        provider = aws.Provider(f"{ctx.name}-aws", region=ctx.region, opts=pulumi.ResourceOptions(parent=ctx.parent))
        existing = existing_network_of(ctx, ExistingNetwork)
        network = AwsNetwork(
            f"{ctx.name}-network",
            ctx.region,
            list(ctx.zones),
            ctx.tags,
            VpcLayout.of(ctx.network),
            existing=existing,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[provider]),
        )
        slots = (
            zone_slots(list(ctx.zones))
            if existing is None
            else [f"subnet{i}" for i in range(1, len(existing.private_subnet_ids) + 1)]
        )
        return AwsNetworkHandle(provider, network, slots)

    def cluster(self, ctx: ClusterContext, network: AwsNetworkHandle) -> EksClusterHandle:
        eks = EksCluster(
            f"{ctx.name}-cluster",
            EksClusterSettings(
                ctx.cluster_name,
                ctx.region,
                private_endpoint=ctx.private,
                encrypt_secrets=ctx.encrypted,
                operator_cidrs=ctx.operator_cidrs,
                system_node_type=ctx.system_node_type,
                system_nodes=ctx.system_nodes,
            ),
            network.network.private_subnet_ids,
            ctx.tags,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
        )
        provider = kubernetes_provider(ctx, eks.kubeconfig, depends_on=[eks.cluster])
        return EksClusterHandle(
            name=eks.cluster_name,
            provider=provider,
            kubeconfig=eks.kubeconfig,
            ready=[eks.system_nodes, *eks.addons],
            eks=eks,
            aws_provider=network.provider,
        )

    def gpu_node_pool(
        self, ctx: ClusterContext, pool: PoolPlan, network: AwsNetworkHandle, cluster: EksClusterHandle
    ) -> EksGpuNodePool:
        node = pool.node
        if pool.mig_profile is not None:
            raise ValueError(
                f"placement {ctx.placement!r}: GPU pool {pool.name} asks for MIG slices, which EKS node groups "
                "cannot partition without the NVIDIA GPU operator's MIG manager; use whole GPUs on EKS"
            )
        if node.node_type is None:
            raise ValueError(f"placement {ctx.placement!r} has no node type to build GPU node group {pool.name} from")
        return EksGpuNodePool(
            f"{ctx.name}-{pool.name}",
            cluster_name=cluster.eks.cluster_name,
            node_role_arn=cluster.eks.node_role_arn,
            subnet_ids=network.network.private_subnet_ids,
            region=ctx.region,
            instance_type=node.node_type,
            gpu_sku=pool.device,
            nodes_min=pool.nodes_min,
            nodes_max=pool.nodes_max,
            tags=ctx.tags,
            capacity_mode=pool.capacity.mode,
            reservation=pool.capacity.reservation,
            local_nvme=pool.local_nvme,
            depends_on=list(cluster.eks.addons),
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
            fabric=multinode.fabric(self.name, node.node_type) if pool.spans_nodes else None,
            vpc_id=network.network.vpc_id,
            cluster_security_group_id=cluster.eks.cluster.vpc_config.cluster_security_group_id,
        )

    def cache_storage(
        self, ctx: ClusterContext, network: AwsNetworkHandle, cluster: EksClusterHandle
    ) -> EfsCacheStorage:
        # This storage used to be part of the per-model `<prefix>-cache` component: the alias keeps a
        # standalone stack's file system (and the weights on it) instead of replacing it.
        return EfsCacheStorage(
            f"{ctx.name}-cache-storage",
            region=ctx.region,
            tags=ctx.tags,
            storage_class=self.profile.storage_class or "",
            cluster_name=cluster.eks.cluster_name,
            vpc_id=network.network.vpc_id,
            vpc_cidr=network.network.cidr_block,
            subnet_ids=network.network.private_subnet_ids,
            subnet_slots=network.slots,
            k8s_provider=cluster.provider,
            kms_key_arn=cluster.eks.kms_key_arn,
            depends_on=[cluster.eks.system_nodes],
            opts=pulumi.ResourceOptions(
                parent=ctx.parent,
                providers=[network.provider],
                aliases=[pulumi.Alias(name=f"{ctx.name}-cache", type_="inferstack:aws:WeightCache")],
            ),
        )

    def weight_cache(
        self, ctx: PlacementContext, infra: ClusterInfra[AwsNetworkHandle, EksClusterHandle]
    ) -> CacheStorage:
        storage: EfsCacheStorage = infra.cache
        cache = EfsWeightCache(
            f"{ctx.name}-weights",
            region=ctx.region,
            tags=ctx.tags,
            cache=ctx.cache_volume(),
            storage=storage,
            k8s_provider=infra.cluster.provider,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[infra.network.provider]),
        )
        return CacheStorage(storage.storage_class_name, ready=[cache, *storage.ready])

    def _metrics_storage(
        self, ctx: ClusterContext, cluster: EksClusterHandle, after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """EKS ships no block-storage provisioner: the EBS CSI driver add-on (Pod Identity role with the
        AWS-managed AmazonEBSCSIDriverPolicy, service account ebs-csi-controller-sa, per the EKS user
        guide) and an encrypted gp3 StorageClass that binds where the pod lands."""
        driver = pod_identity_addon(
            f"{ctx.name}-ebs-csi",
            addon="aws-ebs-csi-driver",
            policy="service-role/AmazonEBSCSIDriverPolicy",
            service_account="ebs-csi-controller-sa",
            cluster_name=cluster.eks.cluster_name,
            region=ctx.region,
            tags=ctx.tags,
            parent=ctx.parent,
            provider=cluster.aws_provider,
            depends_on=after,
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{ctx.name}-metrics-storage-class",
            metadata={"name": METRICS_STORAGE_CLASS, "labels": {LABEL_MANAGED_BY: MANAGED_BY}},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            reclaim_policy="Delete",
            volume_binding_mode="WaitForFirstConsumer",
            opts=pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.provider, depends_on=[driver]),
        )
        return [driver, storage_class]

    def source_access(self, ctx: PlacementContext, cluster: EksClusterHandle) -> list[pulumi.Resource]:
        """s3:// sources: an IAM role the prefetch service account assumes through EKS Pod Identity,
        allowed to list and get objects under the sources' prefixes only."""
        sources = object_store_sources(ctx.plan, "s3")
        if not sources:
            return []
        reader = role(
            f"{ctx.name}-weights-reader",
            "pods.eks.amazonaws.com",
            {},
            ctx.tags,
            ctx.parent,
            actions=("sts:AssumeRole", "sts:TagSession"),
            inline={"read-weights": s3_read_policy(sources)},
            provider=cluster.aws_provider,
        )
        association = aws.eks.PodIdentityAssociation(
            f"{ctx.name}-weights-reader",
            cluster_name=cluster.eks.cluster_name,
            namespace=ctx.plan.spec.namespace,
            service_account=prefetch_service_account(ctx.plan.spec.name),
            role_arn=reader.arn,
            region=ctx.region,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.aws_provider, depends_on=cluster.ready),
        )
        return [association]

    def addons(
        self, ctx: ClusterContext, cluster: EksClusterHandle, after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """The shared add-ons plus the cluster autoscaler (EKS node groups do not scale by themselves),
        and, for Prometheus's volume, the EBS CSI driver and a gp3 StorageClass."""
        if ctx.addons.prometheus_stack:
            after = [*after, *self._metrics_storage(ctx, cluster, after)]
        shared = super().addons(ctx, cluster, after)
        autoscaler_role = role(
            f"{ctx.name}-autoscaler",
            "pods.eks.amazonaws.com",
            {},
            ctx.tags,
            ctx.parent,
            actions=("sts:AssumeRole", "sts:TagSession"),
            inline={"autoscaling": autoscaler_policy(ctx.cluster_name)},
            provider=cluster.aws_provider,
        )
        association = aws.eks.PodIdentityAssociation(
            f"{ctx.name}-autoscaler",
            cluster_name=cluster.eks.cluster_name,
            namespace="kube-system",
            service_account="cluster-autoscaler",
            role_arn=autoscaler_role.arn,
            region=ctx.region,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.aws_provider, depends_on=after),
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
                "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
            },
            pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.provider, depends_on=[association, *after]),
        )
        return [*shared, release, *self._efa_device_plugin(ctx, cluster, after)]

    def _efa_device_plugin(
        self, ctx: ClusterContext, cluster: EksClusterHandle, after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """The EFA device plugin (advertises `vpc.amazonaws.com/efa`), on the nodes EKS labels as having EFA
        and tolerating the GPU taint (the chart's README values; aws-ia/terraform-aws-eks-blueprints
        patterns/targeted-odcr/helm.tf), where a pool of multi-node replicas has EFA."""
        if not any(pool.spans_nodes and multinode.fabric(self.name, pool.node.node_type) for pool in ctx.pools):
            return []
        release = helm_release(
            f"{ctx.name}-efa-device-plugin",
            "aws-efa-k8s-device-plugin",
            {"nodeSelector": {"vpc.amazonaws.com/efa.present": "true"}, "tolerations": [GPU_TOLERATION]},
            pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.provider, depends_on=after),
        )
        return [release]

    def global_records(
        self, name: str, route: GlobalRoute, targets: list[EndpointTarget], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        return route53_records(name, route, targets, opts)

    def endpoint_target(
        self, placement: PlacementPlan, infra: PlacementInfra, status: pulumi.Input[Any], port: int
    ) -> EndpointTarget:
        """The NLB's host name (what alias records name), and the placement's AWS provider when this stack
        built its network."""
        network = infra.infra.network
        provider = network.provider if isinstance(network, AwsNetworkHandle) else None
        return EndpointTarget(
            placement.name, placement.region, ingress_address(status, "hostname"), port, provider=provider
        )

    def endpoint_certificate(
        self,
        name: str,
        hostname: str,
        zone: str,
        infra: ClusterInfra[AwsNetworkHandle, EksClusterHandle],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        """An ACM certificate validated in the Route 53 zone `zone` (`clouds.aws.certificate`), made in the
        placement's region when this stack built its network (else with the default provider's region)."""
        provider = infra.network.provider if isinstance(infra.network, AwsNetworkHandle) else None
        return acm_certificate(name, hostname, zone, provider, opts)


__all__ = [
    "AwsCloud",
    "AwsNetwork",
    "AwsNetworkHandle",
    "EfsCacheStorage",
    "EfsWeightCache",
    "EksCluster",
    "EksClusterHandle",
    "EksGpuNodePool",
    "ExistingNetwork",
]
