import promql_parser
import pytest

from inferstack.catalog.routers import router_for
from inferstack.engines import adapter_for
from inferstack.monitoring import DCGM_METRICS, metric_names, parse, queries
from tests.conftest import spec_variant
from tests.unit.monitoring.conftest import engine_plan


def _router_names(plan) -> set[str]:
    """The router series monitoring may read: those its catalog row names, when a router fronts the model."""
    front = router_for(plan.spec.engine.name, plan.spec.routing.enabled)
    if front is None:
        return set()
    m = front.metrics
    return {m.requests, m.errors, m.workers, f"{m.duration}_bucket"}


def _check_declared(plan):
    declared = adapter_for(plan.spec.engine.name).metrics.declared()
    allowed = declared | set(DCGM_METRICS) | {"up"} | _router_names(plan)
    seen = set()
    for where, expr in queries(plan):
        parse(expr)  # raises on invalid PromQL
        names = metric_names(expr)
        assert names, f"{where} selects no metric: {expr}"
        assert names <= allowed, f"{where} uses undeclared {sorted(names - allowed)}"
        seen |= names
    return seen


def test_every_query_of_every_example_parses_and_uses_declared_names(example_plans):
    for plan in example_plans:
        seen = _check_declared(plan)
        declared = adapter_for(plan.spec.engine.name).metrics.declared()
        # Every declared series but histogram sums/counts is used somewhere, and GPU and availability too.
        assert declared - seen <= {n for n in declared if n.endswith(("_sum", "_count"))}, plan.spec.name
        assert set(DCGM_METRICS) | {"up"} <= seen


@pytest.mark.parametrize("engine", ["sglang", "tgi", "trtllm"])
def test_engines_missing_metrics_skip_them(engine):
    _check_declared(engine_plan(engine))


def test_queries_cover_alerts_dashboards_and_autoscaler(quickstart):
    wheres = [where for where, _ in queries(quickstart)]
    assert "autoscaler:queue_depth" in wheres
    assert (
        dict(queries(quickstart))["autoscaler:queue_depth"] == 'sum(vllm:num_requests_waiting{model_name="quickstart"})'
    )
    assert "alert:InferenceTTFTP95High" in wheres
    assert any(w.startswith("dashboard:inferstack-quickstart/") for w in wheres)
    assert any(w.startswith("dashboard:inferstack-gpu/") for w in wheres)
    assert any(w.startswith("dashboard:inferstack-fleet/") for w in wheres)


def test_scaling_from_zero_adds_the_routers_wake_up_query():
    from inferstack.plan import plan as make_plan

    spec = spec_variant("quickstart", {"placements": {0: {"replicas": {"min": 0, "max": 2}}}})
    wake = dict(queries(make_plan(spec)))["autoscaler:wake:us-central"]
    assert wake.startswith('clamp_max((sum(rate(vllm_router_requests_total{job="quickstart-router", placement="us')
    assert 'error_type="no_available_workers"}[1m])) or vector(0)), 1)' in wake
    assert "autoscaler:wake:us-central" not in dict(queries(make_plan(spec_variant("quickstart", {}))))


def test_autoscaler_query_absent_when_disabled(quickstart):
    from inferstack.plan import plan as make_plan

    spec = spec_variant("quickstart", {"autoscaling": {"enabled": False}})
    assert not [w for w, _ in queries(make_plan(spec)) if w.startswith("autoscaler:")]


def test_every_engine_selector_filters_on_the_model(example_plans):
    for plan in example_plans:
        label = adapter_for(plan.spec.engine.name).metrics.model_label
        for where, expr in queries(plan):
            if not where.startswith(("alert:", "autoscaler:")) or "DCGM_" in expr:
                continue
            tree = parse(expr)
            selectors: list = []
            promql_parser.walk(tree, _collect_into(selectors))
            routed = _router_names(plan)
            for selector in selectors:
                matchers = {(m.name, m.value) for m in selector.matchers.matchers}
                if selector.name == "up":
                    wanted = ("job", plan.spec.served_name)
                elif selector.name in routed:
                    wanted = ("job", f"{plan.spec.served_name}-router")
                else:
                    wanted = (label, plan.spec.served_name)
                assert wanted in matchers, f"{where}: {selector} lacks {wanted}"


def test_metric_names():
    assert metric_names('sum(rate(vllm:a_total{model_name="x"}[5m])) / on() group_left {__name__="up", job="j"}') == {
        "vllm:a_total",
        "up",
    }
    assert metric_names('histogram_quantile(0.9, sum by (le) (rate(x_bucket{m=~"$model"}[$__rate_interval])))') == {
        "x_bucket"
    }
    assert metric_names("vector(1)") == set()
    with pytest.raises(ValueError):
        metric_names("sum(rate(x[5m])")


def _collect_into(found: list):
    """A promql_parser.walk visitor appending every vector selector to `found`."""

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    return visit
