"""INF014: a global name sends clients to one residency group only. Judged on the records the
GlobalEndpoint component registers under mocks, through `evaluate` (what `inferstack check` runs)."""

from __future__ import annotations

from inferstack.compliance import Resource, evaluate
from inferstack.compliance.model import UNKNOWN_SENTINEL
from inferstack.spec.models import Compliance
from tests.components.harness import register_global_endpoints
from tests.global_routes import AWS_TARGETS, GCP_TARGETS, aws_plan, gcp_plan


def _inf014(deployment_plan, targets) -> list[tuple[str, str, str]]:
    resources = [Resource(r.typ, r.name, r.inputs) for r in register_global_endpoints(deployment_plan, targets)]
    return [
        (f.resource_type, f.resource_name, f.message) for f in evaluate(resources, Compliance()) if f.rule == "INF014"
    ]


def test_a_us_only_route_passes():
    assert _inf014(aws_plan("weighted"), AWS_TARGETS) == []
    assert _inf014(gcp_plan("weighted"), GCP_TARGETS) == []


def test_an_aws_route_into_eu_fails_on_its_first_record():
    assert _inf014(aws_plan("weighted", ("us-east", "eu")), AWS_TARGETS) == [
        (
            "aws:route53/record:Record",
            "llama-8b-us-llama-us-east",
            "DNS name 'llama.inference.internal' routes across residency groups eu (eu-west-1), us (us-east-1); "
            "allowed: one residency group per global name. Fix: make one global endpoint per residency group",
        )
    ]


def test_aws_latency_records_are_placed_by_their_region():
    assert [m for _, _, m in _inf014(aws_plan("latency", ("us-east", "eu")), AWS_TARGETS)] == [
        "DNS name 'llama.inference.internal' routes across residency groups eu (eu-west-1), us (us-east-1); "
        "allowed: one residency group per global name. Fix: make one global endpoint per residency group"
    ]


def test_a_gcp_route_into_the_us_fails_for_every_policy():
    message = (
        "DNS name 'llama.inference.internal.' routes across residency groups eu (europe-west4), us (us-central1); "
        "allowed: one residency group per global name. Fix: make one global endpoint per residency group"
    )
    for policy in ("weighted", "latency", "failover"):
        assert _inf014(gcp_plan(policy, ("eu-west", "us")), GCP_TARGETS) == [
            ("gcp:dns/recordSet:RecordSet", "llama-70b-eu-llama", message)
        ], policy


def test_an_alias_target_of_unknown_zone_fails_closed_and_plain_records_are_not_routes():
    unknown = Resource(
        "aws:route53/record:Record",
        "r",
        {"zoneId": "Z1", "name": "a.internal", "setIdentifier": "x", "aliases": [{"zoneId": UNKNOWN_SENTINEL}]},
    )
    plain = Resource("aws:route53/record:Record", "p", {"zoneId": "Z1", "name": "b.internal", "records": ["10.0.0.1"]})
    findings = [f.message for f in evaluate([unknown, plain], Compliance()) if f.rule == "INF014"]
    assert findings == [
        "DNS name 'a.internal' routes to region unknown (not computed at preview), which is in no known residency "
        "group; allowed: regions of one residency group. Fix: point the name only at placements in known regions"
    ]
