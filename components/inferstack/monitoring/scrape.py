"""Scrape configuration for the Prometheus Operator: a PodMonitor per placement for the engine (and one
for its router, when one fronts the replicas), and a ServiceMonitor for NVIDIA's DCGM exporter. Pure
builders returning plain dicts.

The engine PodMonitor selects the serving pods by the labels the serving layer sets
(``app.kubernetes.io/name``, ``/instance``, ``/component``) on the port named ``http`` at the
adapter's metrics path, every 15 s. Relabeling adds ``placement`` and ``cluster`` and rewrites
``job`` to the served model name (see `inferstack.monitoring._common`), so one set of alerts and
dashboards works across placements, clusters and engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack import contract
from inferstack.catalog import endpoints, routers
from inferstack.catalog.routers import RouterSpec
from inferstack.monitoring._common import DCGM_METRICS, adapter

if TYPE_CHECKING:
    from inferstack.plan import Plan

API_VERSION = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "15s"
SCRAPE_TIMEOUT = "10s"
DCGM_APP_LABEL = "nvidia-dcgm-exporter"


def _static_label(target: str, value: str) -> dict:
    return {"action": "replace", "targetLabel": target, "replacement": value}


def pod_monitor(plan: Plan, placement_name: str) -> dict:
    """The PodMonitor that scrapes one placement's serving pods."""
    spec = plan.spec
    instance = contract.labels(spec.name, placement_name, "inference")[contract.LABEL_INSTANCE]
    return _pod_monitor(
        plan, placement_name, "inference", instance, "http", adapter(plan).metrics.path, spec.served_name
    )


def router_pod_monitor(plan: Plan, placement_name: str, front: RouterSpec) -> dict:
    """The PodMonitor that scrapes one placement's router pods on their metrics port; their series get
    ``job="<served_name>-router"``, so they never mix with the engine's ``up{job="<served_name>"}``."""
    spec = plan.spec
    instance = contract.labels(spec.name, placement_name, "inference")[contract.LABEL_INSTANCE]
    return _pod_monitor(
        plan,
        placement_name,
        "router",
        f"{instance}-router",
        "metrics",
        front.metrics_path,
        routers.job(spec.served_name),
    )


def endpoint_pod_monitor(plan: Plan, placement_name: str) -> dict:
    """The PodMonitor that scrapes one placement's endpoint gateway (HAProxy's Prometheus exporter on
    its monitor port); its series get ``job="<served_name>-endpoint"``."""
    instance = contract.labels(plan.spec.name, placement_name, "inference")[contract.LABEL_INSTANCE]
    return _pod_monitor(
        plan,
        placement_name,
        "endpoint",
        f"{instance}-endpoint",
        "monitor",
        endpoints.gateway().metrics_path,
        f"{plan.spec.served_name}-endpoint",
    )


def platform_endpoint_pod_monitor(platform: str, placement: str, cluster: str) -> dict:
    """The PodMonitor of a platform placement's gateway (`kube.endpoint.platform_site`: labels
    `contract.labels(platform, placement, "endpoint")` in the ingress namespace); its series get
    ``job="<platform>-endpoint"``, ``placement`` and ``cluster``."""
    selected = contract.labels(platform, placement, endpoints.COMPONENT)
    monitor = {
        "port": "monitor",
        "path": endpoints.gateway().metrics_path,
        "interval": SCRAPE_INTERVAL,
        "scrapeTimeout": SCRAPE_TIMEOUT,
        "relabelings": [
            _static_label("job", f"{platform}-{endpoints.COMPONENT}"),
            _static_label("placement", placement),
            _static_label("cluster", cluster),
        ],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": {
            "name": f"{platform}-{placement}-{endpoints.COMPONENT}",
            "namespace": contract.INGRESS_NAMESPACE,
            "labels": selected,
        },
        "spec": {
            "selector": {"matchLabels": {k: v for k, v in selected.items() if k != contract.LABEL_MANAGED_BY}},
            "namespaceSelector": {"matchNames": [contract.INGRESS_NAMESPACE]},
            "podMetricsEndpoints": [monitor],
        },
    }


def _pod_monitor(plan: Plan, placement_name: str, component: str, name: str, port: str, path: str, job: str) -> dict:
    spec = plan.spec
    where = spec.placement(placement_name)
    selected = contract.labels(spec.name, where.name, component)
    labels = {k: v for k, v in selected.items() if k != contract.LABEL_MANAGED_BY}
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": selected,
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "podMetricsEndpoints": [
                {
                    "port": port,
                    "path": path,
                    "interval": SCRAPE_INTERVAL,
                    "scrapeTimeout": SCRAPE_TIMEOUT,
                    "relabelings": [
                        _static_label("job", job),
                        _static_label("placement", where.name),
                        _static_label("cluster", where.cluster_name(spec.name)),
                    ],
                }
            ],
        },
    }


def dcgm_service_monitor(cluster: str | None = None) -> dict:
    """ServiceMonitor for the DCGM exporter chart's Service (namespace gpu-operator, label
    app.kubernetes.io/name=dcgm-exporter, port ``metrics``). ``honorLabels`` keeps the exporter's own
    ``namespace``/``pod``/``container`` labels (the workload the GPU is allocated to), which the waste
    alert and GPU dashboard rely on; only the four DCGM series inferstack uses are kept. ``cluster``
    adds a ``cluster`` label, as the engine PodMonitors do."""
    relabelings = [_static_label("cluster", cluster)] if cluster else []
    endpoint: dict = {
        "port": "metrics",
        "path": "/metrics",
        "interval": SCRAPE_INTERVAL,
        "scrapeTimeout": SCRAPE_TIMEOUT,
        "honorLabels": True,
        "metricRelabelings": [
            {
                "action": "keep",
                "sourceLabels": ["__name__"],
                "regex": "|".join(DCGM_METRICS),
            }
        ],
    }
    if relabelings:
        endpoint["relabelings"] = relabelings
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": {
            "name": DCGM_APP_LABEL,
            "namespace": contract.DCGM_NAMESPACE,
            "labels": {"app": DCGM_APP_LABEL, contract.LABEL_MANAGED_BY: contract.MANAGED_BY},
        },
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "dcgm-exporter"}},
            "namespaceSelector": {"matchNames": [contract.DCGM_NAMESPACE]},
            "endpoints": [endpoint],
        },
    }
