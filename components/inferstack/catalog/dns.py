"""Each cloud's private DNS for a global endpoint, read from `data/dns.yaml` (every fact has its source).

`dns_for(cloud)` is how that cloud's DNS routes one name to several placements (its routing policy per
spec policy, the weight scale, the health check it uses), or None for clouds with no DNS inferstack
can write (existing clusters). `load_balancer_region` reads a region back from an alias target's
hosted zone id: what the residency rule (INF014) uses to place an AWS record.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

#: The spec's global endpoint policies, in the order they are listed to users.
POLICIES = ("weighted", "latency", "failover")


@dataclass(frozen=True)
class DnsFacts:
    cloud: str
    service: str
    #: What the spec's `zone` names on this cloud.
    zone: str
    #: Spec policy -> the DNS service's own routing policy name.
    policies: dict[str, str]
    #: Largest weight a record takes (weights are scaled so the largest placement gets it).
    max_weight: int
    #: How many placements a failover name has (one primary, one backup).
    failover_targets: int
    health: str
    #: Region -> the canonical hosted zone id of a Network Load Balancer there (AWS alias targets).
    load_balancer_zones: dict[str, str]
    #: True where a target needs what only a cluster this stack builds knows (its network and project).
    target_needs_built_cluster: bool
    #: Annotations the gateway Service of a placement behind a global name needs on this cloud.
    target_service_annotations: dict[str, str]
    #: Cloud DNS internal load balancer target: its type and protocol.
    load_balancer_type: str | None
    ip_protocol: str | None


@cache
def dns() -> dict[str, DnsFacts]:
    """Every cloud with a DNS row, by cloud name."""
    data = yaml.safe_load(resources.files("inferstack.catalog").joinpath("data", "dns.yaml").read_text())
    return {
        cloud: DnsFacts(
            cloud=cloud,
            service=row["service"],
            zone=row["zone"],
            policies=dict(row["policies"]),
            max_weight=int(row["max_weight"]),
            failover_targets=int(row["failover_targets"]),
            health=row["health"],
            load_balancer_zones=dict(row.get("load_balancer_zones") or {}),
            target_service_annotations=dict(row["target_service_annotations"]),
            target_needs_built_cluster=bool(row["target_needs_built_cluster"]),
            load_balancer_type=row.get("load_balancer_type"),
            ip_protocol=row.get("ip_protocol"),
        )
        for cloud, row in data.items()
    }


def dns_for(cloud: str) -> DnsFacts | None:
    """The DNS facts of `cloud`; None where inferstack writes no DNS records."""
    return dns().get(cloud)


def load_balancer_region(zone_id: str) -> str | None:
    """The region whose Network Load Balancers have the canonical hosted zone `zone_id`, if any."""
    for facts in dns().values():
        for region, zone in facts.load_balancer_zones.items():
            if zone == zone_id:
                return region
    return None
