"""Grafana dashboards built with the Grafana Foundation SDK, returned as JSON-ready dicts.

- `engine_dashboard(plan)`: one deployment: headline stats, then latency, throughput, queueing,
  KV cache, preemptions and errors; a panel appears only when the engine exports its metric, and
  latency/error thresholds are the spec's SLOs. Behind a router, its requests, latency, errors and
  workers follow.
- `gpu_dashboard()`: DCGM utilization, framebuffer memory and power for the GPUs allocated to pods.
- `fleet_dashboard(plans)`: every deployment and placement side by side.

Every dashboard has a Prometheus ``datasource`` variable and the template variables ``cluster``,
``namespace`` and ``model`` (values of ``job``, which the scrape config sets to the served name).
`grafana_configmap` wraps a dashboard for the Grafana sidecar (label ``grafana_dashboard: "1"``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grafana_foundation_sdk.builders import dashboard as gdash
from grafana_foundation_sdk.builders import gauge, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from inferstack import contract
from inferstack.catalog import routers
from inferstack.catalog.routers import RouterSpec
from inferstack.engines import EngineAdapter, adapter_for
from inferstack.monitoring._common import (
    DCGM_FB_FREE,
    DCGM_FB_USED,
    DCGM_GPU_UTIL,
    DCGM_POWER,
    error_ratio_expr,
    num,
    router,
    router_error_ratio,
)

if TYPE_CHECKING:
    from inferstack.plan import Plan

RATE = "$__rate_interval"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAGS = ["inferstack"]
TOKENS_PER_SECOND = "suffix: tok/s"
VARIABLES = ("cluster", "namespace", "model")


@dataclass
class PanelSpec:
    """What a panel shows; `_build` turns it into an SDK builder."""

    kind: str  # timeseries | stat | gauge
    title: str
    description: str
    unit: str
    targets: list[tuple[str, str]]  # (expr, legend)
    thresholds: list[tuple[float, str]] = field(default_factory=list)  # (value, color) above base green
    min: float | None = None
    max: float | None = None
    width: int = 12
    height: int = 8


def _uid(text: str) -> str:
    """A Grafana uid (at most 40 characters), readable when it fits."""
    uid = f"inferstack-{text}"
    return uid if len(uid) <= 40 else f"inferstack-{hashlib.sha256(text.encode()).hexdigest()[:29]}"


def _build(spec: PanelSpec, panel_id: int):
    builder = {"timeseries": timeseries.Panel, "stat": stat.Panel, "gauge": gauge.Panel}[spec.kind]()
    builder = (
        builder.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .height(spec.height)
        .span(spec.width)
    )
    if spec.min is not None:
        builder = builder.min(spec.min)
    if spec.max is not None:
        builder = builder.max(spec.max)
    steps = [model.Threshold(value=None, color="green")]
    steps += [model.Threshold(value=value, color=color) for value, color in spec.thresholds]
    builder = builder.thresholds(gdash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
    for index, (expr, legend) in enumerate(spec.targets):
        builder = builder.with_target(
            prometheus.Dataquery().ref_id(chr(ord("A") + index)).expr(expr).legend_format(legend).datasource(DATASOURCE)
        )
    return builder


def _variables(model_variable) -> list:
    """datasource, cluster, namespace (both from the engines' ``up`` series) and the model variable."""

    def query(name: str, expr: str):
        return (
            gdash.QueryVariable(name)
            .label(name.capitalize())
            .datasource(DATASOURCE)
            .query(expr)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )

    return [
        gdash.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        query("cluster", "label_values(up, cluster)"),
        query("namespace", 'label_values(up{cluster=~"$cluster"}, namespace)'),
        model_variable,
    ]


def _dashboard(uid: str, title: str, description: str, variables: list, panels: Sequence[PanelSpec]) -> dict:
    builder = (
        gdash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .time("now-6h", "now")
        .refresh("30s")
        .timezone("browser")
    )
    for variable in variables:
        builder = builder.with_variable(variable)
    for panel_id, spec in enumerate(panels, start=1):
        builder = builder.with_panel(_build(spec, panel_id))
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def _quantile(q: float, histogram: str, sel: str, by: str) -> str:
    return f"histogram_quantile({num(q)}, sum by (le, {by}) (rate({histogram}_bucket{{{sel}}}[{RATE}])))"


def _engine_panels(
    adapter: EngineAdapter,
    sel: str,
    by: str,
    legend: str,
    ttft_slo: float | None,
    e2e_slo: float | None,
    error_slo: float | None,
) -> list[PanelSpec]:
    """The per-engine panels; `sel` filters, `by` groups, SLO thresholds in seconds/fraction (or None)."""
    m = adapter.metrics
    red = lambda value: [(value, "red")] if value is not None else []  # noqa: E731
    panels: list[PanelSpec] = []
    finished = m.request_success or (f"{m.e2e_seconds}_count" if m.e2e_seconds else None)
    if finished:
        panels.append(
            PanelSpec(
                "timeseries",
                "Requests per second",
                "Finished requests per second.",
                "reqps",
                [(f"sum by ({by}) (rate({finished}{{{sel}}}[{RATE}]))", legend)],
                min=0,
            )
        )
    if m.ttft_seconds:
        panels.append(
            PanelSpec(
                "timeseries",
                "Time to first token",
                "p50 and p95 time to first token; red line: the TTFT SLO.",
                "s",
                [
                    (_quantile(0.5, m.ttft_seconds, sel, by), f"p50 {legend}"),
                    (_quantile(0.95, m.ttft_seconds, sel, by), f"p95 {legend}"),
                ],
                thresholds=red(ttft_slo),
                min=0,
            )
        )
    if m.inter_token_seconds:
        panels.append(
            PanelSpec(
                "timeseries",
                "Inter-token latency",
                "p50 and p95 time between output tokens.",
                "s",
                [
                    (_quantile(0.5, m.inter_token_seconds, sel, by), f"p50 {legend}"),
                    (_quantile(0.95, m.inter_token_seconds, sel, by), f"p95 {legend}"),
                ],
                min=0,
            )
        )
    if m.e2e_seconds:
        panels.append(
            PanelSpec(
                "timeseries",
                "End-to-end latency p95",
                "p95 request latency; red line: the end-to-end SLO.",
                "s",
                [(_quantile(0.95, m.e2e_seconds, sel, by), f"p95 {legend}")],
                thresholds=red(e2e_slo),
                min=0,
            )
        )
    tokens = [
        (f"sum by ({by}) (rate({name}{{{sel}}}[{RATE}]))", f"{kind} {legend}")
        for kind, name in (("prompt", m.prompt_tokens), ("generation", m.generation_tokens))
        if name
    ]
    if tokens:
        panels.append(
            PanelSpec(
                "timeseries",
                "Tokens per second",
                "Prompt and generated tokens per second.",
                TOKENS_PER_SECOND,
                tokens,
                min=0,
            )
        )
    if m.requests_waiting:
        panels.append(
            PanelSpec(
                "timeseries",
                "Queue depth",
                "Requests waiting for a slot.",
                "short",
                [(f"sum by ({by}) ({m.requests_waiting}{{{sel}}})", legend)],
                min=0,
            )
        )
    if m.requests_running:
        panels.append(
            PanelSpec(
                "timeseries",
                "Running requests",
                "Requests being decoded.",
                "short",
                [(f"sum by ({by}) ({m.requests_running}{{{sel}}})", legend)],
                min=0,
            )
        )
    if m.kv_cache_usage:
        panels.append(
            PanelSpec(
                "timeseries",
                "KV cache usage",
                "Fullest replica's KV cache; above 90% requests queue or preempt.",
                "percentunit",
                [(f"max by ({by}) ({m.kv_cache_usage}{{{sel}}})", legend)],
                thresholds=[(0.75, "orange"), (0.9, "red")],
                min=0,
                max=1,
            )
        )
    if m.preemptions:
        panels.append(
            PanelSpec(
                "timeseries",
                "Preemptions",
                "Requests preempted per second (KV cache full).",
                "ops",
                [(f"sum by ({by}) (rate({m.preemptions}{{{sel}}}[{RATE}]))", legend)],
                thresholds=[(0.001, "red")],
                min=0,
            )
        )
    if (ratio := error_ratio_expr(m, sel, RATE, by)) is not None:
        panels.append(
            PanelSpec(
                "timeseries",
                "Error rate",
                "Fraction of finished requests that failed; red line: the error-rate SLO.",
                "percentunit",
                [(ratio, legend)],
                thresholds=red(error_slo),
                min=0,
            )
        )
    return panels


def _router_panels(front: RouterSpec, by: str, e2e_slo: float, error_slo: float) -> list[PanelSpec]:
    """The router's view: what it receives, how long it takes end to end, what fails, how many
    replicas it routes to. Its series carry ``job="<model>-router"``."""
    m = front.metrics
    sel = f'job=~"{routers.job("$model")}", cluster=~"$cluster", namespace=~"$namespace"'
    legend = "{{placement}}"
    return [
        PanelSpec(
            "timeseries",
            "Router: requests per second",
            f"Requests {front.package} receives, before any replica is chosen.",
            "reqps",
            [(f"sum by ({by}) (rate({m.requests}{{{sel}}}[{RATE}]))", legend)],
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "Router: latency p95",
            "p95 of whole requests through the router (queueing, retries and the replica included); red "
            "line: the end-to-end SLO.",
            "s",
            [(_quantile(0.95, m.duration, sel, by), f"p95 {legend}")],
            thresholds=[(e2e_slo, "red")],
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "Router: error rate",
            "Router errors (no healthy replica, timeout, connection failure; each failed attempt) per request "
            "it routed; red line: the error-rate SLO.",
            "percentunit",
            [(router_error_ratio(front, sel, RATE, by), legend)],
            thresholds=[(error_slo, "red")],
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "Router: replicas routed to",
            "Workers the router holds (discovered serving pods); 0 while a placement is scaled to zero.",
            "short",
            [(f"max by ({by}) ({m.workers}{{{sel}}})", legend)],
            min=0,
        ),
    ]


def _selector(label: str) -> str:
    return f'{label}=~"$model", cluster=~"$cluster", namespace=~"$namespace"'


def engine_dashboard(plan: Plan) -> dict:
    """One deployment's engine dashboard."""
    spec = plan.spec
    adapter = adapter_for(spec.engine.name)
    m, slo = adapter.metrics, spec.slo
    sel, by = _selector(m.model_label), "cluster, placement"
    headline: list[PanelSpec] = []
    if m.ttft_seconds:
        headline.append(
            PanelSpec(
                "stat",
                "TTFT p95",
                f"SLO: {num(slo.ttft_p95_ms)} ms.",
                "s",
                [(_quantile(0.95, m.ttft_seconds, sel, "cluster"), "{{cluster}}")],
                thresholds=[(slo.ttft_p95_ms / 1000, "red")],
                width=6,
                height=4,
            )
        )
    if m.e2e_seconds:
        headline.append(
            PanelSpec(
                "stat",
                "End-to-end p95",
                f"SLO: {num(slo.e2e_p95_ms)} ms.",
                "s",
                [(_quantile(0.95, m.e2e_seconds, sel, "cluster"), "{{cluster}}")],
                thresholds=[(slo.e2e_p95_ms / 1000, "red")],
                width=6,
                height=4,
            )
        )
    headline.append(
        PanelSpec(
            "stat",
            "Replicas up",
            f"Serving pods scraped and up; availability SLO {num(slo.availability * 100)}%.",
            "short",
            [('sum by (cluster) (up{job=~"$model", cluster=~"$cluster", namespace=~"$namespace"})', "{{cluster}}")],
            width=6,
            height=4,
        )
    )
    if m.kv_cache_usage:
        headline.append(
            PanelSpec(
                "gauge",
                "KV cache (fullest replica)",
                "Highest KV cache usage of any replica.",
                "percentunit",
                [(f"max({m.kv_cache_usage}{{{sel}}})", "max")],
                thresholds=[(0.75, "orange"), (0.9, "red")],
                min=0,
                max=1,
                width=6,
                height=4,
            )
        )
    panels = headline + _engine_panels(
        adapter, sel, by, "{{placement}}", slo.ttft_p95_ms / 1000, slo.e2e_p95_ms / 1000, slo.error_rate
    )
    if (front := router(plan)) is not None:
        panels += _router_panels(front, by, slo.e2e_p95_ms / 1000, slo.error_rate)
    model_variable = (
        gdash.QueryVariable("model")
        .label("Model")
        .datasource(DATASOURCE)
        .query('label_values(up{cluster=~"$cluster", namespace=~"$namespace"}, job)')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .current(model.VariableOption(selected=True, text=spec.served_name, value=spec.served_name))
    )
    return _dashboard(
        _uid(spec.name),
        f"inferstack / {spec.name}",
        f"{spec.served_name} on {spec.engine.name} {spec.engine.version}: latency against SLOs, "
        "throughput, queueing and KV cache.",
        _variables(model_variable),
        panels,
    )


def gpu_dashboard() -> dict:
    """GPUs from NVIDIA's DCGM exporter, restricted to pods serving the selected models."""
    only = 'and on (namespace, pod) up{job=~"$model"}'
    sel = 'cluster=~"$cluster", namespace=~"$namespace"'
    by, legend = "cluster, namespace, pod, gpu", "{{pod}} GPU {{gpu}}"
    panels = [
        PanelSpec(
            "timeseries",
            "GPU utilization",
            "DCGM_FI_DEV_GPU_UTIL per GPU; under 5% for an hour is waste.",
            "percent",
            [(f"avg by ({by}) ({DCGM_GPU_UTIL}{{{sel}}} {only})", legend)],
            thresholds=[(5, "blue")],
            min=0,
            max=100,
        ),
        PanelSpec(
            "timeseries",
            "GPU memory used",
            "Framebuffer memory in use per GPU.",
            "mbytes",
            [(f"max by ({by}) ({DCGM_FB_USED}{{{sel}}} {only})", legend)],
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "GPU memory used (fraction)",
            "Used / (used + free) framebuffer per GPU.",
            "percentunit",
            [
                (
                    f"max by ({by}) ({DCGM_FB_USED}{{{sel}}} {only}) / (max by ({by}) ({DCGM_FB_USED}{{{sel}}} {only})"
                    f" + max by ({by}) ({DCGM_FB_FREE}{{{sel}}} {only}))",
                    legend,
                )
            ],
            thresholds=[(0.95, "red")],
            min=0,
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "GPU power",
            "Board power draw per GPU.",
            "watt",
            [(f"max by ({by}) ({DCGM_POWER}{{{sel}}} {only})", legend)],
            min=0,
        ),
        PanelSpec(
            "stat",
            "Mean GPU utilization",
            "Across the selected GPUs.",
            "percent",
            [(f"avg({DCGM_GPU_UTIL}{{{sel}}} {only})", "mean")],
            thresholds=[(5, "blue"), (30, "green")],
            min=0,
            max=100,
            width=24,
            height=4,
        ),
    ]
    model_variable = (
        gdash.QueryVariable("model")
        .label("Model")
        .datasource(DATASOURCE)
        .query('label_values(up{cluster=~"$cluster", namespace=~"$namespace"}, job)')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    return _dashboard(
        _uid("gpu"),
        "inferstack / GPUs",
        "NVIDIA DCGM metrics for GPUs allocated to serving pods.",
        _variables(model_variable),
        panels,
    )


def _shared(values: list[float]) -> float | None:
    return values[0] if values and all(v == values[0] for v in values) else None


def fleet_dashboard(plans: Sequence[Plan]) -> dict:
    """Every deployment and placement side by side; one query per engine in each panel."""
    if not plans:
        raise ValueError("fleet_dashboard needs at least one plan")
    engines: dict[str, EngineAdapter] = {}
    for plan in plans:
        engines.setdefault(plan.spec.engine.name, adapter_for(plan.spec.engine.name))
    by, legend = "job, cluster, placement", "{{job}} {{placement}}"
    merged: dict[str, PanelSpec] = {}
    ttft = _shared([p.spec.slo.ttft_p95_ms / 1000 for p in plans])
    e2e = _shared([p.spec.slo.e2e_p95_ms / 1000 for p in plans])
    errors = _shared([p.spec.slo.error_rate for p in plans])
    for adapter in engines.values():
        for panel in _engine_panels(adapter, _selector(adapter.metrics.model_label), by, legend, ttft, e2e, errors):
            if panel.title in merged:
                merged[panel.title].targets += panel.targets
            else:
                merged[panel.title] = panel
    panels = [
        PanelSpec(
            "stat",
            "Replicas up",
            "Serving pods up per deployment and placement.",
            "short",
            [
                (
                    'sum by (job, cluster, placement) (up{job=~"$model", cluster=~"$cluster", '
                    'namespace=~"$namespace"})',
                    legend,
                )
            ],
            width=24,
            height=4,
        )
    ]
    panels += list(merged.values())
    panels.append(
        PanelSpec(
            "timeseries",
            "GPU utilization",
            "Mean DCGM utilization of each deployment's GPUs.",
            "percent",
            [
                (
                    f'avg by (cluster, namespace) ({DCGM_GPU_UTIL}{{cluster=~"$cluster", '
                    f'namespace=~"$namespace"}} and on (namespace, pod) up{{job=~"$model"}})',
                    "{{namespace}} ({{cluster}})",
                )
            ],
            thresholds=[(5, "blue")],
            min=0,
            max=100,
        )
    )
    names = sorted({p.spec.served_name for p in plans})
    model_variable = (
        gdash.CustomVariable("model")
        .label("Model")
        .values(",".join(names))
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )
    return _dashboard(
        _uid("fleet"),
        "inferstack / fleet",
        "All inferstack deployments across clusters and placements.",
        _variables(model_variable),
        panels,
    )


def grafana_configmap(name: str, namespace: str, dashboard_json: dict, folder: str | None = None) -> dict:
    """A ConfigMap the Grafana sidecar (kube-prometheus-stack) loads as a dashboard."""
    metadata: dict = {
        "name": name,
        "namespace": namespace,
        "labels": {"grafana_dashboard": "1", contract.LABEL_MANAGED_BY: contract.MANAGED_BY},
    }
    if folder:
        metadata["annotations"] = {"grafana_folder": folder}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {f"{name}.json": json.dumps(dashboard_json, sort_keys=True, indent=2)},
    }


def dashboard_queries(dashboard_json: dict) -> list[tuple[str, str]]:
    """(where, expr) for every panel target of a dashboard dict."""
    out = []
    for panel in dashboard_json.get("panels", []):
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append(
                    (f"dashboard:{dashboard_json['uid']}/{panel['title']}/{target.get('refId')}", target["expr"])
                )
    return out
