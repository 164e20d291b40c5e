"""Shared naming for the monitoring builders: selectors, labels and number formatting.

Conventions every builder relies on (the scrape config establishes them, alerts and dashboards use them):

- The engine's scrape job label is rewritten to the served model name, so ``up{job="<served_name>"}``
  is the availability signal for every engine (and TGI's ``job`` model label means the same thing).
- Every engine series carries ``placement`` (the spec's placement name) and ``cluster`` (the
  placement's cluster name, `Placement.cluster_name`), added by relabeling at scrape time.
- Engine series are always filtered by ``<model_label>="<served_name>"`` with the adapter's own
  label; GPU (DCGM) series by the workload ``namespace`` the exporter attaches, i.e. ``spec.name``.
- The router's series carry ``job="<served_name>-router"`` (`catalog.routers.job`), ``placement`` and
  ``cluster``, set by its own PodMonitor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.catalog.routers import RouterSpec, router_for
from inferstack.engines import EngineAdapter, Metrics, adapter_for

if TYPE_CHECKING:
    from inferstack.plan import Plan

#: DCGM exporter series the GPU dashboard and the waste alert use.
DCGM_GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
DCGM_FB_USED = "DCGM_FI_DEV_FB_USED"
DCGM_FB_FREE = "DCGM_FI_DEV_FB_FREE"
DCGM_POWER = "DCGM_FI_DEV_POWER_USAGE"
DCGM_METRICS = (DCGM_GPU_UTIL, DCGM_FB_USED, DCGM_FB_FREE, DCGM_POWER)

RUNBOOK_BASE = "https://github.com/inferstack/inferstack/blob/main/docs/runbooks.md"


def adapter(plan: Plan) -> EngineAdapter:
    return adapter_for(plan.spec.engine.name)


def router(plan: Plan) -> RouterSpec | None:
    """The router in front of the deployment's replicas, or None."""
    return router_for(plan.spec.engine.name, plan.spec.routing.enabled)


def router_error_ratio(front: RouterSpec, selector: str, window: str, by: str) -> str:
    """The router's errors over the requests it routed to a replica, per ``by`` group. It counts what
    the engine cannot see: no healthy replica, timeouts, connection failures. vllm-router counts an error
    per failed attempt (retries included) and leaves refused requests out of its request counter, so
    the ratio can exceed 1 while no replica is up."""
    m = front.metrics
    return (
        f"sum by ({by}) (rate({m.errors}{{{selector}}}[{window}]))"
        f" / sum by ({by}) (rate({m.requests}{{{selector}}}[{window}]))"
    )


def model_selector(plan: Plan) -> str:
    """``model_name="llama"``: the matcher that restricts engine series to this deployment."""
    return f'{adapter(plan).metrics.model_label}="{plan.spec.served_name}"'


def num(value: float) -> str:
    """A float as PromQL/Grafana text without binary noise: 1 - 0.995 -> 0.005, 1500/1000 -> 1.5."""
    return f"{value:.10g}"


def error_ratio_expr(metrics: Metrics, selector: str, window: str, by: str) -> str | None:
    """Failed over finished requests per ``by`` group. Engines that label failures in their request
    counter (`failure_matcher`) give it directly; otherwise ``1 - success/finished``, with the
    end-to-end histogram's ``_count`` as every finished request. None when neither can be built."""
    if metrics.request_success is not None and metrics.failure_matcher is not None:
        failed = ", ".join(part for part in (selector, metrics.failure_matcher) if part)
        return (
            f"sum by ({by}) (rate({metrics.request_success}{{{failed}}}[{window}]))"
            f" / sum by ({by}) (rate({metrics.request_success}{{{selector}}}[{window}]))"
        )
    if metrics.request_success is None or metrics.e2e_seconds is None:
        return None
    return (
        f"1 - (sum by ({by}) (rate({metrics.request_success}{{{selector}}}[{window}]))"
        f" / sum by ({by}) (rate({metrics.e2e_seconds}_count{{{selector}}}[{window}])))"
    )
