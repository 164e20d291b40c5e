"""A Cloud DNS record set for a global endpoint: one A record set in the spec's private managed zone
whose routing policy (weighted round robin, geo for latency, primary-backup for failover; see
catalog/data/dns.yaml) lists each placement's internal load balancer as a health-checked target, so
Cloud DNS answers only with healthy placements."""

from __future__ import annotations

from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from inferstack.catalog import dns
from inferstack.clouds.base import EndpointTarget
from inferstack.plan.traffic import GlobalRoute


def _internal_load_balancer(target: EndpointTarget) -> dict[str, Any]:
    """A health-checked internal load balancer target: the gateway Service's internal passthrough NLB."""
    facts = dns.dns()["gcp"]
    return {
        "ip_address": target.address,
        "port": str(target.port),
        "ip_protocol": facts.ip_protocol,
        "load_balancer_type": facts.load_balancer_type,
        "network_url": target.network,
        "project": target.project,
        "region": target.region,
    }


def _checked(target: EndpointTarget) -> dict[str, Any]:
    return {"internal_load_balancers": [_internal_load_balancer(target)]}


def routing_policy(route: GlobalRoute, targets: list[EndpointTarget]) -> dict[str, Any]:
    """The record set's `routing_policy` for the route's policy, targets in the route's order."""
    pairs = list(zip(route.targets, targets, strict=True))
    if route.policy == "weighted":
        return {"wrrs": [{"weight": float(p.weight), "health_checked_targets": _checked(t)} for p, t in pairs]}
    if route.policy == "latency":
        return {"geos": [{"location": t.region, "health_checked_targets": _checked(t)} for _, t in pairs]}
    primary, backup = targets
    return {
        "primary_backup": {
            "primary": _checked(primary),
            "backup_geos": [{"location": backup.region, "health_checked_targets": _checked(backup)}],
            "trickle_ratio": 0.0,
        }
    }


def cloud_dns_record_set(
    name: str, route: GlobalRoute, targets: list[EndpointTarget], opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """One `gcp.dns.RecordSet` named `name` for the whole route, in the first target's project and with
    its provider."""
    records: list[pulumi.Resource] = [
        gcp.dns.RecordSet(
            name,
            managed_zone=route.zone,
            name=f"{route.hostname}.",
            type="A",
            ttl=route.ttl_seconds,
            project=targets[0].project,
            routing_policy=cast("gcp.dns.RecordSetRoutingPolicyArgsDict", routing_policy(route, targets)),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=targets[0].provider)),
        )
    ]
    return records
