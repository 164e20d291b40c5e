"""The plan report's global endpoint table: placements, capacity, weight share or failover role, and
the residency note INF014 acts on."""

from __future__ import annotations

from inferstack.plan.traffic import global_routes
from inferstack.report import plan_text
from tests.global_routes import aws_plan, gcp_plan


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Global endpoint"))
    end = next(i for i, line in enumerate(lines) if line.startswith("cold start:"))
    return [line.rstrip() for line in lines[start:end]]


def _rows(section: list[str]) -> list[list[str]]:
    return [[cell.strip() for cell in row.split("│")[1:6]] for row in section if row.startswith("│")]


def test_weighted_route_shows_weights_shares_and_the_residency_crossing():
    deployment = aws_plan("weighted", ("us-east", "us-west", "eu"))
    per_replica = deployment.throughput.tokens_per_second
    section = _section(plan_text(deployment))
    # replicas.max 6, 4 and 1: weights 255, 255 * 4 / 6 = 170, 255 / 6 = 42.5 -> 43; shares of 468.
    assert _rows(section) == [
        ["us-east", "us-east-1", "us", f"{6 * per_replica:,.0f} output tokens/s", "255 (54%)"],
        ["us-west", "us-west-2", "us", f"{4 * per_replica:,.0f} output tokens/s", "170 (36%)"],
        ["eu", "eu-west-1", "eu", f"{per_replica:,.0f} output tokens/s", "43 (9%)"],
    ]
    assert " ".join(" ".join(section).split()).endswith(
        "spans residency groups eu, us: compliance rule INF014 fails it in `inferstack check` and the policy pack"
    )


def test_failover_route_shows_roles_and_the_cloud_dns_policy():
    deployment = gcp_plan("failover")
    section = _section(plan_text(deployment))
    title = " ".join(" ".join(section[:3]).split())
    assert title.startswith(
        "Global endpoint llama: llama.inference.internal (failover; Cloud DNS private zone, primary_backup routing, "
        "health: health_checked_targets.internal_load_balancers)"
    )
    assert [row[4] for row in _rows(section)] == ["primary", "secondary"]
    assert not global_routes(deployment)[0].crosses_residency
    assert "INF014" not in " ".join(section)
