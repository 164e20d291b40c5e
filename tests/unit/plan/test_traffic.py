"""Global routes from the plan: targets in the spec's order, weights from capacity (replicas.max x one
replica's throughput), failover roles, and the residency groups a name spans. Figures by hand."""

from __future__ import annotations

from inferstack.plan import plan
from inferstack.plan.traffic import global_routes, weights
from tests.conftest import spec_variant

ZONE = "Z0123456789ABCDEFGHIJ"


def _routes(changes: dict, policy: str = "weighted", placements=("us-east", "us-west")):
    endpoint = {"name": "llama", "hostname": "llama.inference.internal", "zone": ZONE, "policy": policy}
    spec = spec_variant(
        "aws-llama-8b-us", {**changes, "global_endpoints": [{**endpoint, "placements": list(placements)}]}
    )
    return plan(spec), global_routes(plan(spec))


def test_weights_scale_the_largest_to_the_top_and_round_halves_up():
    assert weights([6.0, 4.0], 255) == [255, 170]
    assert weights([4.0, 2.0], 255) == [255, 128]  # 127.5
    assert weights([1000.0, 1.0], 255) == [255, 1]  # 0.255 would round to 0: every placement keeps 1
    assert weights([3.0, 3.0, 3.0], 255) == [255, 255, 255]


def test_weighted_route_weights_follow_replicas_max_times_throughput():
    deployment, (route,) = _routes({})
    per_replica = deployment.throughput.tokens_per_second
    assert [(t.placement, t.region, t.residency) for t in route.targets] == [
        ("us-east", "us-east-1", "us"),
        ("us-west", "us-west-2", "us"),
    ]
    assert [t.capacity_tokens_per_s for t in route.targets] == [6 * per_replica, 4 * per_replica]
    assert [t.weight for t in route.targets] == [255, 170]
    assert round(route.share(route.targets[0]), 4) == round(255 / 425, 4)
    assert (route.cloud, route.policy, route.crosses_residency) == ("aws", "weighted", False)


def test_failover_route_has_primary_then_secondary_and_no_weights():
    _, (route,) = _routes({}, "failover")
    assert [(t.placement, t.role, t.weight) for t in route.targets] == [
        ("us-east", "primary", 0),
        ("us-west", "secondary", 0),
    ]


def test_a_route_into_eu_crosses_residency():
    eu = {"name": "eu", "cloud": "aws", "region": "eu-west-1", "cluster": {"operator_cidrs": ["172.20.0.0/16"]}}
    base = spec_variant("aws-llama-8b-us", {})
    placements = [p.model_dump(mode="json", exclude_defaults=True) for p in base.placements]
    _, (route,) = _routes(
        {"compliance": {"residency": None}, "placements": [*placements, eu]}, placements=("us-east", "eu")
    )
    assert route.residency_groups == ("eu", "us")
    assert route.crosses_residency
