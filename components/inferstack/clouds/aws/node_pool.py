"""The GPU managed node group of one placement, from the plan's node choice."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from inferstack.catalog.multinode import Fabric
from inferstack.clouds.aws.cluster import launch_template
from inferstack.clouds.aws.fabric import cluster_placement_group, efa_interfaces, efa_security_group
from inferstack.clouds.base import GPU_ROOT_VOLUME_GIB, NODE_POOL_TIMEOUT
from inferstack.contract import GPU_NODE_LABEL, GPU_POOL, GPU_TAINT_KEY, POOL_LABEL

#: How a node group buys instances, per planned capacity mode (EKS NodeGroup capacityType: ON_DEMAND,
#: SPOT or CAPACITY_BLOCK; an On-Demand Capacity Reservation is on-demand capacity targeted by the launch
#: template).
CAPACITY_TYPES = {"on_demand": "ON_DEMAND", "spot": "SPOT", "reservation": "ON_DEMAND"}

#: EKS-optimized Amazon Linux 2023 with the NVIDIA driver and container toolkit.
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"


#: AL2023's nodeadm assembles the instance-store NVMe drives into one RAID0 array mounted at /mnt/k8s-disks/0
#: (NodeConfig spec.instance.localStorage.strategy, node.eks.aws/v1alpha1; awslabs/ai-on-eks uses it for
#: model caches), where the node_local cache tier's directory lives (catalog/data/cold_start.yaml). Managed
#: node groups merge a MIME part of type application/node.eks.aws into the user data they generate.
LOCAL_NVME_NODE_CONFIG = """MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="INFERSTACK"

--INFERSTACK
Content-Type: application/node.eks.aws

---
apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  instance:
    localStorage:
      strategy: RAID0

--INFERSTACK--
"""


def local_nvme_user_data() -> str:
    """The launch template's user data (base64) that sets the node's NVMe up as one array."""
    return base64.b64encode(LOCAL_NVME_NODE_CONFIG.encode()).decode()


class EksGpuNodePool(pulumi.ComponentResource):
    """Managed node group: one instance type, IMDSv2-only, encrypted gp3 root, GPU label and taint,
    scaling between the plan's node bounds (the autoscaler owns the desired size afterwards)."""

    node_group_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        cluster_name: pulumi.Input[str],
        node_role_arn: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        region: str,
        instance_type: str,
        gpu_sku: str,
        nodes_min: int,
        nodes_max: int,
        tags: dict[str, str],
        capacity_mode: str = "on_demand",
        reservation: str | None = None,
        local_nvme: bool = False,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        fabric: Fabric | None = None,
        vpc_id: pulumi.Input[str] | None = None,
        cluster_security_group_id: pulumi.Input[str] | None = None,
    ) -> None:
        super().__init__("inferstack:aws:GpuNodePool", name, None, opts)
        if capacity_mode not in CAPACITY_TYPES:
            raise ValueError(
                f"EKS node groups cannot buy {capacity_mode!r} capacity; they buy {', '.join(CAPACITY_TYPES)}"
            )
        interfaces, group_name = None, None
        if fabric is not None:  # multi-node replicas: EFA on every card, packed in one placement group
            if vpc_id is None or cluster_security_group_id is None:
                raise ValueError(f"{name}: EFA interfaces need the VPC and the cluster's security group")
            efa = efa_security_group(f"{name}-efa", vpc_id, region, tags, self)
            interfaces = efa_interfaces(fabric, [cluster_security_group_id, efa.id])
            group_name = cluster_placement_group(f"{name}-placement", region, tags, self).name
            subnet_ids = list(subnet_ids)[:1]  # a cluster placement group lives in one Availability Zone
        template = launch_template(
            f"{name}-lt",
            region,
            GPU_ROOT_VOLUME_GIB,
            tags,
            self,
            reservation,
            local_nvme_user_data() if local_nvme else None,
            network_interfaces=interfaces,
            placement_group=group_name,
        )
        group = aws.eks.NodeGroup(
            name,
            cluster_name=cluster_name,
            node_role_arn=node_role_arn,
            subnet_ids=subnet_ids,
            region=region,
            ami_type=GPU_AMI_TYPE,
            instance_types=[instance_type],
            capacity_type=CAPACITY_TYPES[capacity_mode],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=nodes_min,
                desired_size=nodes_min,
                max_size=max(nodes_max, 1),
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels={GPU_NODE_LABEL: gpu_sku, POOL_LABEL: GPU_POOL},
            taints=[aws.eks.NodeGroupTaintArgs(key=GPU_TAINT_KEY, value="present", effect="NO_SCHEDULE")],
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on or [],
                ignore_changes=["scalingConfig.desiredSize"],
                custom_timeouts=pulumi.CustomTimeouts(create=NODE_POOL_TIMEOUT, update=NODE_POOL_TIMEOUT, delete="30m"),
            ),
        )
        self.node_group = group
        self.node_group_name = group.node_group_name
        self.register_outputs({"node_group_name": self.node_group_name})
