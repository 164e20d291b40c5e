"""Global endpoints at load: they name this spec's placements, all on one cloud whose DNS inferstack
writes, in regions that DNS can alias; failover is a pair, latency one placement per region. Crossing
residency groups loads (compliance rule INF014 fails it in check and the policy pack)."""

from __future__ import annotations

import pytest

from inferstack.spec import SpecError
from tests.conftest import spec_variant

ZONE = "Z0123456789ABCDEFGHIJ"


def _endpoint(**fields) -> dict:
    return {"global_endpoints": [{"name": "llama", "hostname": "llama.inference.internal", "zone": ZONE, **fields}]}


def _problems(source: str, changes: dict) -> list[str]:
    with pytest.raises(SpecError) as err:
        spec_variant(source, changes)
    return err.value.render().splitlines()[1:]


def test_a_weighted_endpoint_over_two_placements_loads_with_its_defaults():
    spec = spec_variant("aws-llama-8b-us", _endpoint(placements=["us-east", "us-west"]))
    (endpoint,) = spec.global_endpoints
    assert (endpoint.policy, endpoint.ttl_seconds, endpoint.placements) == ("weighted", 60, ["us-east", "us-west"])


def test_a_route_across_residency_groups_loads_so_inf014_can_fail_it():
    eu = {"name": "eu", "cloud": "aws", "region": "eu-west-1", "cluster": {"operator_cidrs": ["172.20.0.0/16"]}}
    base = spec_variant("aws-llama-8b-us", {})
    placements = [p.model_dump(mode="json", exclude_defaults=True) for p in base.placements]
    spec = spec_variant(
        "aws-llama-8b-us",
        {"compliance": {"residency": None}, "placements": [*placements, eu], **_endpoint(placements=["us-east", "eu"])},
    )
    assert spec.global_endpoints[0].placements == ["us-east", "eu"]


def test_an_unknown_placement_is_refused_with_the_nearest_name():
    assert _problems("aws-llama-8b-us", _endpoint(placements=["us-east", "us-wst"])) == [
        "  - global_endpoints[0].placements[1] = 'us-wst': no placement of this spec has that name. "
        "Did you mean 'us-west'? Allowed: us-east, us-west."
    ]


def test_placements_on_two_clouds_are_refused_with_the_reason():
    assert _problems("multi-cloud-qwen", _endpoint(placements=["aws-us-east", "gcp-us-central"])) == [
        "  - global_endpoints[0].placements = ['aws-us-east', 'gcp-us-central']: the placements are on aws and "
        "gcp, and one name is served by one cloud's DNS (a Route 53 alias points only at AWS load balancers, a "
        "Cloud DNS health-checked target is only a Google Cloud one). Allowed: placements on one cloud. Fix: make "
        "one global endpoint per cloud."
    ]


def test_existing_cluster_placements_have_no_dns():
    assert _problems("existing-cluster", _endpoint(placements=["onprem-fra"])) == [
        "  - global_endpoints[0].placements = ['onprem-fra']: placements on kubernetes have no DNS inferstack can "
        "write records in. Allowed: placements on aws, gcp. Fix: leave these placements out of global endpoints "
        "and point your own DNS at their endpoints."
    ]


def test_failover_is_a_pair():
    assert spec_variant("aws-llama-8b-us", _endpoint(placements=["us-east", "us-west"], policy="failover"))
    assert _problems("aws-llama-8b-us", _endpoint(placements=["us-east"], policy="failover")) == [
        "  - global_endpoints[0].placements = ['us-east']: failover has one primary and one backup, but one "
        "placement is named. Allowed: exactly 2 placements, primary first. Fix: name two placements, or use "
        "policy weighted or latency."
    ]


def test_latency_needs_one_placement_per_region():
    same_region = {"placements": {1: {"region": "us-east-1"}}}
    assert _problems(
        "aws-llama-8b-us", {**same_region, **_endpoint(placements=["us-east", "us-west"], policy="latency")}
    ) == [
        "  - global_endpoints[0].placements = ['us-east', 'us-west']: latency routing answers with the nearest "
        "region, and two placements are in the same region (us-east-1, us-east-1). Allowed: one placement per "
        "region. Fix: use policy weighted to spread over placements in one region."
    ]


def test_a_region_without_a_known_nlb_hosted_zone_is_refused():
    changes = {"compliance": {"residency": None}, "placements": {0: {"region": "il-central-1", "zones": []}}}
    (problem,) = _problems("aws-llama-8b-us", {**changes, **_endpoint(placements=["us-east"])})
    assert problem.startswith(
        "  - global_endpoints[0].placements[0] = 'us-east': region il-central-1 has no known load balancer hosted "
        "zone, so no alias record can point there. Allowed: af-south-1, ap-east-1, "
    )
    assert problem.endswith("us-west-2. Fix: leave this placement out of the global endpoint.")


def test_field_shapes_are_each_reported():
    changes = _endpoint(placements=["us-east", "us-east"], hostname="llama", zone="bad_zone!", name="Llama")
    assert _problems("aws-llama-8b-us", changes) == [
        "  - global_endpoints[0].name = 'Llama': global endpoint name is not a DNS label. Allowed: 1-40 characters "
        "of a-z, 0-9 and '-', starting and ending with a letter or digit. Fix: for example 'llama'.",
        "  - global_endpoints[0].hostname = 'llama': not a host name inside a zone. Allowed: labels of lower-case "
        "letters, digits and '-' joined by '.', at most 253 characters. Fix: for example llama.inference.internal.",
        "  - global_endpoints[0].zone = 'bad_zone!': not a DNS zone id or name. Allowed: 1-63 letters, digits and "
        "'-', e.g. Z0123456789ABCDEFGHIJ (Route 53) or inference-internal (Cloud DNS).",
        "  - global_endpoints[0].placements = ['us-east', 'us-east']: placement names must be unique. Fix: name "
        "each placement once.",
    ]


def test_global_endpoint_names_are_unique():
    twice = {"name": "llama", "hostname": "llama.inference.internal", "zone": ZONE, "placements": ["us-east"]}
    assert _problems("aws-llama-8b-us", {"global_endpoints": [twice, twice]}) == [
        "  - global_endpoints[1].name = 'llama': global endpoint names must be unique. Fix: rename one."
    ]


def test_a_gcp_placement_on_an_existing_cluster_cannot_be_a_cloud_dns_target():
    existing = {
        "kind": "existing",
        "name": "gke-prod",
        "operator_cidrs": [],
        "prometheus_operator": True,
        "prometheus_url": "http://prometheus-operated.monitoring.svc:9090",
    }
    changes = {
        "placements": {0: {"cluster": existing}},
        "global_endpoints": [
            {
                "name": "llama",
                "hostname": "llama.inference.internal",
                "zone": "inference-internal",
                "placements": ["eu-west"],
            }
        ],
    }
    assert _problems("gcp-llama-70b-eu-strict", changes) == [
        "  - global_endpoints[0].placements[0] = 'eu-west': the placement runs on an existing cluster, and a Cloud DNS "
        "private zone target names its load balancer's network and project, which inferstack knows only for "
        "clusters it builds. Allowed: placements on clusters inferstack builds. Fix: leave this placement out of "
        "the global endpoint."
    ]
