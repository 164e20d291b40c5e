"""Cluster add-ons as Helm releases with pinned chart versions, each optional.

| add-on | why | skipped when |
|---|---|---|
| NVIDIA device plugin | advertises `nvidia.com/gpu` so pods can request GPUs | the platform ships it (GKE) |
| DCGM exporter | GPU utilisation, memory and power for dashboards and the GPU-waste alert | `dcgm_exporter=False` |
| KEDA | scales serving Deployments on engine metrics (queue depth, KV-cache use) | `keda=False` |
| kube-prometheus-stack | Prometheus Operator, Prometheus, Alertmanager, Grafana: runs the PodMonitors, rules and dashboards inferstack ships | `prometheus_stack=False`; existing clusters |
| cluster autoscaler | EKS only: grows and shrinks the GPU node group with pending serving pods (GKE autoscales natively) | other clouds |
| LeaderWorkerSet controller | runs multi-node replicas (`kube.lws`) | no GPU pool serves replicas that span nodes |
| EFA device plugin | EKS only: advertises `vpc.amazonaws.com/efa` on EFA nodes | no GPU pool has EFA |

Chart versions are pinned here, in one table (bump them deliberately, with `helm search repo
<chart> --versions`). GPU DaemonSets are confined to inferstack's GPU nodes by the
`contract.GPU_NODE_LABEL` label and tolerate the GPU taint (`contract.GPU_TOLERATION`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from inferstack.contract import DCGM_NAMESPACE, GPU_NODE_LABEL, GPU_TOLERATION, MONITORING_NAMESPACE


@dataclass(frozen=True)
class AddonSettings:
    """Which cluster add-ons to install. Each is optional; clouds that ship one skip it."""

    device_plugin: bool = True
    dcgm_exporter: bool = True
    keda: bool = True
    prometheus_stack: bool = True
    #: The LeaderWorkerSet controller, where a GPU pool serves replicas that span nodes.
    lws: bool = False

    def installed(self) -> frozenset[str]:
        """The names of the add-ons these settings install."""
        return frozenset(name for name, on in dataclasses.asdict(self).items() if on)


@dataclass(frozen=True)
class HelmChart:
    repo: str
    chart: str
    version: str
    namespace: str


#: Pinned charts. The DCGM exporter lives in `contract.DCGM_NAMESPACE`, where inferstack.monitoring's
#: ServiceMonitor looks for it.
CHARTS: dict[str, HelmChart] = {
    "nvidia-device-plugin": HelmChart(
        "https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.17.1", "kube-system"
    ),
    "dcgm-exporter": HelmChart(
        "https://nvidia.github.io/dcgm-exporter/helm-charts", "dcgm-exporter", "4.1.3", DCGM_NAMESPACE
    ),
    "keda": HelmChart("https://kedacore.github.io/charts", "keda", "2.17.0", "keda"),
    "kube-prometheus-stack": HelmChart(
        "https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", "79.12.0", MONITORING_NAMESPACE
    ),
    "cluster-autoscaler": HelmChart(
        "https://kubernetes.github.io/autoscaler", "cluster-autoscaler", "9.46.6", "kube-system"
    ),
    # An OCI chart (no repository): `helm install lws oci://registry.k8s.io/lws/charts/lws --version=0.9.0
    # --namespace lws-system` (LWS docs, "Install by Helm"); its CRD is the one tests/unit/kube vendors.
    "lws": HelmChart("", "oci://registry.k8s.io/lws/charts/lws", "0.9.0", "lws-system"),
    # `helm install efa eks/aws-efa-k8s-device-plugin` from https://aws.github.io/eks-charts (the chart's
    # README); v0.5.7 as pinned by aws-ia/terraform-aws-eks-blueprints patterns/targeted-odcr/helm.tf.
    "aws-efa-k8s-device-plugin": HelmChart(
        "https://aws.github.io/eks-charts", "aws-efa-k8s-device-plugin", "v0.5.7", "kube-system"
    ),
}
#: The LWS controller's image at the chart's release (the chart's values default to the `main` tag).
LWS_IMAGE_TAG = "v0.9.0"

_GPU_TOLERATIONS = [GPU_TOLERATION]


#: kube-prometheus-stack scrape targets that managed control planes do not expose.
MANAGED_CONTROL_PLANE_COMPONENTS = ("kubeControllerManager", "kubeScheduler", "kubeEtcd")
#: How long Prometheus keeps samples (the chart's default is 10d); SLO burn-rate windows reach 30d.
PROMETHEUS_RETENTION = "30d"


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        merged[key] = _merged(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return merged


def _gpu_node_affinity() -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": GPU_NODE_LABEL, "operator": "Exists"}]},
                ]
            }
        }
    }


def helm_release(name: str, key: str, values: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    """One pinned chart from `CHARTS`; atomic, so a failed install rolls back instead of half-applying."""
    chart = CHARTS[key]
    return k8s.helm.v3.Release(
        name,
        name=key,
        chart=chart.chart,
        version=chart.version,
        namespace=chart.namespace,
        create_namespace=chart.namespace != "kube-system",
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        opts=opts,
    )


class ClusterAddons(pulumi.ComponentResource):
    """The Helm add-ons of one cluster. Usable alone: pass a Kubernetes provider in `opts.providers`."""

    releases: dict[str, k8s.helm.v3.Release]

    def __init__(
        self,
        name: str,
        settings: AddonSettings = AddonSettings(),
        opts: pulumi.ResourceOptions | None = None,
        dcgm_values: dict | None = None,
        prometheus_values: dict | None = None,
    ) -> None:
        super().__init__("inferstack:kubernetes:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.releases = {}
        if settings.device_plugin:
            self.releases["nvidia-device-plugin"] = helm_release(
                f"{name}-nvidia-device-plugin",
                "nvidia-device-plugin",
                {
                    "affinity": _gpu_node_affinity(),
                    "tolerations": _GPU_TOLERATIONS,
                    "priorityClassName": "system-node-critical",
                },
                child,
            )
        if settings.dcgm_exporter:
            self.releases["dcgm-exporter"] = helm_release(
                f"{name}-dcgm-exporter",
                "dcgm-exporter",
                {
                    "fullnameOverride": "nvidia-dcgm-exporter",
                    "podLabels": {"app": "nvidia-dcgm-exporter"},
                    "affinity": _gpu_node_affinity(),
                    "tolerations": _GPU_TOLERATIONS,
                    # inferstack.monitoring ships its own ServiceMonitor (and the CRD may not exist yet).
                    "serviceMonitor": {"enabled": False},
                    "kubernetes": {"enablePodLabels": False},
                    **(dcgm_values or {}),
                },
                child,
            )
        if settings.keda:
            self.releases["keda"] = helm_release(
                f"{name}-keda",
                "keda",
                {
                    "podSecurityContext": {"operator": {"runAsNonRoot": True}, "metricServer": {"runAsNonRoot": True}},
                },
                child,
            )
        if settings.prometheus_stack:
            # The Prometheus Operator, Prometheus (service `prometheus-operated`, which KEDA queries),
            # Alertmanager and Grafana with its dashboard sidecar. Selectors are opened so the
            # PodMonitors, ServiceMonitors and PrometheusRules inferstack ships are all picked up.
            self.releases["kube-prometheus-stack"] = helm_release(
                f"{name}-kube-prometheus-stack",
                "kube-prometheus-stack",
                _merged(
                    {
                        "prometheus": {
                            "prometheusSpec": {
                                "podMonitorSelectorNilUsesHelmValues": False,
                                "serviceMonitorSelectorNilUsesHelmValues": False,
                                "ruleSelectorNilUsesHelmValues": False,
                                "retention": PROMETHEUS_RETENTION,
                            }
                        },
                        "grafana": {
                            "sidecar": {
                                "dashboards": {"enabled": True, "label": "grafana_dashboard", "searchNamespace": "ALL"}
                            }
                        },
                        # Managed control planes (EKS, GKE) expose no controller-manager, scheduler or
                        # etcd endpoints to scrape: their targets would stay down and fire TargetDown.
                        **{component: {"enabled": False} for component in MANAGED_CONTROL_PLANE_COMPONENTS},
                    },
                    prometheus_values or {},
                ),
                child,
            )
        if settings.lws:
            self.releases["lws"] = helm_release(
                f"{name}-lws",
                "lws",
                {"image": {"manager": {"tag": LWS_IMAGE_TAG, "pullPolicy": "IfNotPresent"}}},
                child,
            )
        self.register_outputs({"releases": {k: r.status for k, r in self.releases.items()}})
