"""A private VPC for one GKE placement: one regional subnet with pod and service ranges and Private
Google Access, and Cloud NAT for egress (nodes have no external IPs). Or an existing network."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from inferstack.clouds import base

PODS_RANGE_NAME = "pods"
SERVICES_RANGE_NAME = "services"


@dataclass(frozen=True)
class SubnetLayout:
    """How a placement's /16 is cut: nodes in the first /20, services in the second, the control plane's
    /28 peering range at the start of the fourth, pods in the upper half (/17: 128 nodes at GKE's
    default /24 per node). Nothing overlaps, and nothing leaves the /16."""

    nodes: str
    services: str
    control_plane: str
    pods: str

    @classmethod
    def of(cls, network: ipaddress.IPv4Network) -> SubnetLayout:
        twentieths = list(network.subnets(new_prefix=20))
        return cls(
            nodes=str(twentieths[0]),
            services=str(twentieths[1]),
            control_plane=str(next(twentieths[3].subnets(new_prefix=28))),
            pods=str(list(network.subnets(new_prefix=17))[1]),
        )


@dataclass(frozen=True)
class ExistingNetwork(base.ExistingNetwork):
    """A VPC inferstack does not manage: network and subnetwork self-links/names and the names of the
    subnetwork's secondary ranges for pods and services (egress via NAT is the owner's job)."""

    network: str
    subnetwork: str
    subnetwork_cidr: str
    pods_range: str
    services_range: str


class GcpNetwork(pulumi.ComponentResource):
    """VPC, subnet, router and Cloud NAT in one region. Pass the region's `gcp.Provider` in `opts`."""

    network_name: pulumi.Output[str]
    network_id: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]
    subnetwork_cidr: pulumi.Output[str]
    pods_range: str
    services_range: str

    def __init__(
        self,
        name: str,
        region: str,
        layout: SubnetLayout,
        existing: ExistingNetwork | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:gcp:Network", name, None, opts)
        if existing is not None:
            self.network_name = self.network_id = pulumi.Output.from_input(existing.network)
            self.subnetwork_id = pulumi.Output.from_input(existing.subnetwork)
            self.subnetwork_cidr = pulumi.Output.from_input(existing.subnetwork_cidr)
            self.pods_range, self.services_range = existing.pods_range, existing.services_range
            self.register_outputs({"network": self.network_id})
            return
        child = pulumi.ResourceOptions(parent=self)
        network = gcp.compute.Network(
            f"{name}-vpc",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description="inferstack: private network for GPU inference",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            network=network.id,
            region=region,
            ip_cidr_range=layout.nodes,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE_NAME, ip_cidr_range=layout.pods),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=SERVICES_RANGE_NAME, ip_cidr_range=layout.services
                ),
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5),
            opts=child,
        )
        router = gcp.compute.Router(f"{name}-router", network=network.id, region=region, opts=child)
        gcp.compute.RouterNat(
            f"{name}-nat",
            router=router.name,
            region=region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )
        self.network_name = network.name
        self.network_id = network.id
        self.subnetwork_id = subnet.id
        self.subnetwork_cidr = subnet.ip_cidr_range
        self.pods_range, self.services_range = PODS_RANGE_NAME, SERVICES_RANGE_NAME
        self.register_outputs({"network": network.id, "subnetwork": subnet.id})
