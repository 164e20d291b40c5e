"""The platform dashboard: GPUs allocated and used per pool, per model and per team, across the
platform's clusters, built with the Grafana Foundation SDK like the other dashboards.

Allocation is what pods request (kube-state-metrics `kube_pod_container_resource_requests`, whole
GPUs and MIG slices) against what nodes offer (`kube_node_status_allocatable`) and what team quotas
allow (`kube_resourcequota`); utilisation is DCGM's. Pools come from the nodes' `inferstack.dev/pool`
label, which kube-state-metrics exports as `label_inferstack_dev_pool` only when allowed
(`--metric-labels-allowlist=nodes=[inferstack.dev/pool]`, `NODE_LABELS_ALLOWLIST`). Models are the
engines' `job` (the served name), joined to their pods through the engines' `up` series; teams are the
namespaces.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as gdash
from grafana_foundation_sdk.models import dashboard as model

from inferstack.contract import MONITORING_NAMESPACE, POOL_LABEL
from inferstack.monitoring import cluster_monitoring
from inferstack.monitoring._common import DCGM_GPU_UTIL
from inferstack.monitoring.dashboards import PanelSpec, _dashboard, _uid, _variables, grafana_configmap
from inferstack.monitoring.scrape import platform_endpoint_pod_monitor
from inferstack.plan.fleet import FleetPlan

#: Name of the platform dashboard's ConfigMap (Grafana sidecar) in each platform cluster.
PLATFORM_DASHBOARD = "inferstack-platform"
#: The kube-state-metrics argument that exports the pool label of nodes (kube-prometheus-stack value
#: `kube-state-metrics.metricLabelsAllowlist`).
NODE_LABELS_ALLOWLIST = f"nodes=[{POOL_LABEL}]"
#: The pool label as kube-state-metrics names it on `kube_node_labels`.
KSM_POOL_LABEL = "label_" + "".join(c if c.isalnum() else "_" for c in POOL_LABEL)
#: Extended resources of GPUs and MIG slices as kube-state-metrics names them.
GPU_RESOURCES = 'resource=~"nvidia_com_gpu|nvidia_com_mig_.*"'
CLUSTER = 'cluster=~"$cluster"'
#: Each node's pool, as a `pool` label to join on (cluster, node).
NODE_POOL = (
    f'max by (cluster, node, pool) (label_replace(kube_node_labels{{{CLUSTER}}}, "pool", "$1", "{KSM_POOL_LABEL}", '
    '"(.+)"))'
)
#: Each serving pod's model (`job`), to join on (namespace, pod).
POD_MODEL = 'max by (namespace, pod, job) (up{job=~"$model"})'
REQUESTED = f"kube_pod_container_resource_requests{{{GPU_RESOURCES}, {CLUSTER}}}"
ALLOCATABLE = f"kube_node_status_allocatable{{{GPU_RESOURCES}, {CLUSTER}}}"
#: DCGM utilisation with the node it was read on (the exporter's `Hostname`).
UTIL_ON_NODE = f'label_replace({DCGM_GPU_UTIL}{{{CLUSTER}}}, "node", "$1", "Hostname", "(.+)")'


def _per_pool(expr: str) -> str:
    return f"{expr} * on (cluster, node) group_left(pool) {NODE_POOL}"


def platform_dashboard(result: FleetPlan) -> dict:
    """GPU allocation and utilisation per pool, model and team of the fleet's platform."""
    platform = result.fleet.platform
    name = platform.name if platform else "fleet"
    pools, legend_pool = "cluster, pool", "{{cluster}} {{pool}}"
    panels = [
        PanelSpec(
            "timeseries",
            "GPUs allocated per pool",
            "GPUs and MIG slices requested by pods on each pool's nodes.",
            "short",
            [(f"sum by ({pools}) ({_per_pool(REQUESTED)})", legend_pool)],
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "Pool allocation",
            "Requested over allocatable GPUs (and slices) per pool; near 1 the pool must grow to take more replicas.",
            "percentunit",
            [
                (
                    f"sum by ({pools}) ({_per_pool(REQUESTED)}) / sum by ({pools}) ({_per_pool(ALLOCATABLE)})",
                    legend_pool,
                )
            ],
            thresholds=[(0.9, "orange")],
            min=0,
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "GPU utilization per pool",
            "Mean DCGM utilization of each pool's GPUs.",
            "percent",
            [(f"avg by ({pools}) ({UTIL_ON_NODE} * on (cluster, node) group_left(pool) {NODE_POOL})", legend_pool)],
            thresholds=[(5, "blue")],
            min=0,
            max=100,
        ),
        PanelSpec(
            "timeseries",
            "GPUs allocated per model",
            "GPUs and MIG slices requested by each model's serving pods.",
            "short",
            [(f"sum by (job) ({REQUESTED} * on (namespace, pod) group_left(job) {POD_MODEL})", "{{job}}")],
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "GPU utilization per model",
            "Mean DCGM utilization of each model's GPUs.",
            "percent",
            [
                (
                    f"avg by (job) ({DCGM_GPU_UTIL}{{{CLUSTER}}} * on (namespace, pod) group_left(job) {POD_MODEL})",
                    "{{job}}",
                )
            ],
            thresholds=[(5, "blue")],
            min=0,
            max=100,
        ),
        PanelSpec(
            "timeseries",
            "GPU quota used per team",
            "Used over hard GPU quota of each team's namespace (requests.nvidia.com/gpu).",
            "percentunit",
            [
                (
                    'sum by (cluster, namespace) (kube_resourcequota{type="used", resource="requests.nvidia.com/gpu", '
                    f'{CLUSTER}, namespace=~"$namespace"}}) / sum by (cluster, namespace) (kube_resourcequota{{'
                    f'type="hard", resource="requests.nvidia.com/gpu", {CLUSTER}, namespace=~"$namespace"}})',
                    "{{namespace}} ({{cluster}})",
                )
            ],
            thresholds=[(0.9, "orange"), (1, "red")],
            min=0,
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "GPU utilization per team",
            "Mean DCGM utilization of the GPUs each team's pods hold.",
            "percent",
            [
                (
                    f'avg by (cluster, namespace) ({DCGM_GPU_UTIL}{{{CLUSTER}, namespace=~"$namespace"}})',
                    "{{namespace}} ({{cluster}})",
                )
            ],
            thresholds=[(5, "blue")],
            min=0,
            max=100,
        ),
    ]
    names = sorted({p.spec.served_name for p in result.models}) or ["none"]
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
        _uid(f"platform-{name}"),
        f"inferstack / platform {name}",
        "GPU allocation and utilisation per pool, model and team (namespace) across the platform's clusters.",
        _variables(model_variable),
        panels,
    )


def platform_monitoring(result: FleetPlan, placement: str) -> list[dict]:
    """The monitoring a platform cluster ships once for all its models (the models' own come from
    `placement_monitoring`): where inferstack installs the monitoring stack (a new cluster with
    `addons.prometheus_stack`), the DCGM exporter's ServiceMonitor and the platform dashboard."""
    platform = result.fleet.platform
    if platform is None:
        return []
    where = platform.placement(placement)
    planned = next(p for p in result.placements if p.name == placement)
    new = where.cluster.kind == "new"
    ours = new and where.addons.prometheus_stack
    objects = cluster_monitoring(planned.cluster_name, new, ours)
    if ours:
        dashboard = platform_dashboard(result)
        objects.append(grafana_configmap(PLATFORM_DASHBOARD, MONITORING_NAMESPACE, dashboard, folder="inferstack"))
    if where.endpoint is not None and (ours or where.cluster.prometheus_operator):
        objects.append(platform_endpoint_pod_monitor(platform.name, placement, planned.cluster_name))
    return objects
