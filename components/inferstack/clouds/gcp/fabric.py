"""GPU networking for the nodes of multi-node replicas on GKE (A3 High GPUDirect-TCPX, A3 Mega
GPUDirect-TCPXO, A3 Ultra RDMA): one extra VPC network and subnet per GPU NIC, attached to the node pool as
additional node networks, with gVNIC and a compact placement policy.

GKE docs, "Maximize GPU network bandwidth with GPUDirect and multi-networking": create one VPC per GPU NIC
(`gcloud compute networks create PREFIX-net-$N --subnet-mode=custom --mtu=8244`), a subnet in each
(`--range=192.168.$N.0/24`) and a firewall rule admitting internal traffic (`--rules=tcp:0-65535,udp:0-65535,
icmp --source-ranges=192.168.0.0/16`), then the node pool with `--additional-node-network
network=PREFIX-net-$N,subnetwork=PREFIX-sub-$N` on a cluster with multi-networking enabled (Dataplane V2).
Compact placement: GKE docs, "Define compact placement for GKE nodes" (`--placement-type=COMPACT`; one zone).
How many NICs each machine type takes is catalog data (catalog/data/multinode.yaml).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from inferstack.catalog.multinode import Fabric

#: The GPU networks' MTU in the GKE GPUDirect guide.
GPU_NETWORK_MTU = 8244


def gpu_network_configs(
    name: str, region: str, fabric: Fabric, parent: pulumi.Resource
) -> list[gcp.container.NodePoolNetworkConfigAdditionalNodeNetworkConfigArgs]:
    """One VPC, subnet and internal firewall rule per GPU NIC of `fabric`, as the node pool attaches them."""
    child = pulumi.ResourceOptions(parent=parent)
    configs = []
    for i in range(1, fabric.interfaces + 1):
        network = gcp.compute.Network(
            f"{name}-gpunet-{i}", auto_create_subnetworks=False, mtu=GPU_NETWORK_MTU, opts=child
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-gpusub-{i}", network=network.id, region=region, ip_cidr_range=f"192.168.{i}.0/24", opts=child
        )
        gcp.compute.Firewall(
            f"{name}-gpunet-{i}-internal",
            network=network.id,
            source_ranges=["192.168.0.0/16"],
            allows=[
                gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["0-65535"]),
                gcp.compute.FirewallAllowArgs(protocol="udp", ports=["0-65535"]),
                gcp.compute.FirewallAllowArgs(protocol="icmp"),
            ],
            opts=child,
        )
        configs.append(
            gcp.container.NodePoolNetworkConfigAdditionalNodeNetworkConfigArgs(
                network=network.name, subnetwork=subnet.name
            )
        )
    return configs
