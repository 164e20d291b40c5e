"""Global endpoints: which placements each global DNS name spans, with what weight or role. Pure.

A placement's capacity is what the plan lets it serve at peak: its most replicas (`replicas_max`) times
one replica's output tokens per second (`Plan.throughput`). Weighted names send each placement traffic
in proportion to that capacity, on the DNS service's integer scale (`catalog.dns`: the largest placement
gets the top weight, every placement at least 1 so none is silently left out). Failover names answer
with the first placement, then the second; latency names with the nearest healthy one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack import catalog
from inferstack.catalog import dns
from inferstack.plan.planner import Plan

#: Failover roles, in the spec's order of the placements.
FAILOVER_ROLES = ("primary", "secondary")


@dataclass(frozen=True)
class RouteTarget:
    """One placement behind a global name."""

    placement: str
    region: str
    #: The region's residency group (catalog regions.yaml); None when the catalog has no group for it.
    residency: str | None
    #: Output tokens per second the placement serves at max replicas.
    capacity_tokens_per_s: float
    #: DNS weight (weighted names; 0 otherwise).
    weight: int
    #: primary or secondary (failover names; "" otherwise).
    role: str


@dataclass(frozen=True)
class GlobalRoute:
    """One global name: where its records go and the placements they point at, in the spec's order."""

    name: str
    hostname: str
    zone: str
    policy: str
    ttl_seconds: int
    cloud: str
    targets: tuple[RouteTarget, ...]

    @property
    def residency_groups(self) -> tuple[str, ...]:
        """The residency groups the targets are in (unknown regions as '?'), sorted."""
        return tuple(sorted({t.residency or "?" for t in self.targets}))

    @property
    def crosses_residency(self) -> bool:
        """True when the name spans more than one residency group or a region of unknown group (INF014)."""
        return len(self.residency_groups) > 1 or "?" in self.residency_groups

    def share(self, target: RouteTarget) -> float:
        """The fraction of weighted traffic `target` receives."""
        total = sum(t.weight for t in self.targets)
        return target.weight / total if total else 0.0


def weights(capacities: list[float], max_weight: int) -> list[int]:
    """Integer weights proportional to `capacities`, the largest at `max_weight`, halves rounded up, each at
    least 1. Ratios are rounded to 9 places first, so float noise in the capacities cannot flip a half."""
    top = max(capacities)
    return [max(1, math.floor(max_weight * round(c / top, 9) + 0.5)) if top > 0 else 1 for c in capacities]


def global_routes(plan: Plan) -> list[GlobalRoute]:
    """Every global endpoint of the plan's spec, resolved against its placements (the spec's rules have
    checked that every name exists and all are on one cloud with DNS facts)."""
    by_name = {p.name: p for p in plan.placements}
    routes = []
    for endpoint in plan.spec.global_endpoints:
        placements = [by_name[n] for n in endpoint.placements]
        cloud = placements[0].cloud
        facts = dns.dns_for(cloud)
        capacities = [p.replicas_max * plan.throughput.tokens_per_second for p in placements]
        weighted = weights(capacities, facts.max_weight) if facts and endpoint.policy == "weighted" else None
        targets = tuple(
            RouteTarget(
                placement=p.name,
                region=p.region,
                residency=catalog.region_group(p.region),
                capacity_tokens_per_s=capacity,
                weight=weighted[i] if weighted else 0,
                role=FAILOVER_ROLES[i] if endpoint.policy == "failover" and i < len(FAILOVER_ROLES) else "",
            )
            for i, (p, capacity) in enumerate(zip(placements, capacities, strict=True))
        )
        routes.append(
            GlobalRoute(
                endpoint.name,
                endpoint.hostname,
                endpoint.zone,
                endpoint.policy,
                endpoint.ttl_seconds,
                cloud,
                targets,
            )
        )
    return routes


def gateway_annotations(plan: Plan, placement: str) -> dict[str, str]:
    """Annotations the gateway Service of `placement` needs because a global endpoint spans it (e.g. GCP's
    global access for a regional internal load balancer); {} when none spans it."""
    spanned = [r for r in global_routes(plan) if any(t.placement == placement for t in r.targets)]
    facts = [f for r in spanned if (f := dns.dns_for(r.cloud)) is not None]
    return {key: value for f in facts for key, value in f.target_service_annotations.items()}
