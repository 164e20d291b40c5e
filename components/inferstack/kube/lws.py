"""A multi-node replica as a LeaderWorkerSet group (leaderworkerset.x-k8s.io/v1, kubernetes-sigs/lws).

One group per replica: `size` pods, one per node (the plan's `fit.nodes`), the leader serving the API and
the workers joining it. The pod template is the single-node Deployment's, hardened the same way (non-root,
RuntimeDefault seccomp, read-only root, no capabilities, Guaranteed resources, /dev/shm in memory, the
wait-for-weights init container); the leader and the workers differ only in what they run
(`engines.multinode.pod_launch`) and in the workers having no API port or probes (they serve nothing: the
leader's probes stand for the group, and `RecreateGroupOnPodRestart` restarts the whole group when any pod
restarts, as the LWS vLLM and SGLang examples do). `startupPolicy: LeaderCreated` creates the workers with
the leader, so the leader's Ray head (or process group) finds them while it waits.

Gang scheduling is what LWS does: it creates a group's pods together and recreates them together; there is
no co-scheduler, so a group whose nodes cannot all be had waits with some pods pending (the node pool's
autoscaler adds whole replicas' worth of nodes). LWS labels each pod with its index in the group
(`leaderworkerset.sigs.k8s.io/worker-index`, "0" on the leader), which the Service selects so requests
reach leaders only. KEDA scales the LeaderWorkerSet through its scale subresource (`.spec.replicas`, groups;
the HPA selector is the leaders', LWS API docs), so the same ScaledObject targets it by kind.
"""

from __future__ import annotations

import copy

from inferstack.catalog import multinode
from inferstack.catalog.multinode import Fabric
from inferstack.engines import adapter_for
from inferstack.engines.multinode import pod_launch
from inferstack.kube import objects
from inferstack.kube.gpudirect import on_gpu_networks, serving_namespace
from inferstack.kube.leaders import leader_selector
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
LWS_KIND = "LeaderWorkerSet"
#: Why workers have no liveness or readiness probe (checkov CKV_K8S_8 and CKV_K8S_9, skipped on them).
WORKER_PROBE_SKIP = (
    "a worker serves no endpoint to probe (Ray worker or engine rank); the leader's probes stand for the group, "
    "and RecreateGroupOnPodRestart restarts every pod of it when any one fails"
)


def _role_template(template: dict, plan: Plan, leader: bool, fabric: Fabric | None) -> dict:
    """The Deployment's pod template, running the leader's or a worker's launch, requesting every interface
    of the node's fabric where a device plugin advertises them (EFA), on the node's GPU networks with the
    GPUDirect daemon where the fabric is GPUDirect-TCPX/TCPXO (`kube.gpudirect`)."""
    adapter = adapter_for(plan.spec.engine.name)
    launch = pod_launch(adapter, plan, leader, plan.cold_start.startup_probe_seconds)
    role = copy.deepcopy(template)
    container = role["spec"]["containers"][0]
    container["command"] = launch.command
    container["args"] = launch.args
    env = {e["name"]: e["value"] for e in container["env"]} | launch.env
    container["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    if fabric is not None and fabric.device_resource:
        for amounts in container["resources"].values():
            amounts[fabric.device_resource] = str(fabric.interfaces)
    if not leader:
        for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe", "lifecycle"):
            container.pop(key, None)
        role["metadata"]["annotations"] = {
            f"checkov.io/skip-worker{i}": f"{check}={WORKER_PROBE_SKIP}"
            for i, check in enumerate(("CKV_K8S_8", "CKV_K8S_9"), start=1)
        }
    return on_gpu_networks(role, fabric)


def leader_worker_set(plan: Plan, placement: PlacementPlan, deployment: dict) -> dict:
    """The LeaderWorkerSet standing for `deployment` (the single-node Deployment `objects.deployment` built):
    same name, labels, annotations and pod template; one group of `fit.nodes` pods per replica; rollouts
    as the plan decided (`Plan.rollouts`: maxSurge and maxUnavailable count groups)."""
    template = deployment["spec"]["template"]
    rollout = plan.rollouts[placement.name]
    fabric = multinode.fabric(placement.cloud, placement.gpu_node_type)
    return {
        "apiVersion": LWS_API_VERSION,
        "kind": LWS_KIND,
        "metadata": copy.deepcopy(deployment["metadata"]),
        "spec": {
            "replicas": placement.replicas_min,
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {
                    "maxSurge": rollout.max_surge,
                    "maxUnavailable": rollout.max_unavailable,
                },
            },
            "leaderWorkerTemplate": {
                "size": plan.fit.nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": _role_template(template, plan, True, fabric),
                "workerTemplate": _role_template(template, plan, False, fabric),
            },
        },
    }


def group_network_policy(plan: Plan, placement: PlacementPlan) -> dict:
    """Traffic inside a group on every port: Ray (GCS, object store, workers), NCCL's and Gloo's sockets
    and SGLang's process group pick ports at run time, so pods of the replica reach each other freely and
    nothing else gains anything (the serving policy still admits only the API port from outside)."""
    group = {"podSelector": {"matchLabels": objects.labels(plan, placement, "inference")}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"{plan.spec.name}-group",
            "namespace": plan.spec.namespace,
            "labels": objects.labels(plan, placement, "inference"),
        },
        "spec": {
            **group,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [group]}],
            "egress": [{"to": [group]}],
        },
    }


def grouped(plan: Plan, placement: PlacementPlan, built: list[dict]) -> list[dict]:
    """`built` (a placement's objects) with the serving Deployment replaced by its LeaderWorkerSet, the
    engine's Service selecting leaders only, the ScaledObject targeting the LeaderWorkerSet, and the group's
    own NetworkPolicy after the serving one, and the namespace admitting the GPUDirect daemon where the
    nodes' fabric has one (`kube.gpudirect`). With one replica the disruption budget keeps every pod of its
    group (`minAvailable` = nodes): evicting any one restarts the whole group. Single-node plans come back
    unchanged."""
    if plan.fit.nodes == 1:
        return built
    name, engine_service = plan.spec.name, objects.service_name(plan)
    fabric = multinode.fabric(placement.cloud, placement.gpu_node_type)
    out: list[dict] = []
    for obj in built:
        kind, obj_name = obj["kind"], obj["metadata"]["name"]
        if kind == "Namespace" and obj_name == plan.spec.namespace:
            obj = serving_namespace(obj, fabric)
        elif kind == "Deployment" and obj_name == name:
            obj = leader_worker_set(plan, placement, obj)
        elif kind == "Service" and obj_name == engine_service:
            obj = copy.deepcopy(obj)
            obj["spec"]["selector"] |= leader_selector(plan)
        elif kind == "PodDisruptionBudget" and obj_name == name and "minAvailable" in obj["spec"]:
            obj = copy.deepcopy(obj)
            obj["spec"]["minAvailable"] = plan.fit.nodes
        elif kind == "ScaledObject":
            obj = copy.deepcopy(obj)
            obj["spec"]["scaleTargetRef"] = {"apiVersion": LWS_API_VERSION, "kind": LWS_KIND, "name": name}
        out.append(obj)
        if kind == "NetworkPolicy" and obj_name == name:
            out.append(group_network_policy(plan, placement))
    return out
