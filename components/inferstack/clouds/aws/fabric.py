"""EFA for the GPU nodes of multi-node replicas on EKS: a cluster placement group, one EFA interface per
network card in the launch template, and the security group EFA needs.

- Interfaces: "For the primary network interface (network card index 0, device index 0), create an EFA
  (EFA with ENA) interface ... For each additional network interface, use the next unused network card
  index, device index 1" (AWS EC2 docs, "Maximize network bandwidth on Amazon EC2 instances with multiple
  network cards"); how many cards each type has is catalog data (catalog/data/multinode.yaml).
- Security group: "The security group must allow all inbound and outbound traffic to and from the security
  group itself" (AWS EC2 docs, "Get started with EFA and NCCL", step 1). Interfaces named in a launch
  template carry their own security groups, so they carry the cluster's security group too (what EKS would
  otherwise attach) beside this one.
- Placement: a cluster placement group packs instances close together in one Availability Zone for low
  latency between them (AWS EC2 docs, "Placement strategies: Cluster"), so the node group uses one subnet.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from inferstack.catalog.multinode import Fabric


def efa_security_group(
    name: str, vpc_id: pulumi.Input[str], region: str, tags: dict[str, str], parent: pulumi.Resource
) -> aws.ec2.SecurityGroup:
    """All traffic to and from the group itself, both ways (EFA's OS-bypass traffic between the nodes)."""
    own = {"protocol": "-1", "from_port": 0, "to_port": 0, "self": True, "description": "EFA: all traffic within"}
    return aws.ec2.SecurityGroup(
        name,
        vpc_id=vpc_id,
        region=region,
        description="inferstack: EFA traffic between the GPU nodes of multi-node replicas",
        ingress=[aws.ec2.SecurityGroupIngressArgs(**own)],
        egress=[aws.ec2.SecurityGroupEgressArgs(**own)],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def efa_interfaces(
    fabric: Fabric, security_groups: Sequence[pulumi.Input[str]]
) -> list[aws.ec2.LaunchTemplateNetworkInterfaceArgs]:
    """One EFA (with ENA) interface per network card: card 0 at device index 0, every other at 1."""
    return [
        aws.ec2.LaunchTemplateNetworkInterfaceArgs(
            network_card_index=card,
            device_index=0 if card == 0 else 1,
            interface_type="efa",
            delete_on_termination="true",
            security_groups=list(security_groups),
        )
        for card in range(fabric.interfaces)
    ]


def cluster_placement_group(
    name: str, region: str, tags: dict[str, str], parent: pulumi.Resource
) -> aws.ec2.PlacementGroup:
    return aws.ec2.PlacementGroup(
        name, strategy="cluster", region=region, tags=tags, opts=pulumi.ResourceOptions(parent=parent)
    )
