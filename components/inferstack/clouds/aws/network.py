"""A private VPC for one EKS placement: private subnets across zones, each with its own NAT gateway,
and small public subnets that only hold the NAT gateways. Or an existing VPC, looked up by id."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from inferstack.clouds import base

#: At most this many zones: the placement's /16 is cut into three /18 private and three /22 public subnets.
MAX_ZONES = 3
#: Zones used when the spec names none (the region's first available ones).
DEFAULT_ZONE_COUNT = 3


@dataclass(frozen=True)
class VpcLayout:
    """How a placement's /16 is cut: three /18 private subnets (nodes and pods, VPC CNI) and three /22
    public subnets in the last quarter (NAT gateways only)."""

    vpc: str
    private: tuple[str, ...]
    public: tuple[str, ...]

    @classmethod
    def of(cls, network: ipaddress.IPv4Network) -> VpcLayout:
        quarters = list(network.subnets(new_prefix=18))
        return cls(
            vpc=str(network),
            private=tuple(str(q) for q in quarters[:MAX_ZONES]),
            public=tuple(str(s) for s in list(quarters[3].subnets(new_prefix=22))[:MAX_ZONES]),
        )


@dataclass(frozen=True)
class ExistingNetwork(base.ExistingNetwork):
    """A VPC inferstack does not manage: its id, CIDR and private subnets (one per zone, with NAT)."""

    vpc_id: str
    cidr_block: str
    private_subnet_ids: list[str] = field(default_factory=list)


def zone_slots(zones: list[str]) -> list[str]:
    """Stable per-zone name suffixes: the zone names when the spec gives them, else az1..az3."""
    if len(zones) > MAX_ZONES:
        raise ValueError(
            f"placements[].zones lists {len(zones)} zones; inferstack lays out at most {MAX_ZONES} per VPC"
        )
    return list(zones) if zones else [f"az{i}" for i in range(1, DEFAULT_ZONE_COUNT + 1)]


class AwsNetwork(pulumi.ComponentResource):
    """VPC, subnets, NAT and routes for one region. Pass an `aws.Provider` for the region in `opts`."""

    vpc_id: pulumi.Output[str]
    cidr_block: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        region: str,
        zones: list[str],
        tags: dict[str, str],
        layout: VpcLayout,
        existing: ExistingNetwork | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:aws:Network", name, None, opts)
        if existing is not None:
            self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
            self.cidr_block = pulumi.Output.from_input(existing.cidr_block)
            self.private_subnet_ids = [pulumi.Output.from_input(s) for s in existing.private_subnet_ids]
            self.register_outputs({"vpc_id": self.vpc_id})
            return
        child = pulumi.ResourceOptions(parent=self)
        slots = zone_slots(zones)
        if zones:
            zone_names: list[pulumi.Input[str]] = list(zones)
        else:
            available = aws.get_availability_zones_output(
                state="available",
                filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
                region=region,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            zone_names = [available.names.apply(lambda names, i=i: names[i]) for i in range(len(slots))]

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=layout.vpc,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            region=region,
            tags={**tags, "Name": name},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, region=region, tags={**tags, "Name": name}, opts=child
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            region=region,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        private_ids = []
        for slot, zone, private_cidr, public_cidr in zip(
            slots, zone_names, layout.private, layout.public, strict=False
        ):
            public = aws.ec2.Subnet(
                f"{name}-public-{slot}",
                vpc_id=vpc.id,
                cidr_block=public_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                region=region,
                tags={**tags, "Name": f"{name}-public-{slot}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{slot}",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                region=region,
                opts=child,
            )
            eip = aws.ec2.Eip(
                f"{name}-nat-{slot}",
                domain="vpc",
                region=region,
                tags={**tags, "Name": f"{name}-nat-{slot}"},
                opts=child,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{slot}",
                allocation_id=eip.id,
                subnet_id=public.id,
                region=region,
                tags={**tags, "Name": f"{name}-nat-{slot}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{slot}",
                vpc_id=vpc.id,
                cidr_block=private_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                region=region,
                tags={**tags, "Name": f"{name}-private-{slot}", "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-{slot}",
                vpc_id=vpc.id,
                region=region,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={**tags, "Name": f"{name}-private-{slot}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{slot}",
                subnet_id=private.id,
                route_table_id=private_rt.id,
                region=region,
                opts=child,
            )
            private_ids.append(private.id)
        self.vpc_id = vpc.id
        self.cidr_block = vpc.cidr_block
        self.private_subnet_ids = private_ids
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": private_ids})
