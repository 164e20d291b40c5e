"""Global endpoints under mocks: the exact DNS records per cloud and policy, from mocked endpoint
targets (the placements' internal load balancers). Weights are hand-computed: both placements of a
spec serve the same model on the same GPU, so capacity is proportional to replicas.max, and the
larger placement gets Route 53's top weight, 255."""

from __future__ import annotations

from types import SimpleNamespace

import pulumi
import pytest

from inferstack.clouds import cloud_for
from inferstack.globaldns import GlobalEndpoint, global_endpoints
from inferstack.offline import GCP_PROJECT, run_offline
from inferstack.plan.traffic import global_routes
from inferstack.program import deploy
from tests.components.harness import register_global_endpoints
from tests.global_routes import AWS_TARGETS, GCP_TARGETS, HOST, NETWORK, ZONE, aws_plan, gcp_plan


def records(resources, typ):
    return {r.name: r.inputs for r in resources if r.typ == typ}


def alias(address: str, zone: str) -> list[dict]:
    return [{"evaluateTargetHealth": True, "name": address, "zoneId": zone}]


def test_aws_weighted_alias_records_carry_the_capacity_weights():
    resources = register_global_endpoints(aws_plan("weighted"), AWS_TARGETS)
    assert sorted([r.typ, r.name] for r in resources) == [
        ["aws:route53/record:Record", "llama-8b-us-llama-us-east"],
        ["aws:route53/record:Record", "llama-8b-us-llama-us-west"],
        ["inferstack:index:GlobalEndpoint", "llama-8b-us-llama"],
    ]
    # us-east runs up to 6 replicas, us-west up to 4: weights 255 and 255 * 4 / 6 = 170.
    assert records(resources, "aws:route53/record:Record") == {
        "llama-8b-us-llama-us-east": {
            "zoneId": ZONE,
            "name": HOST,
            "type": "A",
            "setIdentifier": "us-east",
            "aliases": alias("gw-us-east.elb.us-east-1.amazonaws.com", "Z26RNL4JYFTOTI"),
            "weightedRoutingPolicies": [{"weight": 255}],
        },
        "llama-8b-us-llama-us-west": {
            "zoneId": ZONE,
            "name": HOST,
            "type": "A",
            "setIdentifier": "us-west",
            "aliases": alias("gw-us-west.elb.us-west-2.amazonaws.com", "Z18D5FSROUN65G"),
            "weightedRoutingPolicies": [{"weight": 170}],
        },
    }


def test_aws_failover_records_are_primary_then_secondary_in_spec_order():
    found = records(register_global_endpoints(aws_plan("failover"), AWS_TARGETS), "aws:route53/record:Record")
    assert found["llama-8b-us-llama-us-east"]["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert found["llama-8b-us-llama-us-west"]["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert "weightedRoutingPolicies" not in found["llama-8b-us-llama-us-east"]


def test_aws_latency_records_name_their_region():
    found = records(register_global_endpoints(aws_plan("latency"), AWS_TARGETS), "aws:route53/record:Record")
    assert found["llama-8b-us-llama-us-east"]["latencyRoutingPolicies"] == [{"region": "us-east-1"}]
    assert found["llama-8b-us-llama-us-west"]["latencyRoutingPolicies"] == [{"region": "us-west-2"}]
    assert found["llama-8b-us-llama-us-west"]["aliases"] == alias(
        "gw-us-west.elb.us-west-2.amazonaws.com", "Z18D5FSROUN65G"
    )


def balancer(address: str, region: str) -> dict:
    return {
        "internalLoadBalancers": [
            {
                "ipAddress": address,
                "port": "443",
                "ipProtocol": "tcp",
                "loadBalancerType": "regionalL4ilb",
                "networkUrl": NETWORK,
                "project": "acme-llm",
                "region": region,
            }
        ]
    }


def test_gcp_weighted_record_set_health_checks_each_internal_load_balancer():
    resources = register_global_endpoints(gcp_plan("weighted"), GCP_TARGETS)
    assert sorted([r.typ, r.name] for r in resources) == [
        ["gcp:dns/recordSet:RecordSet", "llama-70b-eu-llama"],
        ["inferstack:index:GlobalEndpoint", "llama-70b-eu-llama"],
    ]
    # eu-west runs up to 4 replicas, eu-belgium up to 2: weights 255 and 255 * 2 / 4 = 127.5, rounded half up to 128.
    assert records(resources, "gcp:dns/recordSet:RecordSet")["llama-70b-eu-llama"] == {
        "managedZone": "inference-internal",
        "name": f"{HOST}.",
        "type": "A",
        "ttl": 30,
        "project": "acme-llm",
        "routingPolicy": {
            "wrrs": [
                {"weight": 255, "healthCheckedTargets": balancer("10.20.0.10", "europe-west4")},
                {"weight": 128, "healthCheckedTargets": balancer("10.21.0.10", "europe-west1")},
            ]
        },
    }


def test_gcp_latency_is_a_geo_policy_by_placement_region():
    found = records(register_global_endpoints(gcp_plan("latency"), GCP_TARGETS), "gcp:dns/recordSet:RecordSet")
    assert found["llama-70b-eu-llama"]["routingPolicy"] == {
        "geos": [
            {"location": "europe-west4", "healthCheckedTargets": balancer("10.20.0.10", "europe-west4")},
            {"location": "europe-west1", "healthCheckedTargets": balancer("10.21.0.10", "europe-west1")},
        ]
    }


def test_gcp_failover_is_primary_backup_with_the_second_placement_as_backup():
    found = records(register_global_endpoints(gcp_plan("failover"), GCP_TARGETS), "gcp:dns/recordSet:RecordSet")
    assert found["llama-70b-eu-llama"]["routingPolicy"] == {
        "primaryBackup": {
            "primary": balancer("10.20.0.10", "europe-west4"),
            "backupGeos": [
                {"location": "europe-west1", "healthCheckedTargets": balancer("10.21.0.10", "europe-west1")}
            ],
            "trickleRatio": 0,
        }
    }


def test_a_placement_without_an_endpoint_target_is_refused_with_the_names():
    route = global_routes(aws_plan("weighted"))[0]
    with pytest.raises(ValueError) as raised:
        GlobalEndpoint("llama", route, {"us-east": AWS_TARGETS["us-east"]})
    assert str(raised.value) == (
        "global endpoint 'llama' spans placements us-west with no endpoint target; targets given: us-east"
    )


def _status(placement: str) -> SimpleNamespace:
    """A LoadBalancer Service's status as pulumi_kubernetes reads it back (status.loadBalancer.ingress[0])."""
    ingress = SimpleNamespace(hostname=f"gw-{placement}.elb.example", ip=f"10.9.0.{len(placement)}")
    return SimpleNamespace(load_balancer=SimpleNamespace(ingress=[ingress]))


def _wired(deployment_plan):
    """The whole program under mocks, plus what the lead wires: each placement's endpoint target from its
    infra (`Cloud.endpoint_target`) and the plan's global endpoints parented to the deployment."""

    def program(deployment_plans):
        deployments = deploy(deployment_plans)
        for d in deployments:
            targets = {
                p.name: cloud_for(p.cloud).endpoint_target(p, d.infra[p.name], _status(p.name), 443)
                for p in d.plan.placements
            }
            global_endpoints(d.plan, targets, pulumi.ResourceOptions(parent=d))
        return deployments

    return run_offline(program, deployment_plans=[deployment_plan])


def test_wired_gcp_targets_carry_the_placements_network_project_and_provider():
    run = _wired(gcp_plan("weighted"))
    (record,) = run.of_type("gcp:dns/recordSet:RecordSet")
    balancers = [w["healthCheckedTargets"]["internalLoadBalancers"][0] for w in record.inputs["routingPolicy"]["wrrs"]]
    assert [(b["ipAddress"], b["region"], b["project"], b["networkUrl"]) for b in balancers] == [
        ("10.9.0.7", "europe-west4", GCP_PROJECT[0], "llama-70b-eu-eu-west-network-vpc_id"),
        ("10.9.0.10", "europe-west1", GCP_PROJECT[0], "llama-70b-eu-eu-belgium-network-vpc_id"),
    ]
    assert record.provider_name == "llama-70b-eu-eu-west-gcp"


def test_wired_aws_records_alias_each_nlb_host_name_with_its_placements_provider():
    run = _wired(aws_plan("weighted"))
    records = {r.name: r for r in run.of_type("aws:route53/record:Record")}
    assert {name: (r.inputs["aliases"][0]["name"], r.provider_name) for name, r in records.items()} == {
        "llama-8b-us-llama-us-east": ("gw-us-east.elb.example", "llama-8b-us-us-east-aws"),
        "llama-8b-us-llama-us-west": ("gw-us-west.elb.example", "llama-8b-us-us-west-aws"),
    }
