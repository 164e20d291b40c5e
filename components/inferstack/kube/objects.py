"""Builders for the objects of one placement. Each returns a plain dict; nothing here talks to a cluster.

Hardening is built in rather than bolted on: non-root with a high UID, read-only root file system,
all capabilities dropped, RuntimeDefault seccomp, no service-account token, CPU and memory limits,
default-deny egress. The few checkov checks that cannot hold for a GPU inference server are skipped
per object with a written reason (see `CHECKOV_SKIPS`).
"""

from __future__ import annotations

import math
from importlib import resources

from inferstack import catalog, contract
from inferstack.contract import (
    COMPLETE_MARKER,
    GPU_RESOURCE,
    GPU_TOLERATION,
    MODELS_DIR,
    POOL_LABEL,
    SYSTEM_POOL,
    TMP_DIR,
    Provenance,
)
from inferstack.engines import EngineAdapter, adapter_for, cache_subpath, model_path
from inferstack.kube import endpoint as gateway
from inferstack.kube import router as routing
from inferstack.kube.pods import container_security, http_probe, pod_security, spread
from inferstack.plan import Plan, scheduling
from inferstack.plan.capacity import PlacementPlan
from inferstack.plan.planner import MAX_SCALE_DOWN_WINDOW_SECONDS
from inferstack.spec.values import is_pinned

PRESTOP_SLEEP_SECONDS = 15
PROBE_PERIOD_SECONDS = 10
#: Login name for the container's UID, which has no passwd entry in engine images: torch's
#: getpass.getuser() reads LOGNAME, USER, LNAME, USERNAME in that order and only then the passwd
#: database, where it raises (KeyError/OSError "No username set in the environment") for an unknown UID.
LOGIN_NAME = "inferstack"
#: The largest HPA scale-down stabilization window the API server accepts (see the planner's constant).
MAX_STABILIZATION_WINDOW_SECONDS = MAX_SCALE_DOWN_WINDOW_SECONDS
#: Where the prefetch container finds the fetcher script (the ConfigMap `fetcher_config_map` mounts it).
FETCHER_DIR = "/opt/inferstack"
FETCHER_SCRIPT = "fetch.py"

#: checkov checks that a GPU inference server cannot meet, with the reason a reviewer reads.
CHECKOV_SKIPS = {
    "CKV_K8S_15": "imagePullPolicy IfNotPresent: engine images are 10-30 GB and an image pinned by digest "
    "or release tag cannot change under the same reference, so re-pulling on every start only delays recovery",
}
UNPINNED_IMAGE_SKIP = (
    "CKV_K8S_43",
    "the spec does not require digest pinning (compliance.pin_images is false); the image is an engine "
    "release tag, and pinning is enforced wherever compliance asks for it",
)


def labels(plan: Plan, placement: PlacementPlan, component: str) -> dict[str, str]:
    return contract.labels(plan.spec.name, placement.name, component)


def _meta(plan: Plan, placement: PlacementPlan, name: str, component: str, annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": plan.spec.namespace, "labels": labels(plan, placement, component)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _skip_annotations(image_pinned: bool, *extra: tuple[str, str]) -> dict[str, str]:
    skips = list(CHECKOV_SKIPS.items()) + list(extra)
    if not image_pinned:
        skips.append(UNPINNED_IMAGE_SKIP)
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(skips, start=1)}


def namespace(plan: Plan, placement: PlacementPlan) -> dict:
    meta = {
        "name": plan.spec.name,
        "labels": {
            **labels(plan, placement, "namespace"),
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        },
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def service_account(plan: Plan, placement: PlacementPlan) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(plan, placement, contract.service_account(plan.spec.name), "inference"),
        "automountServiceAccountToken": False,
    }


def prefetch_service_account(plan: Plan, placement: PlacementPlan) -> dict:
    """The prefetch Job's own account: the only one the clouds bind to an identity that reads weights."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(plan, placement, contract.prefetch_service_account(plan.spec.name), "prefetch"),
        "automountServiceAccountToken": False,
    }


def fetcher_script() -> str:
    """The weights fetcher (standard library only) that the prefetch Job runs."""
    return resources.files("inferstack").joinpath("fetcher", FETCHER_SCRIPT).read_text()


def fetcher_config_map(plan: Plan, placement: PlacementPlan) -> dict:
    """The fetcher script as a ConfigMap, so the prefetch Job runs in a public Python image and nothing
    has to be built or pushed first."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(plan, placement, f"{plan.spec.name}-fetcher", "prefetch"),
        "data": {FETCHER_SCRIPT: fetcher_script()},
    }


def cache_claim_name(plan: Plan) -> str:
    """The claim serving pods mount: the spec's own for pvc:// sources, else the one inferstack creates."""
    model = plan.spec.model
    return model.location.split("/", 1)[0] if model.scheme == "pvc" else contract.cache_claim_name(plan.spec.name)


def cache_claim(plan: Plan, placement: PlacementPlan) -> dict:
    storage_class = plan.spec.cache.storage_class or catalog.cloud_profile(placement.cloud).storage_class
    spec = {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": f"{plan.cache_size_gib}Gi"}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(plan, placement, cache_claim_name(plan), "weight-cache"),
        "spec": spec,
    }


def prefetch_job(plan: Plan, placement: PlacementPlan) -> dict:
    """Downloads the pinned checkpoint into the cache once; re-runs resume and re-verify."""
    model = plan.spec.model
    dest = f"{MODELS_DIR}/{cache_subpath(plan)}"
    args = ["--source", model.source, "--dest", dest, "--marker", COMPLETE_MARKER]
    if model.revision:
        args += ["--revision", model.revision]
    for adapter in model.lora_adapters:
        args += ["--extra", f"{adapter.name}={adapter.source}"]
    name = f"{plan.spec.name}-prefetch"
    pod_labels = labels(plan, placement, "prefetch")
    container = {
        "name": "fetch",
        "image": plan.spec.cache.fetcher_image,
        "imagePullPolicy": "IfNotPresent",
        # -I: isolated mode (no user site, no environment-variable paths): only the standard library runs.
        "command": ["python", "-I", f"{FETCHER_DIR}/{FETCHER_SCRIPT}"],
        "args": args,
        "env": [
            {"name": "HOME", "value": TMP_DIR},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": contract.hub_token_secret(plan.spec.name),
                        "key": "token",
                        "optional": True,
                    }
                },
            },
        ],
        "resources": {
            "requests": {"cpu": scheduling.PREFETCH.cpu, "memory": scheduling.PREFETCH.memory},
            "limits": {
                "cpu": scheduling.PodSize(scheduling.PREFETCH_CPU_LIMIT_M, 0).cpu,
                "memory": scheduling.PREFETCH.memory,
            },
        },
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_DIR},
            {"name": "tmp", "mountPath": TMP_DIR},
            {"name": "fetcher", "mountPath": FETCHER_DIR, "readOnly": True},
        ],
    }
    # On clusters inferstack creates the Job runs on the system pool (why: scheduling.PREFETCH); it
    # selects it explicitly so it never waits for, or crowds, a GPU node. Existing clusters: any node.
    system = {POOL_LABEL: SYSTEM_POOL} if catalog.cloud_profile(placement.cloud).creates_clusters else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            plan,
            placement,
            name,
            "prefetch",
            _skip_annotations(
                is_pinned(plan.spec.cache.fetcher_image),
                (
                    "CKV_K8S_35",
                    "the optional hub token is read by the fetcher from the HF_TOKEN variable, the hub "
                    "clients' documented interface; the secret is namespaced and only this job reads it",
                ),
            ),
        ),
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": plan.cold_start.prefetch_deadline_seconds,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": contract.prefetch_service_account(plan.spec.name),
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    **({"nodeSelector": system} if system else {}),
                    "containers": [container],
                    "volumes": [
                        {"name": "models", "persistentVolumeClaim": {"claimName": cache_claim_name(plan)}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
                        {"name": "fetcher", "configMap": {"name": f"{plan.spec.name}-fetcher"}},
                    ],
                },
            },
        },
    }


def _node_placement(plan: Plan, placement: PlacementPlan) -> tuple[dict, list[dict]]:
    """Node selector and tolerations that land pods on this placement's GPU nodes."""
    tolerations = [dict(GPU_TOLERATION)]
    profile = catalog.cloud_profile(placement.cloud)
    if not profile.creates_clusters:
        return dict(sorted(plan.spec.placement(placement.name).cluster.gpu_node_labels.items())), tolerations
    node = placement.node
    selector = {}
    if node and node.node_type and profile.instance_type_label:
        selector[profile.instance_type_label] = node.node_type
    if node and node.accelerator and profile.accelerator_label:
        selector[profile.accelerator_label] = node.accelerator
    selector[contract.GPU_NODE_LABEL] = plan.fit.gpu
    return selector, tolerations


def _pod_resources(plan: Plan, placement: PlacementPlan) -> dict:
    """Guaranteed QoS: requests equal limits, the planned size (`PlacementPlan.serving_pod`): this
    replica's share of what its node type leaves after kube-reserved, eviction and DaemonSets."""
    size = placement.serving_pod or scheduling.fallback_serving_size(plan.fit.tp, plan.fit.checkpoint_bytes)
    amounts = {"cpu": size.cpu, "memory": size.memory, GPU_RESOURCE: str(plan.fit.gpus_per_node)}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def termination_grace_seconds(plan: Plan, adapter: EngineAdapter) -> int:
    """preStop sleep (endpoints drain) + the slowest normal request (SLO e2e p95) + engine shutdown."""
    return PRESTOP_SLEEP_SECONDS + math.ceil(plan.spec.slo.e2e_p95_ms / 1000) + adapter.shutdown_seconds


def provenance(plan: Plan, placement: PlacementPlan) -> Provenance:
    """What is served, from where, at which revision, and what it may cost: the record on the
    Deployment that reviewers and compliance rules read."""
    spec, node = plan.spec, placement.node
    existing = plan.spec.placement(placement.name).cluster.kind == "existing"
    return Provenance(
        engine=spec.engine.name,
        engine_version=spec.engine.version,
        quantization=plan.quantization,
        model_source=spec.model.source,
        model_revision=spec.model.revision,
        gpu=plan.fit.gpu,
        gpus_per_replica=str(plan.fit.gpus),
        replicas_max=str(placement.replicas_max),
        capacity="existing-cluster" if existing else "node-pool",
        gpu_hour_price=f"{node.price_per_node_hour / node.gpus_per_node:.4f}"
        if existing and node and node.price_per_node_hour
        else None,
    )


#: The wait-for-weights loop: reads the marker path from the environment, never from its own text.
WAIT_SCRIPT = 'until [ -f "$MARKER" ]; do echo "waiting for $MARKER"; sleep 10; done'


def deployment(plan: Plan, placement: PlacementPlan) -> dict:
    spec = plan.spec
    adapter = adapter_for(spec.engine.name)
    pod_labels = labels(plan, placement, "inference")
    selector, tolerations = _node_placement(plan, placement)
    startup_failures = math.ceil(plan.cold_start.startup_probe_seconds / PROBE_PERIOD_SECONDS)
    env = {
        **adapter.env(plan),
        "HOME": TMP_DIR,
        "XDG_CACHE_HOME": f"{TMP_DIR}/.cache",
        "USER": LOGIN_NAME,
        "LOGNAME": LOGIN_NAME,
    }
    container = {
        "name": spec.engine.name,
        "image": adapter.image(plan),
        "imagePullPolicy": "IfNotPresent",
        "command": list(adapter.command),
        "args": adapter.args(plan),
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "ports": [{"name": "http", "containerPort": adapter.port, "protocol": "TCP"}],
        "resources": _pod_resources(plan, placement),
        "startupProbe": http_probe(adapter.probes.startup, startup_failures, period=PROBE_PERIOD_SECONDS),
        "readinessProbe": http_probe(adapter.probes.readiness, 3, period=PROBE_PERIOD_SECONDS),
        "livenessProbe": http_probe(adapter.probes.liveness, 3, period=20),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SLEEP_SECONDS)]}}},
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_DIR, "readOnly": True},
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": TMP_DIR},
        ],
    }
    init = []
    if spec.model.scheme != "pvc":
        marker = f"{model_path(plan)}/{COMPLETE_MARKER}"
        init.append(
            {
                "name": "wait-for-weights",
                "image": adapter.image(plan),
                "imagePullPolicy": "IfNotPresent",
                # A constant script; the path arrives as data in $MARKER and is always double-quoted, so
                # no value from the spec is ever parsed as shell.
                "command": ["sh", "-c", WAIT_SCRIPT],
                "env": [{"name": "MARKER", "value": marker}],
                "resources": {
                    "requests": {"cpu": scheduling.WAIT_FOR_WEIGHTS.cpu, "memory": scheduling.WAIT_FOR_WEIGHTS.memory},
                    "limits": {"cpu": scheduling.WAIT_FOR_WEIGHTS.cpu, "memory": scheduling.WAIT_FOR_WEIGHTS.memory},
                },
                "securityContext": container_security(),
                "volumeMounts": [{"name": "models", "mountPath": MODELS_DIR, "readOnly": True}],
            }
        )
    pod_spec = {
        "serviceAccountName": contract.service_account(spec.name),
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "terminationGracePeriodSeconds": termination_grace_seconds(plan, adapter),
        "nodeSelector": selector,
        "tolerations": tolerations,
        "topologySpreadConstraints": spread(pod_labels),
        **({"initContainers": init} if init else {}),
        "containers": [container],
        "volumes": [
            {"name": "models", "persistentVolumeClaim": {"claimName": cache_claim_name(plan), "readOnly": True}},
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{min(16, 2 * plan.fit.tp)}Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            plan,
            placement,
            spec.name,
            "inference",
            {**provenance(plan, placement).annotations(), **_skip_annotations(spec.engine.pinned)},
        ),
        "spec": {
            "replicas": placement.replicas_min,
            "selector": {"matchLabels": pod_labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": _rolling_update(plan, placement)},
            "progressDeadlineSeconds": plan.cold_start.startup_probe_seconds + 600,
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }


def _rolling_update(plan: Plan, placement: PlacementPlan) -> dict:
    """Surge one replica where the pool has room for it, else replace in place (`plan.rollout`)."""
    rollout = plan.rollouts.get(placement.name)
    if rollout is None:
        return {"maxSurge": 0, "maxUnavailable": 1}
    return {"maxSurge": rollout.max_surge, "maxUnavailable": rollout.max_unavailable}


def service_name(plan: Plan) -> str:
    """The serving pods' Service: the model's name, or `<name>-engine` when a router answers on the
    model's name (then this one stays for direct calls to the engine)."""
    return f"{plan.spec.name}-engine" if routing.router(plan) else plan.spec.name


def service(plan: Plan, placement: PlacementPlan) -> dict:
    adapter = adapter_for(plan.spec.engine.name)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(plan, placement, service_name(plan), "inference"),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(plan, placement, "inference"),
            "ports": [{"name": "http", "port": adapter.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(plan: Plan, placement: PlacementPlan) -> dict:
    """Evictions (node drains, upgrades, autoscaler scale-down) never take the last serving replica.

    Two or more replicas at min: `maxUnavailable: 1`, so a drain proceeds one replica at a time and the
    others keep serving. One replica: `maxUnavailable: 1` would let every drain evict the only replica
    (an outage of a full cold start), so `minAvailable: 1` instead: the eviction API refuses, and the
    drain waits until the autoscaler or an operator adds a replica, or the platform's own limit forces it
    (GKE upgrades respect a PDB for up to an hour; EKS managed node group updates fail after 15 minutes
    unless forced) - a visible, chosen outage rather than a silent one. `unhealthyPodEvictionPolicy:
    AlwaysAllow` lets a pod that is not Ready (crash-looping, still loading) be evicted anyway, so a
    broken replica never blocks node maintenance (Kubernetes docs, "Unhealthy Pod Eviction Policy")."""
    return _budget(plan, placement, plan.spec.name, "inference", placement.replicas_min)


def router_disruption_budget(plan: Plan, placement: PlacementPlan) -> dict:
    """The same rule for the router pods, at `routing.replicas`."""
    return _budget(plan, placement, routing.name(plan), routing.COMPONENT, plan.spec.routing.replicas)


def _budget(plan: Plan, placement: PlacementPlan, name: str, component: str, replicas: int) -> dict:
    budget = {"maxUnavailable": 1} if replicas > 1 else {"minAvailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(plan, placement, name, component),
        "spec": {
            **budget,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": labels(plan, placement, component)},
        },
    }


_DNS_EGRESS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _identity_egress(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """Egress to the node-local credential endpoint, only when a weight source is in cloud storage."""
    model = plan.spec.model
    if not any(s.split("://", 1)[0] in ("s3", "gs") for s in model.weight_sources):
        return []
    endpoint = catalog.cloud_profile(placement.cloud).identity_endpoint
    if endpoint is None:
        return []
    cidr, port = endpoint
    return [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}]


def _namespace_peer(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policies(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """Serving pods: inbound on the API port from this namespace, the ingress and monitoring
    namespaces, or, behind a router, from the router pods and the monitoring namespace only; outbound
    DNS only (weights are local). Router pods: see `router.network_policy`. Prefetch pods: outbound DNS
    and HTTPS, and for s3:// and gs:// sources the cloud's pod-identity endpoint (its catalog profile)
    on its one port."""
    adapter = adapter_for(plan.spec.engine.name)
    monitoring = _namespace_peer(contract.MONITORING_NAMESPACE)
    clients = [{"podSelector": {}}, _namespace_peer(contract.INGRESS_NAMESPACE), monitoring]
    front = routing.router(plan)
    sources = (
        [{"podSelector": {"matchLabels": labels(plan, placement, routing.COMPONENT)}}, monitoring] if front else clients
    )
    serving = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(plan, placement, plan.spec.name, "inference"),
        "spec": {
            "podSelector": {"matchLabels": labels(plan, placement, "inference")},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": adapter.port}]}],
            "egress": [_DNS_EGRESS],
        },
    }
    policies = [serving]
    if front:
        policies.append(routing.network_policy(plan, placement, front, clients, _DNS_EGRESS))
    if plan.spec.model.scheme != "pvc":
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": _meta(plan, placement, f"{plan.spec.name}-prefetch", "prefetch"),
                "spec": {
                    "podSelector": {"matchLabels": labels(plan, placement, "prefetch")},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [],
                    "egress": [
                        _DNS_EGRESS,
                        {"ports": [{"protocol": "TCP", "port": 443}]},
                        *_identity_egress(plan, placement),
                    ],
                },
            }
        )
    return policies


def scaled_object(plan: Plan, placement: PlacementPlan) -> dict | None:
    """KEDA ScaledObject on the engine's signal, or None when there is nothing to scale. A placement
    that scales from zero (a spec rule allows it only behind a router) also triggers on the router's
    request metric: `activationThreshold` 0 wakes the first replica when requests arrive."""
    scaling = plan.spec.autoscaling
    if not scaling.enabled or placement.replicas_max <= placement.replicas_min:
        return None
    adapter = adapter_for(plan.spec.engine.name)
    # cooldownPeriod only governs scaling to zero ("The period to wait after the last trigger reported
    # active before scaling the resource back to 0", KEDA ScaledObject spec): it is the scale-down delay
    # when min is 0. Between 1 and max the scale-down delay is the HPA's scale-down stabilization
    # window, which KEDA passes through advanced.horizontalPodAutoscalerConfig.behavior (same page).
    window = min(scaling.scale_down_delay_seconds, MAX_STABILIZATION_WINDOW_SECONDS)
    server = plan.spec.placement(placement.name).cluster.prometheus_url or contract.PROMETHEUS_URL
    # The query is summed over pods for counts (queue, running requests) and averaged for the KV-cache
    # fraction. HPA external metrics: AverageValue divides the value by the replica count before
    # comparing it with the target; Value compares it as is, desiredReplicas = ceil(currentReplicas x
    # currentMetricValue / desiredMetricValue) (Kubernetes HPA docs, algorithm details). An average is
    # already per replica, so it takes Value; a sum takes AverageValue (KEDA triggers[].metricType).
    metric_type = "Value" if scaling.signal == "kv_cache_usage" else "AverageValue"
    triggers = [
        {
            "type": "prometheus",
            "metricType": metric_type,
            "metadata": {
                "serverAddress": server,
                "query": adapter.scaling_query(scaling.signal, plan.spec.served_name),
                "threshold": f"{scaling.target:g}",
            },
        }
    ]
    from_zero = {}
    front = routing.router(plan)
    if placement.replicas_min == 0 and front is not None:
        from_zero = {"cooldownPeriod": scaling.scale_down_delay_seconds}
        # The demand query is capped at 1 with a target of 1, so it asks for one replica at most and the
        # engine's signal scales beyond it; any request rate above 0 activates (scales from zero).
        triggers.insert(
            0,
            {
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": server,
                    "query": front.demand_query(plan.spec.served_name, placement.name),
                    "threshold": "1",
                    "activationThreshold": "0",
                },
            },
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": _meta(plan, placement, plan.spec.name, "inference"),
        "spec": {
            "scaleTargetRef": {"name": plan.spec.name},
            "minReplicaCount": placement.replicas_min,
            "maxReplicaCount": placement.replicas_max,
            "pollingInterval": 15,
            **from_zero,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": window}},
                },
            },
            "triggers": triggers,
        },
    }


def router_objects(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """The router's account, Role and binding, Deployment, and the model's Service that fronts it; none
    without a router. They come before the weight cache and the engine's objects: the router waits for
    no prefetch, and the model's URL is the first Service's."""
    front = routing.router(plan)
    if front is None:
        return []
    skips = _skip_annotations(routing.image_pinned(plan, front), routing.ROUTER_TOKEN_SKIP)
    return [
        routing.service_account(plan, placement),
        routing.role(plan, placement),
        routing.role_binding(plan, placement),
        routing.deployment(plan, placement, front, skips),
        routing.service(plan, placement),
    ]


def endpoint_objects(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """The model's own endpoint gateway (`kube.endpoint.objects`); none without `endpoint` in the spec."""
    site = gateway.model_site(plan, placement)
    if site is None:
        return []
    return gateway_objects(site)


def gateway_objects(site: gateway.Site) -> list[dict]:
    """A gateway's objects with the checkov annotations and DNS egress every inferstack pod gets."""
    return gateway.objects(site, _skip_annotations(gateway.image_pinned(site.endpoint)), _DNS_EGRESS)


def placement_objects(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """Every object for one placement, dependencies first."""
    # A team's namespace (and its quota) belongs to the platform; a model alone owns its namespace.
    objects = [] if plan.spec.team else [namespace(plan, placement)]
    objects.append(service_account(plan, placement))
    objects += router_objects(plan, placement)
    if plan.spec.model.scheme != "pvc":
        objects += [
            prefetch_service_account(plan, placement),
            fetcher_config_map(plan, placement),
            cache_claim(plan, placement),
            prefetch_job(plan, placement),
        ]
    objects += [deployment(plan, placement), service(plan, placement), disruption_budget(plan, placement)]
    if routing.router(plan):
        objects.append(router_disruption_budget(plan, placement))
    objects += network_policies(plan, placement)
    if (scaler := scaled_object(plan, placement)) is not None:
        objects.append(scaler)
    objects += endpoint_objects(plan, placement)
    return objects
