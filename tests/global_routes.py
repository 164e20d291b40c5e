"""Specs with global endpoints and mocked endpoint targets (the placements' internal load balancers),
shared by the component, compliance and policy-pack tests of global endpoints."""

from __future__ import annotations

from inferstack.clouds.base import EndpointTarget
from inferstack.plan import Plan, plan
from tests.conftest import spec_variant

ZONE = "Z0123456789ABCDEFGHIJ"
HOST = "llama.inference.internal"
NETWORK = "projects/acme-llm/global/networks/llama-70b-eu"
OPERATORS = {"operator_cidrs": ["172.20.0.0/16"]}


def aws_target(placement: str, region: str) -> EndpointTarget:
    return EndpointTarget(placement, region, f"gw-{placement}.elb.{region}.amazonaws.com", 443)


def gcp_target(placement: str, region: str, address: str) -> EndpointTarget:
    return EndpointTarget(placement, region, address, 443, NETWORK, "acme-llm")


AWS_TARGETS = {
    "us-east": aws_target("us-east", "us-east-1"),
    "us-west": aws_target("us-west", "us-west-2"),
    "eu": aws_target("eu", "eu-west-1"),
}
GCP_TARGETS = {
    "eu-west": gcp_target("eu-west", "europe-west4", "10.20.0.10"),
    "eu-belgium": gcp_target("eu-belgium", "europe-west1", "10.21.0.10"),
    "us": gcp_target("us", "us-central1", "10.22.0.10"),
}


def _with(source: str, extra: list[dict], endpoint: dict, residency_free: bool) -> Plan:
    base = spec_variant(source, {})
    placements = [p.model_dump(mode="json", exclude_defaults=True) for p in base.placements]
    changes: dict = {"placements": [*placements, *extra], "global_endpoints": [endpoint]}
    if residency_free:
        changes["compliance"] = {"residency": None}
    return plan(spec_variant(source, changes))


def aws_plan(policy: str, placements: tuple[str, ...] = ("us-east", "us-west")) -> Plan:
    """llama-8b-us (us-east: 6 replicas max, us-west: 4) plus `eu` in eu-west-1 when named."""
    extra = [{"name": "eu", "cloud": "aws", "region": "eu-west-1", "cluster": OPERATORS}] if "eu" in placements else []
    endpoint = {"name": "llama", "hostname": HOST, "zone": ZONE, "policy": policy, "placements": list(placements)}
    return _with("aws-llama-8b-us", extra, endpoint, residency_free=bool(extra))


def gcp_plan(policy: str, placements: tuple[str, ...] = ("eu-west", "eu-belgium")) -> Plan:
    """llama-70b-eu (eu-west: 4 replicas max) plus eu-belgium (europe-west1, 2 max) and `us` (us-central1)
    when named."""
    extra = [
        {
            "name": "eu-belgium",
            "cloud": "gcp",
            "region": "europe-west1",
            "replicas": {"min": 1, "max": 2},
            "cluster": OPERATORS,
        }
    ]
    if "us" in placements:
        extra.append({"name": "us", "cloud": "gcp", "region": "us-central1", "cluster": OPERATORS})
    endpoint = {
        "name": "llama",
        "hostname": HOST,
        "zone": "inference-internal",
        "policy": policy,
        "placements": list(placements),
        "ttl_seconds": 30,
    }
    return _with("gcp-llama-70b-eu-strict", extra, endpoint, residency_free="us" in placements)
