"""Alerts derived from the spec's SLOs, plus saturation and waste, as a PrometheusRule.

Groups (one set per deployment; alert names are shared and told apart by the ``model`` label):

- **slo**: TTFT p95 and end-to-end p95 above the SLO for 10 min (histogram_quantile over the engine's
  histograms); error ratio above ``slo.error_rate`` for 10 min; availability as multi-window,
  multi-burn-rate alerts (Google SRE workbook, ch. 5): 1h and 5m windows both burning faster than
  14.4x the error budget ``1 - availability``, and 6h/30m faster than 6x. Availability is time-based,
  as the spec defines it: the fraction of scraped serving pods that are up (``up{job=<served_name>}``).
  When every placement keeps at least one replica, a missing scrape target is an alert of its own
  (``absent``), since burn rates cannot see pods that are gone.
- **router** (when the engine's router fronts the replicas): the router's own error ratio above
  ``slo.error_rate`` for 10 min, and, when every placement keeps a replica, a router with no worker.
- **saturation**: KV cache above 90% for 15 min; mean waiting requests per replica above the
  autoscaler's per-replica target for 10 min (the autoscaler is not keeping up: at max replicas, or
  no GPUs); preemptions for 15 min.
- **waste**: GPUs allocated to this deployment's pods averaging under 5% utilization for 1 h (DCGM).

Every engine selector is filtered by the adapter's model label = served name, and uses only metric
names the adapter declares; an alert whose metric the engine lacks is left out.

Error ratio: ``1 - rate(request_success) / rate(<e2e histogram>_count)``. Engines count these in
their own terms: vLLM, for instance, records both for every finished request (``finished_reason``
stop/length/abort), so requests that fail before reaching the engine (HTTP 4xx/5xx) are not visible
to this ratio; an HTTP-level request counter declared by the adapter would be the better numerator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack import contract
from inferstack.catalog import routers
from inferstack.monitoring._common import (
    DCGM_GPU_UTIL,
    RUNBOOK_BASE,
    adapter,
    error_ratio_expr,
    model_selector,
    num,
    router,
    router_error_ratio,
)

if TYPE_CHECKING:
    from inferstack.plan import Plan

API_VERSION = "monitoring.coreos.com/v1"
#: Rate window for latency and error expressions.
RATE_WINDOW = "5m"
#: (severity, long window, short window, burn-rate factor, for) per the SRE workbook.
BURN_RATES = (
    ("Fast", "1h", "5m", 14.4, "2m"),
    ("Slow", "6h", "30m", 6.0, "15m"),
)
KV_CACHE_THRESHOLD = 0.9
#: Mean waiting requests per replica when the spec does not scale on queue depth.
DEFAULT_QUEUE_PER_REPLICA = 4.0
GPU_IDLE_PERCENT = 5
BY = "cluster, placement"


def _rule(plan: Plan, name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "model": plan.spec.served_name},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{RUNBOOK_BASE}#{name.lower()}",
        },
    }


def _p95(histogram: str, sel: str) -> str:
    return f"histogram_quantile(0.95, sum by (le, {BY}) (rate({histogram}_bucket{{{sel}}}[{RATE_WINDOW}])))"


def error_ratio(plan: Plan, window: str = RATE_WINDOW, by: str = BY) -> str | None:
    """Fraction of finished requests that did not succeed, or None when the engine lacks the counters."""
    return error_ratio_expr(adapter(plan).metrics, model_selector(plan), window, by)


def queue_threshold(plan: Plan) -> float:
    """Mean waiting requests per replica above which the queue counts as backed up."""
    scaling = plan.spec.autoscaling
    if scaling.enabled and scaling.signal == "queue_depth":
        return scaling.target
    return DEFAULT_QUEUE_PER_REPLICA


def slo_rules(plan: Plan) -> list[dict]:
    spec, metrics = plan.spec, adapter(plan).metrics
    sel, slo, name = model_selector(plan), spec.slo, spec.served_name
    rules: list[dict] = []
    latency_slos = (
        (metrics.ttft_seconds, slo.ttft_p95_ms, "InferenceTTFTP95High", "time to first token", "TTFT"),
        (metrics.e2e_seconds, slo.e2e_p95_ms, "InferenceE2ELatencyP95High", "end-to-end latency", "end-to-end latency"),
        (
            metrics.inter_token_seconds,
            slo.itl_p95_ms,
            "InferenceITLP95High",
            "inter-token latency",
            "inter-token latency",
        ),
    )
    for histogram, slo_ms, alert, what, short in latency_slos:
        if not histogram or slo_ms is None:
            continue
        limit = num(slo_ms / 1000)
        rules.append(
            _rule(
                plan,
                alert,
                f"{_p95(histogram, sel)} > {limit}",
                "10m",
                "warning",
                f"{name}: p95 {what} above the {num(slo_ms)} ms SLO",
                f"p95 {short} of {name} in {{{{ $labels.placement }}}} ({{{{ $labels.cluster }}}}) is "
                f"{{{{ $value | humanizeDuration }}}}, above the SLO of {limit}s for 10 minutes.",
            )
        )
    if (ratio := error_ratio(plan)) is not None:
        rules.append(
            _rule(
                plan,
                "InferenceErrorRateHigh",
                f"({ratio}) > {num(slo.error_rate)}",
                "10m",
                "critical",
                f"{name}: error ratio above the {num(slo.error_rate * 100)}% SLO",
                f"{{{{ $value | humanizePercentage }}}} of {name}'s requests in {{{{ $labels.placement }}}} "
                f"({{{{ $labels.cluster }}}}) failed over 10 minutes; the SLO allows {num(slo.error_rate * 100)}%.",
            )
        )
    budget = num(1 - slo.availability)
    for speed, long, short, factor, for_ in BURN_RATES:
        down = [f'1 - avg by ({BY}) (avg_over_time(up{{job="{name}"}}[{w}]))' for w in (long, short)]
        threshold = f"({num(factor)} * {budget})"
        rules.append(
            _rule(
                plan,
                f"InferenceAvailabilityBurn{speed}",
                f"({down[0]}) > {threshold} and ({down[1]}) > {threshold}",
                for_,
                "critical",
                f"{name}: availability error budget burning {num(factor)}x too fast",
                f"{name} in {{{{ $labels.placement }}}} ({{{{ $labels.cluster }}}}) was unavailable more than "
                f"{num(factor)}x the budget of the {num(slo.availability * 100)}% availability SLO over both "
                f"{long} and {short}.",
            )
        )
    # Only when every placement keeps a replica: one that scales from zero has no target while idle.
    if _always_serving(plan):
        rules.append(
            _rule(
                plan,
                "InferenceTargetsAbsent",
                f'absent(up{{job="{name}"}})',
                "10m",
                "critical",
                f"{name}: no serving pod is being scraped",
                f"Prometheus has no scrape target for {name} although every placement keeps at least one "
                f"replica: pods are gone, or the PodMonitor no longer matches them.",
            )
        )
    return rules


def _always_serving(plan: Plan) -> bool:
    return all(p.replicas.min >= 1 for p in plan.spec.placements)


def router_rules(plan: Plan) -> list[dict]:
    """What only the router sees: its errors (no healthy replica, timeouts, connection failures; the
    router counts every failed attempt, retries included) against the requests it routed, and a router
    holding no replica where the placement keeps some. Neither
    router exports a time to first token (catalog/data/routers.yaml), so TTFT stays the engine's."""
    front = router(plan)
    if front is None:
        return []
    name, slo = plan.spec.served_name, plan.spec.slo
    selector = f'job="{routers.job(name)}"'
    rules = [
        _rule(
            plan,
            "InferenceRouterErrorRateHigh",
            f"({router_error_ratio(front, selector, RATE_WINDOW, BY)}) > {num(slo.error_rate)}",
            "10m",
            "critical",
            f"{name}: the router fails more than the {num(slo.error_rate * 100)}% SLO allows",
            f"{front.package} recorded errors (failed attempts, retries included) worth "
            f"{{{{ $value | humanizePercentage }}}} of the requests it routed for {name} in "
            f"{{{{ $labels.placement }}}} ({{{{ $labels.cluster }}}}) over 10 minutes.",
        )
    ]
    if _always_serving(plan):
        rules.append(
            _rule(
                plan,
                "InferenceRouterNoWorkers",
                f"max by ({BY}) ({front.metrics.workers}{{{selector}}}) == 0",
                "5m",
                "critical",
                f"{name}: the router holds no replica",
                f"{front.package} in {{{{ $labels.placement }}}} ({{{{ $labels.cluster }}}}) has had no worker "
                "for 5 minutes although the placement keeps replicas: pod discovery (its Role, the labels) "
                "or the replicas' health checks are failing.",
            )
        )
    return rules


def saturation_rules(plan: Plan) -> list[dict]:
    metrics, sel, name = adapter(plan).metrics, model_selector(plan), plan.spec.served_name
    rules: list[dict] = []
    if metrics.kv_cache_usage:
        rules.append(
            _rule(
                plan,
                "InferenceKVCacheNearlyFull",
                f"max by ({BY}, pod) ({metrics.kv_cache_usage}{{{sel}}}) > {num(KV_CACHE_THRESHOLD)}",
                "15m",
                "warning",
                f"{name}: KV cache above {num(KV_CACHE_THRESHOLD * 100)}%",
                "KV cache of {{ $labels.pod }} in {{ $labels.placement }} is "
                "{{ $value | humanizePercentage }} full for 15 minutes; requests will queue or be preempted.",
            )
        )
    if metrics.requests_waiting:
        limit = num(queue_threshold(plan))
        rules.append(
            _rule(
                plan,
                "InferenceQueueBacklog",
                f"avg by ({BY}) ({metrics.requests_waiting}{{{sel}}}) > {limit}",
                "10m",
                "warning",
                f"{name}: requests queueing faster than replicas are added",
                f"{name} in {{{{ $labels.placement }}}} has {{{{ $value }}}} waiting requests per replica "
                f"(more than {limit}) for 10 minutes: the autoscaler is at its maximum or cannot get GPUs.",
            )
        )
    if metrics.preemptions:
        rules.append(
            _rule(
                plan,
                "InferencePreemptions",
                f"sum by ({BY}, pod) (rate({metrics.preemptions}{{{sel}}}[{RATE_WINDOW}])) > 0",
                "15m",
                "warning",
                f"{name}: requests are being preempted",
                "{{ $labels.pod }} in {{ $labels.placement }} preempts {{ $value }} requests/s for "
                "15 minutes: the KV cache is too small for the load.",
            )
        )
    return rules


def waste_rules(plan: Plan) -> list[dict]:
    spec = plan.spec
    # A team's namespace is shared: there the model's pods (`<deployment>-<replicaset>-<id>`) are picked out.
    pods = f', pod=~"{spec.name}-[a-z0-9]+-[a-z0-9]+"' if spec.team else ""
    return [
        _rule(
            plan,
            "InferenceGPUIdle",
            f'avg by (cluster, namespace, pod) ({DCGM_GPU_UTIL}{{namespace="{spec.namespace}"{pods}}}) < {GPU_IDLE_PERCENT}',
            "1h",
            "info",
            f"{spec.served_name}: GPUs allocated but idle",
            "GPUs of {{ $labels.pod }} ({{ $labels.cluster }}) averaged {{ $value }}% utilization for "
            "an hour: lower replicas.min or move the model to a smaller GPU.",
        )
    ]


def groups(plan: Plan) -> list[dict]:
    name = plan.spec.name
    out = []
    for kind, rules in (
        ("slo", slo_rules(plan)),
        ("router", router_rules(plan)),
        ("saturation", saturation_rules(plan)),
        ("waste", waste_rules(plan)),
    ):
        if rules:
            out.append({"name": f"inferstack.{name}.{kind}", "rules": rules})
    return out


def rules_file(plan: Plan) -> dict:
    """The plain Prometheus rule file (``promtool check rules`` input)."""
    return {"groups": groups(plan)}


def prometheus_rule(plan: Plan) -> dict:
    """The same rules as a Prometheus Operator PrometheusRule in the deployment's namespace."""
    spec = plan.spec
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{spec.name}-inferstack",
            "namespace": spec.namespace,
            "labels": {contract.LABEL_NAME: spec.name, contract.LABEL_MANAGED_BY: contract.MANAGED_BY},
        },
        "spec": {"groups": groups(plan)},
    }


def alert_queries(plan: Plan) -> list[tuple[str, str]]:
    return [(f"alert:{rule['alert']}", rule["expr"]) for group in groups(plan) for rule in group["rules"]]
