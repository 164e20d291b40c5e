"""The engine's own router in front of one placement's replicas: plain dicts, like `kube.objects`.

One Deployment per model per placement runs the router the engine ships (catalog/data/routers.yaml:
vllm-router for vLLM, sglang-router for SGLang). It discovers the serving pods by their labels through
the Kubernetes API (a Role that may only get, list and watch pods in its own namespace) and routes each
request by the spec's policy: cache_aware sends requests that share a prefix to the replica that
already holds it. The Service clients use (named after the model) selects the router pods; the engine
pods keep their own Service, `<name>-engine`, for direct calls and debugging, while Prometheus scrapes
pods, not Services.

Engines without a router (TGI, TensorRT-LLM) get none of this: their model Service selects the serving
pods directly (kube-proxy), and the plan report says so.
"""

from __future__ import annotations

from inferstack import contract
from inferstack.catalog import routers
from inferstack.catalog.routers import RouterSpec, router_for
from inferstack.engines import adapter_for
from inferstack.kube.leaders import leader_selector
from inferstack.kube.pods import container_security, http_probe, pod_security, spread
from inferstack.plan import Plan, scheduling
from inferstack.plan.capacity import PlacementPlan
from inferstack.spec.values import is_pinned

COMPONENT = "router"
#: The router is a Rust process whose memory is its prefix trees (vllm-router --max-tree-size: 2^25
#: characters per worker by default); one core and 2 GiB per pod is inferstack's sizing, not a
#: measured figure.
ROUTER_POD = scheduling.PodSize(cpu_m=1000, memory_mib=2048)
#: Active health checks of each replica: every 10 s (the routers default to 60 s), unhealthy after 3
#: failures of at most 5 s each, so a replica that stops answering leaves the rotation within
#: `notice_seconds()`; until then the router's retries (5 by default) send its requests elsewhere.
HEALTH_CHECK_INTERVAL_SECONDS = 10
HEALTH_FAILURE_THRESHOLD = 3
HEALTH_CHECK_TIMEOUT_SECONDS = 5


def notice_seconds() -> int:
    """The longest a dead replica stays in the router's rotation: every check up to the threshold
    times out."""
    return HEALTH_FAILURE_THRESHOLD * (HEALTH_CHECK_INTERVAL_SECONDS + HEALTH_CHECK_TIMEOUT_SECONDS)


#: Ports of the Kubernetes API server as pods reach it: the `kubernetes` Service's 443, and the
#: endpoint port it forwards to (6443 on kubeadm-style control planes, 443 on EKS and GKE).
API_SERVER_PORTS = (443, 6443)
#: What checkov cannot see about the router pod, with the reason a reviewer reads.
ROUTER_TOKEN_SKIP = (
    "CKV_K8S_38",
    "the router discovers the serving pods through the Kubernetes API (--service-discovery), so it "
    "needs its service-account token; its Role allows only get, list and watch on pods in this namespace",
)


def router(plan: Plan) -> RouterSpec | None:
    """The router that fronts this deployment's replicas, or None (routing off, or the engine has none)."""
    return router_for(plan.spec.engine.name, plan.spec.routing.enabled)


def name(plan: Plan) -> str:
    return f"{plan.spec.name}-router"


def wake_up_seconds(plan: Plan, placement: PlacementPlan) -> int:
    """`catalog.routers.wake_up_seconds` of this placement."""
    return routers.wake_up_seconds(plan.cold_start, placement)


def request_timeout_seconds(plan: Plan, placement: PlacementPlan, spec: RouterSpec) -> int:
    """The router's request timeout: the wake-up time plus the slowest normal request (SLO e2e p95)."""
    return spec.request_timeout_seconds(wake_up_seconds(plan, placement), plan.spec.slo.e2e_p95_ms)


def hold_retries(plan: Plan, placement: PlacementPlan, spec: RouterSpec) -> routers.RetryPolicy | None:
    """The retries that hold a request while this placement wakes from zero replicas
    (`catalog.routers.hold_retries` of its wake-up time), or None: it keeps a replica, or the router
    does not hold requests. With pod discovery a woken pod joins the router once it is ready, which the
    wake-up time (the startup probe's budget) already covers."""
    if placement.replicas_min > 0:
        return None
    return spec.hold(wake_up_seconds(plan, placement))


def _retry_args(spec: RouterSpec, retry: routers.RetryPolicy | None) -> list[str]:
    """The retry flags for `retry`, or none (the router's defaults)."""
    if retry is None:
        return []
    flags = spec.flags
    return [
        flags["retry_max_retries"],
        str(retry.max_retries),
        flags["retry_initial_backoff_ms"],
        str(retry.initial_backoff_ms),
        flags["retry_max_backoff_ms"],
        str(retry.max_backoff_ms),
        flags["retry_backoff_multiplier"],
        f"{retry.backoff_multiplier:g}",
        flags["retry_jitter_factor"],
        f"{retry.jitter_factor:g}",
    ]


def _meta(plan: Plan, placement: PlacementPlan, object_name: str, annotations: dict | None = None) -> dict:
    meta = {
        "name": object_name,
        "namespace": plan.spec.namespace,
        "labels": contract.labels(plan.spec.name, placement.name, COMPONENT),
    }
    if annotations:
        meta["annotations"] = annotations
    return meta


def pod_labels(plan: Plan, placement: PlacementPlan) -> dict[str, str]:
    return contract.labels(plan.spec.name, placement.name, COMPONENT)


def args(plan: Plan, placement: PlacementPlan, spec: RouterSpec) -> list[str]:
    """Pod discovery by the serving pods' labels in this namespace, the policy, the ports, the request
    timeout, the health checks, and on a placement that scales from zero the retries that hold requests
    while it wakes (`hold_retries`); every flag name comes from the router's catalog row."""
    flags = spec.flags
    serving = contract.labels(plan.spec.name, placement.name, "inference") | leader_selector(plan)
    return [
        flags["host"],
        "0.0.0.0",
        flags["port"],
        str(spec.port),
        flags["policy"],
        spec.policy(plan.spec.routing.policy),
        flags["discovery"],
        flags["selector"],
        *(f"{key}={value}" for key, value in serving.items()),
        flags["discovery_port"],
        str(adapter_for(plan.spec.engine.name).port),
        flags["discovery_namespace"],
        plan.spec.namespace,
        flags["metrics_host"],
        "0.0.0.0",
        flags["metrics_port"],
        str(spec.metrics_port),
        flags["request_timeout"],
        str(request_timeout_seconds(plan, placement, spec)),
        flags["health_interval"],
        str(HEALTH_CHECK_INTERVAL_SECONDS),
        flags["health_failures"],
        str(HEALTH_FAILURE_THRESHOLD),
        flags["health_timeout"],
        str(HEALTH_CHECK_TIMEOUT_SECONDS),
        *_retry_args(spec, hold_retries(plan, placement, spec)),
    ]


def image(plan: Plan, spec: RouterSpec) -> str:
    """The router's published image, or the engine's own image when the router ships inside it."""
    return spec.image or adapter_for(plan.spec.engine.name).image(plan)


def service_account(plan: Plan, placement: PlacementPlan) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(plan, placement, name(plan)),
        "automountServiceAccountToken": False,
    }


def role(plan: Plan, placement: PlacementPlan) -> dict:
    """Read-only access to pods in this namespace: what pod discovery watches, and nothing else."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(plan, placement, name(plan)),
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    }


def role_binding(plan: Plan, placement: PlacementPlan) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(plan, placement, name(plan)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name(plan)},
        "subjects": [{"kind": "ServiceAccount", "name": name(plan), "namespace": plan.spec.namespace}],
    }


def deployment(plan: Plan, placement: PlacementPlan, spec: RouterSpec, skips: dict) -> dict:
    """The router pods, hardened like every other; `skips` are the checkov annotations (`kube.objects`)."""
    labels = pod_labels(plan, placement)
    size = {"cpu": ROUTER_POD.cpu, "memory": ROUTER_POD.memory}
    container = {
        "name": COMPONENT,
        "image": image(plan, spec),
        "imagePullPolicy": "IfNotPresent",
        "command": list(spec.command),
        "args": args(plan, placement, spec),
        "ports": [
            {"name": "http", "containerPort": spec.port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": spec.metrics_port, "protocol": "TCP"},
        ],
        "resources": {"requests": dict(size), "limits": dict(size)},
        # Liveness on the process; readiness too, not on /readiness (which fails while no worker is
        # healthy): a router with every replica down or scaled to zero must still take requests, so that
        # it counts them for the autoscaler and answers clients instead of refusing connections.
        "livenessProbe": http_probe(spec.liveness_path, 3),
        "readinessProbe": http_probe(spec.liveness_path, 2),
        "securityContext": container_security(),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(plan, placement, name(plan), skips),
        "spec": {
            "replicas": plan.spec.routing.replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name(plan),
                    "automountServiceAccountToken": True,
                    "securityContext": pod_security(),
                    "topologySpreadConstraints": spread(labels),
                    "containers": [container],
                },
            },
        },
    }


def service(plan: Plan, placement: PlacementPlan) -> dict:
    """What clients call: the model's name and the engine's port, answered by the router pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(plan, placement, plan.spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": pod_labels(plan, placement),
            "ports": [
                {
                    "name": "http",
                    "port": adapter_for(plan.spec.engine.name).port,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }


def network_policy(plan: Plan, placement: PlacementPlan, spec: RouterSpec, clients: list[dict], dns: dict) -> dict:
    """Router pods: the API port from `clients` (this namespace, ingress, monitoring), the metrics port
    from monitoring; out to DNS (`dns`), the serving pods' port, and the API server's ports."""
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": contract.MONITORING_NAMESPACE}}}
    serving = contract.labels(plan.spec.name, placement.name, "inference")
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(plan, placement, name(plan)),
        "spec": {
            "podSelector": {"matchLabels": pod_labels(plan, placement)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": clients, "ports": [{"protocol": "TCP", "port": spec.port}]},
                {"from": [monitoring], "ports": [{"protocol": "TCP", "port": spec.metrics_port}]},
            ],
            "egress": [
                dns,
                {
                    "to": [{"podSelector": {"matchLabels": serving}}],
                    "ports": [{"protocol": "TCP", "port": adapter_for(plan.spec.engine.name).port}],
                },
                # The API server's address is the cluster's, not known here: these ports to any address.
                {"ports": [{"protocol": "TCP", "port": port} for port in API_SERVER_PORTS]},
            ],
        },
    }


def image_pinned(plan: Plan, spec: RouterSpec) -> bool:
    return is_pinned(image(plan, spec))
