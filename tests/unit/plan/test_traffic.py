"""Global routes from the plan: targets in the spec's order, weights from capacity (replicas.max x one
replica's throughput), failover roles, the residency groups a name spans, and the gateway annotations a
placement behind a global name needs. Figures by hand."""

from __future__ import annotations

from inferstack.plan import plan
from inferstack.plan.traffic import gateway_annotations, global_routes, weights
from tests.conftest import spec_variant
from tests.global_routes import aws_plan, gcp_plan


def test_weights_scale_the_largest_to_the_top_and_round_halves_up():
    assert weights([6.0, 4.0], 255) == [255, 170]
    assert weights([4.0, 2.0], 255) == [255, 128]  # 127.5
    assert weights([1000.0, 1.0], 255) == [255, 1]  # 0.255 would round to 0: every placement keeps 1
    assert weights([3.0, 3.0, 3.0], 255) == [255, 255, 255]


def test_weighted_route_weights_follow_replicas_max_times_throughput():
    deployment = aws_plan("weighted")
    (route,) = global_routes(deployment)
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
    (route,) = global_routes(aws_plan("failover"))
    assert [(t.placement, t.role, t.weight) for t in route.targets] == [
        ("us-east", "primary", 0),
        ("us-west", "secondary", 0),
    ]


def test_a_route_into_eu_crosses_residency():
    (route,) = global_routes(aws_plan("weighted", ("us-east", "eu")))
    assert route.residency_groups == ("eu", "us")
    assert route.crosses_residency


def test_gateway_annotations_enable_gcp_global_access_only_behind_a_global_name():
    assert gateway_annotations(gcp_plan("weighted"), "eu-west") == {
        "networking.gke.io/internal-load-balancer-allow-global-access": "true"
    }
    assert gateway_annotations(aws_plan("weighted"), "us-east") == {}
    assert gateway_annotations(plan(spec_variant("gcp-llama-70b-eu-strict", {})), "eu-west") == {}
