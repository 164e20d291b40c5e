"""Monitoring as pure builders returning plain dicts: scrape configs (PodMonitor per placement, DCGM
ServiceMonitor), alerts from the spec's SLOs (PrometheusRule and plain rule file), and Grafana
dashboards built with the Grafana Foundation SDK.

`queries(plan)` lists every PromQL expression the deployment relies on (dashboards, alerts, the
autoscaler), and `metric_names(expr)` the metric names one of them reads; together they let the tests
prove that monitoring only uses names the engine adapter declares.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from inferstack.monitoring._common import DCGM_METRICS, adapter, router
from inferstack.monitoring.alerts import alert_queries, prometheus_rule, rules_file
from inferstack.monitoring.dashboards import (
    dashboard_queries,
    engine_dashboard,
    fleet_dashboard,
    gpu_dashboard,
    grafana_configmap,
)
from inferstack.monitoring.scrape import dcgm_service_monitor, endpoint_pod_monitor, pod_monitor, router_pod_monitor

if TYPE_CHECKING:
    import promql_parser

    from inferstack.plan import Plan

__all__ = [
    "DCGM_METRICS",
    "cluster_monitoring",
    "dcgm_service_monitor",
    "engine_dashboard",
    "fleet_dashboard",
    "gpu_dashboard",
    "grafana_configmap",
    "metric_names",
    "parse",
    "placement_monitoring",
    "pod_monitor",
    "prometheus_rule",
    "queries",
    "router_pod_monitor",
    "rules_file",
]

#: Values substituted for Grafana's built-in and template variables before parsing a panel query.
_GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
_GRAFANA_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def _concrete(expr: str) -> str:
    """Replace Grafana variables (``$__rate_interval``, ``$model``, ``${cluster}``) with plain values."""

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return _GRAFANA_BUILTINS.get(name, "placeholder")

    return _GRAFANA_VARIABLE.sub(value, expr)


def _promql_parser():
    """promql-parser is needed only to analyse queries (tests, checks), not to build anything, so it
    ships in the `test` extra and is imported on first use."""
    try:
        import promql_parser
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("analysing PromQL needs promql-parser: pip install 'inferstack[test]'") from error
    return promql_parser


def parse(expr: str) -> promql_parser.Expr:
    """Parse PromQL (Grafana variables resolved first); raises ValueError on invalid PromQL."""
    return _promql_parser().parse(_concrete(expr))


def metric_names(expr: str) -> set[str]:
    """Every metric name an expression selects, by name or by an ``__name__`` equality matcher."""
    parser = _promql_parser()
    names: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__" and matcher.op == parser.MatchOp.Equal:
                    names.add(matcher.value)

    parser.walk(parse(expr), visit)
    return names


def queries(plan: Plan) -> list[tuple[str, str]]:
    """(where, promql) for every expression in this deployment's dashboards, alerts and autoscaler.
    Grafana variable queries (``label_values(...)``) are not PromQL and are not listed."""
    out = alert_queries(plan)
    for dashboard in (engine_dashboard(plan), gpu_dashboard(), fleet_dashboard([plan])):
        out += dashboard_queries(dashboard)
    scaling = plan.spec.autoscaling
    if scaling.enabled:
        # A loaded spec only enables autoscaling on a signal its engine exports (spec rule).
        out.append((f"autoscaler:{scaling.signal}", adapter(plan).scaling_query(scaling.signal, plan.spec.served_name)))
        front = router(plan)
        for where in plan.spec.placements:
            if front is not None and where.replicas.min == 0:
                out.append((f"autoscaler:wake:{where.name}", front.demand_query(plan.spec.served_name, where.name)))
    return out


def placement_monitoring(plan: Plan, placement_name: str) -> list[dict]:
    """The monitoring objects one placement ships: its PodMonitor (and its router's, behind a router, and
    its endpoint gateway's, with an endpoint),
    the deployment's PrometheusRule,
    its engine dashboard as a ConfigMap for the Grafana sidecar, and, on clusters inferstack creates
    (where it installs the DCGM exporter), the exporter's ServiceMonitor, unless the cluster is a
    platform's, which ships it once (`cluster_monitoring`). Existing clusters get the Prometheus
    Operator kinds only when the spec says the cluster runs the operator."""
    where = plan.spec.placement(placement_name)
    dashboard = grafana_configmap(
        f"{plan.spec.name}-engine", plan.spec.namespace, engine_dashboard(plan), folder="inferstack"
    )
    if where.cluster.kind == "existing" and not where.cluster.prometheus_operator:
        return [dashboard]  # no Prometheus Operator there: its kinds would not exist
    objects = [pod_monitor(plan, placement_name)]
    if (front := router(plan)) is not None:
        objects.append(router_pod_monitor(plan, placement_name, front))
    if plan.spec.endpoint is not None:
        objects.append(endpoint_pod_monitor(plan, placement_name))
    objects += [prometheus_rule(plan), dashboard]
    if where.cluster.kind == "new" and where.platform is None:
        objects.append(dcgm_service_monitor(where.cluster_name(plan.spec.name)))
    return objects


def cluster_monitoring(cluster_name: str, new_cluster: bool, prometheus_operator: bool) -> list[dict]:
    """The monitoring objects a shared cluster ships once for all its models: the DCGM exporter's
    ServiceMonitor where inferstack installs the exporter (new clusters). Nothing where the cluster
    runs no Prometheus Operator."""
    return [dcgm_service_monitor(cluster_name)] if new_cluster and prometheus_operator else []
