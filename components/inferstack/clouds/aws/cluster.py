"""An EKS cluster for one placement: private API endpoint when compliance asks for private networking,
secrets encrypted with a customer-managed KMS key, every control-plane log type on, access entries
(API authentication), network-policy enforcement in the VPC CNI, EKS Pod Identity, and a small
hardened system node group for cluster services (GPU nodes are tainted and only run serving pods)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.clouds.aws.iam import role
from inferstack.clouds.base import exec_kubeconfig
from inferstack.contract import POOL_LABEL, SYSTEM_POOL

#: Kubernetes minor version of new clusters; bump deliberately (EKS upgrades one minor at a time). 1.33
#: left standard support on 2026-07-29; 1.35's ends 2027-03-27 (catalog cloud_facts kubernetes_versions).
KUBERNETES_VERSION = "1.35"
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
LOG_RETENTION_DAYS = 90
SYSTEM_INSTANCE_TYPE = "m6i.large"
SYSTEM_NODES = (2, 4)
#: IMDSv2 only, and one hop: pods cannot reach the node's instance role (they use Pod Identity).
METADATA_OPTIONS = aws.ec2.LaunchTemplateMetadataOptionsArgs(
    http_endpoint="enabled",
    http_tokens="required",
    http_put_response_hop_limit=1,
)


@dataclass(frozen=True)
class EksClusterSettings:
    cluster_name: str
    region: str
    private_endpoint: bool
    encrypt_secrets: bool
    operator_cidrs: tuple[str, ...] = ()
    #: The system pool's instance type and (min, max) nodes; the defaults when None.
    system_node_type: str | None = None
    system_nodes: tuple[int, int] | None = None


def launch_template(
    name: str,
    region: str,
    volume_gib: int,
    tags: dict[str, str],
    parent: pulumi.Resource,
    capacity_reservation_id: str | None = None,
    user_data: str | None = None,
    network_interfaces: list[aws.ec2.LaunchTemplateNetworkInterfaceArgs] | None = None,
    placement_group: pulumi.Input[str] | None = None,
) -> aws.ec2.LaunchTemplate:
    """IMDSv2-only launch template with an encrypted gp3 root volume (AL2023 root is /dev/xvda), launching
    into `capacity_reservation_id` (an On-Demand Capacity Reservation) when given, with `network_interfaces`
    (EFA, `clouds.aws.fabric`) and into `placement_group` when given.

    The volume uses the account's EBS key: a customer-managed key would also need a key-policy grant
    for the Auto Scaling service-linked role, or nodes fail to launch."""
    reservation = (
        aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
            capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=capacity_reservation_id
            )
        )
        if capacity_reservation_id
        else None
    )
    return aws.ec2.LaunchTemplate(
        name,
        region=region,
        capacity_reservation_specification=reservation,
        user_data=user_data,
        network_interfaces=network_interfaces,
        placement=aws.ec2.LaunchTemplatePlacementArgs(group_name=placement_group) if placement_group else None,
        metadata_options=METADATA_OPTIONS,
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=volume_gib,
                    volume_type="gp3",
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags) for kind in ("instance", "volume")
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def kubeconfig(cluster: aws.eks.Cluster, region: str) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (no long-lived credentials)."""

    def render(args: list[str]) -> str:
        name, endpoint, ca = args
        command = ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"]
        return exec_kubeconfig(name, endpoint, ca, {"command": "aws", "args": command})

    return pulumi.Output.secret(
        pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(render)
    )


class EksCluster(pulumi.ComponentResource):
    """EKS control plane, node IAM role and system node group. Pass the region's `aws.Provider` in `opts`."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        settings: EksClusterSettings,
        subnet_ids: Sequence[pulumi.Input[str]],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:aws:EksCluster", name, None, opts)
        region = settings.region
        child = pulumi.ResourceOptions(parent=self)
        key = None
        if settings.encrypt_secrets:
            key = aws.kms.Key(
                f"{name}-kms",
                description=f"inferstack {settings.cluster_name}: EKS secrets and node volumes",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                region=region,
                tags=tags,
                opts=child,
            )
        cluster_role = role(
            f"{name}-role",
            "eks.amazonaws.com",
            {"cluster": "AmazonEKSClusterPolicy"},
            tags,
            self,
            actions=("sts:AssumeRole", "sts:TagSession"),
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{settings.cluster_name}/cluster",
            retention_in_days=LOG_RETENTION_DAYS,
            region=region,
            tags=tags,
            opts=child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=settings.cluster_name,
            version=KUBERNETES_VERSION,
            role_arn=cluster_role.arn,
            region=region,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=not settings.private_endpoint,
                # A public endpoint answers only the operators' ranges (EKS otherwise opens it to
                # 0.0.0.0/0), as GKE's authorized networks do.
                public_access_cidrs=list(settings.operator_cidrs) or None if not settings.private_endpoint else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"],
            )
            if key is not None
            else None,
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[logs],
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="90m", delete="30m"),
            ),
        )
        for i, cidr in enumerate(settings.operator_cidrs):
            # The private endpoint answers inside the VPC; operators on VPN or peered networks need 443.
            aws.ec2.SecurityGroupRule(
                f"{name}-operators-{i}",
                type="ingress",
                protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_blocks=[cidr],
                security_group_id=cluster.vpc_config.cluster_security_group_id,
                description="inferstack: operators reach the cluster API",
                region=region,
                opts=child,
            )
        addon_opts = pulumi.ResourceOptions(parent=self, depends_on=[cluster])
        vpc_cni = aws.eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=cluster.name,
            addon_name="vpc-cni",
            region=region,
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=addon_opts,
        )
        pod_identity = aws.eks.Addon(
            f"{name}-pod-identity",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            region=region,
            resolve_conflicts_on_create="OVERWRITE",
            tags=tags,
            opts=addon_opts,
        )
        node_role = role(
            f"{name}-node-role",
            "ec2.amazonaws.com",
            {
                "worker": "AmazonEKSWorkerNodePolicy",
                "cni": "AmazonEKS_CNI_Policy",
                "ecr": "AmazonEC2ContainerRegistryReadOnly",
            },
            tags,
            self,
        )
        system_lt = launch_template(f"{name}-system", region, 50, tags, self)
        system = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            region=region,
            ami_type="AL2023_x86_64_STANDARD",
            instance_types=[settings.system_node_type or SYSTEM_INSTANCE_TYPE],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=system_lt.id, version=system_lt.latest_version.apply(str)
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=(settings.system_nodes or SYSTEM_NODES)[0],
                desired_size=(settings.system_nodes or SYSTEM_NODES)[0],
                max_size=(settings.system_nodes or SYSTEM_NODES)[1],
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels={POOL_LABEL: SYSTEM_POOL},
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[vpc_cni],
                ignore_changes=["scalingConfig.desiredSize"],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="60m", delete="30m"),
            ),
        )
        self.cluster = cluster
        self.system_nodes = system
        self.addons = [vpc_cni, pod_identity]
        self.cluster_name = cluster.name
        self.kubeconfig = kubeconfig(cluster, region)
        self.node_role_arn = node_role.arn
        self.kms_key_arn = key.arn if key is not None else None
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig})
