"""Route 53 records for a global endpoint: one alias A record per placement in the spec's private hosted
zone, pointing at the placement's internal NLB, with `evaluate_target_health` (Route 53's own health
checkers cannot reach a private NLB; the alias inherits the NLB's target health instead). Each record's
set identifier is its placement's name; the routing policy is the spec's (catalog/data/dns.yaml)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.catalog import dns
from inferstack.clouds.base import EndpointTarget
from inferstack.plan.traffic import GlobalRoute, RouteTarget


def _routing(policy: str, target: RouteTarget) -> dict[str, Any]:
    """The record's routing policy block for `target` (Route 53 names the policy `facts.policies[policy]`)."""
    if policy == "weighted":
        return {"weighted_routing_policies": [{"weight": target.weight}]}
    if policy == "latency":
        return {"latency_routing_policies": [{"region": target.region}]}
    return {"failover_routing_policies": [{"type": target.role.upper()}]}


def route53_records(
    name: str, route: GlobalRoute, targets: list[EndpointTarget], opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """One `aws.route53.Record` per target, named `<name>-<placement>`, made with the target's provider."""
    facts = dns.dns()["aws"]
    return [
        aws.route53.Record(
            f"{name}-{planned.placement}",
            zone_id=route.zone,
            name=route.hostname,
            type="A",
            set_identifier=planned.placement,
            aliases=[
                {
                    "name": target.address,
                    "zone_id": facts.load_balancer_zones[target.region],
                    "evaluate_target_health": True,
                }
            ],
            **_routing(route.policy, planned),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=target.provider)),
        )
        for planned, target in zip(route.targets, targets, strict=True)
    ]
