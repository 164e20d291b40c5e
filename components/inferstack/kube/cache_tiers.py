"""The objects of the cache tiers beyond the shared volume (`plan.coldstart`): `tiered` turns the shared
volume's objects for a placement into the chosen tier's.

node_local: the shared volume is copied once per node onto the node's NVMe and the engine reads the copy.
- A directory per model on the NVMe (`node_cache_dir`), the same path on every GPU node of the placement.
  A `local` PersistentVolume names it, with node affinity to the placement's GPU nodes, so pods in the
  model's `restricted` namespace reach it through a claim: Pod Security forbids hostPath volumes there.
- The directory has to exist before the volume mounts, and only a hostPath volume of type
  DirectoryOrCreate makes the kubelet create it. The owner DaemonSet does that and nothing else, in its
  own namespace at the `privileged` Pod Security level (the only level that admits hostPath); its pod is
  otherwise as hardened as every other (non-root, read-only root file system, no capabilities, the
  hostPath mounted read-only), and the fill pods' fsGroup hands the directory to the serving UID.
- The fill DaemonSet copies the shared volume's checkpoint onto the node with the weights fetcher
  (`fetch.py --copy-from`): every file hashed against the prefetch's marker, the same marker written last.
  Serving pods mount the node's copy at the same path the shared volume had and wait for that marker.

streaming: no cache volume and no prefetch; the engine streams the weights from the s3:// or gs:// source
(the adapter's load format) under the account the clouds bind to the source's reader identity, with egress
to the object store (HTTPS) and to the node's credential endpoint.
"""

from __future__ import annotations

from inferstack import catalog, contract
from inferstack.contract import COMPLETE_MARKER, MODELS_DIR, TMP_DIR
from inferstack.engines import cache_subpath
from inferstack.kube import objects as base
from inferstack.kube.pods import container_security, pod_security
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan
from inferstack.spec.values import is_pinned

NODE_CACHE = "node-cache"
#: Where the fill pod mounts the node's copy.
NODE_CACHE_DIR = "/node-cache"
#: The hostPath volume the owner pod mounts (read-only: only the kubelet's DirectoryOrCreate writes).
OWNER_MOUNT = "/owned"
#: A container that holds its DaemonSet slot once its init container is done.
HOLD_COMMAND = ("python", "-I", "-c", "import time\nwhile True:\n    time.sleep(86400)")
HOLD_SIZE = {"cpu": "10m", "memory": "32Mi"}
HOSTPATH_REASON = (
    "the only hostPath in inferstack: the kubelet creates this model's directory on the node's NVMe "
    "(DirectoryOrCreate), which a local PersistentVolume cannot; mounted read-only by a non-root pod "
    "with no capabilities, in a namespace that holds nothing else"
)


def node_cache_dir(plan: Plan, placement: PlacementPlan) -> str:
    """The model's directory on the node's NVMe (the cloud's mount, catalog/data/cold_start.yaml)."""
    mount = catalog.cold_start()["node_local"]["mount"][placement.cloud]["path"]
    return f"{mount}/inferstack/{plan.spec.namespace}--{plan.spec.name}"


def node_cache_name(plan: Plan) -> str:
    return f"{plan.spec.name}-{NODE_CACHE}"


def _node_affinity(selector: dict[str, str]) -> dict:
    """The nodes a placement's GPU pods select, as a required node affinity."""
    terms = [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(selector.items())]
    return {"required": {"nodeSelectorTerms": [{"matchExpressions": terms}]}}


def _hold_container(image: str, mount: dict, ready_when: list[str]) -> dict:
    """Holds the DaemonSet's slot on the node; ready (and live) while `ready_when` exits 0 on `mount`."""
    probe = {"exec": {"command": ready_when}, "periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 3}
    return {
        "name": "hold",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(HOLD_COMMAND),
        "resources": {"requests": dict(HOLD_SIZE), "limits": dict(HOLD_SIZE)},
        "readinessProbe": probe,
        "livenessProbe": probe,
        "securityContext": container_security(),
        "volumeMounts": [{**mount, "readOnly": True}],
    }


def owner_namespace(plan: Plan, placement: PlacementPlan) -> dict:
    """The owner DaemonSet's namespace, at the one Pod Security level that admits hostPath volumes."""
    name = f"{node_cache_name(plan)}-owner"
    labels = {
        **base.labels(plan, placement, NODE_CACHE),
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    meta = {"name": name, "labels": labels, "annotations": {f"{contract.DOMAIN}/why-privileged": HOSTPATH_REASON}}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _daemon_set(plan: Plan, placement: PlacementPlan, metadata: dict, pod_labels: dict, pod: dict) -> dict:
    """A DaemonSet on the placement's GPU nodes, its pods hardened like every other, no account token."""
    selector, tolerations = base._node_placement(plan, placement)
    annotations = base._skip_annotations(is_pinned(plan.spec.cache.fetcher_image))
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {**metadata, "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "nodeSelector": selector,
                    "tolerations": tolerations,
                    **pod,
                },
            },
        },
    }


def owner_daemon_set(plan: Plan, placement: PlacementPlan) -> dict:
    """On every GPU node of the placement: makes the kubelet create the model's NVMe directory."""
    pod_labels = base.labels(plan, placement, f"{NODE_CACHE}-owner")
    image = plan.spec.cache.fetcher_image
    owner = _hold_container(image, {"name": "node-cache", "mountPath": OWNER_MOUNT}, ["test", "-d", OWNER_MOUNT])
    namespace = owner_namespace(plan, placement)["metadata"]["name"]
    metadata = {"name": f"{node_cache_name(plan)}-owner", "namespace": namespace, "labels": pod_labels}
    hostpath = {"path": node_cache_dir(plan, placement), "type": "DirectoryOrCreate"}
    pod = {"containers": [owner], "volumes": [{"name": "node-cache", "hostPath": hostpath}]}
    return _daemon_set(plan, placement, metadata, pod_labels, pod)


def owner_network_policy(plan: Plan, placement: PlacementPlan) -> dict:
    """The owner pods need no network: deny everything in their namespace."""
    name = owner_namespace(plan, placement)["metadata"]["name"]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": name, "labels": base.labels(plan, placement, f"{NODE_CACHE}-owner")},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []},
    }


def node_cache_volume(plan: Plan, placement: PlacementPlan) -> dict:
    """The model's NVMe directory as a `local` volume on every GPU node of the placement. Each node has
    its own copy; the kubelet enforces no single-node access for local volumes, so one claim serves them all."""
    selector, _ = base._node_placement(plan, placement)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"{plan.spec.namespace}--{node_cache_name(plan)}",
            "labels": base.labels(plan, placement, NODE_CACHE),
        },
        "spec": {
            "capacity": {"storage": f"{plan.cache_size_gib}Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "local": {"path": node_cache_dir(plan, placement)},
            "nodeAffinity": _node_affinity(selector),
            "claimRef": {"namespace": plan.spec.namespace, "name": node_cache_name(plan)},
        },
    }


def node_cache_claim(plan: Plan, placement: PlacementPlan) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": base._meta(plan, placement, node_cache_name(plan), NODE_CACHE),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": f"{plan.spec.namespace}--{node_cache_name(plan)}",
            "resources": {"requests": {"storage": f"{plan.cache_size_gib}Gi"}},
        },
    }


def fill_daemon_set(plan: Plan, placement: PlacementPlan) -> dict:
    """On every GPU node of the placement: a verified copy of the shared cache on the node's NVMe."""
    job = base.prefetch_job(plan, placement)
    fetch = job["spec"]["template"]["spec"]["containers"][0]
    subpath = cache_subpath(plan)
    args = list(fetch["args"])
    args[args.index("--dest") + 1] = f"{NODE_CACHE_DIR}/{subpath}"
    fill = {
        **fetch,
        "name": "fill",
        "args": [*args, "--copy-from", f"{MODELS_DIR}/{subpath}"],
        "env": [e for e in fetch["env"] if e["name"] != "HF_TOKEN"],
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_DIR, "readOnly": True},
            {"name": NODE_CACHE, "mountPath": NODE_CACHE_DIR},
            {"name": "tmp", "mountPath": TMP_DIR},
            {"name": "fetcher", "mountPath": base.FETCHER_DIR, "readOnly": True},
        ],
    }
    pod_labels = base.labels(plan, placement, NODE_CACHE)
    node_mount = {"name": NODE_CACHE, "mountPath": NODE_CACHE_DIR}
    ready = ["test", "-f", f"{NODE_CACHE_DIR}/{subpath}/{COMPLETE_MARKER}"]  # the node holds a verified copy
    volumes = [
        {"name": "models", "persistentVolumeClaim": {"claimName": base.cache_claim_name(plan), "readOnly": True}},
        {"name": NODE_CACHE, "persistentVolumeClaim": {"claimName": node_cache_name(plan)}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "fetcher", "configMap": {"name": f"{plan.spec.name}-fetcher"}},
    ]
    pod = {
        "serviceAccountName": contract.service_account(plan.spec.name),
        "initContainers": [fill],
        "containers": [_hold_container(plan.spec.cache.fetcher_image, node_mount, ready)],
        "volumes": volumes,
    }
    return _daemon_set(plan, placement, base._meta(plan, placement, node_cache_name(plan), NODE_CACHE), pod_labels, pod)


def fill_network_policy(plan: Plan, placement: PlacementPlan) -> dict:
    """The fill pods copy between two volumes: no traffic in or out."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": base._meta(plan, placement, node_cache_name(plan), NODE_CACHE),
        "spec": {
            "podSelector": {"matchLabels": base.labels(plan, placement, NODE_CACHE)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [],
        },
    }


def _serving_pod(objects: list[dict], plan: Plan) -> dict:
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == plan.spec.name)
    return deployment["spec"]["template"]["spec"]


def _node_local(plan: Plan, placement: PlacementPlan, objects: list[dict]) -> list[dict]:
    pod = _serving_pod(objects, plan)
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    models["persistentVolumeClaim"]["claimName"] = node_cache_name(plan)
    at = next(i for i, o in enumerate(objects) if o["kind"] == "Deployment" and o["metadata"]["name"] == plan.spec.name)
    added = [
        owner_namespace(plan, placement),
        owner_network_policy(plan, placement),
        owner_daemon_set(plan, placement),
        node_cache_volume(plan, placement),
        node_cache_claim(plan, placement),
        fill_daemon_set(plan, placement),
    ]
    return [*objects[:at], *added, *objects[at:], fill_network_policy(plan, placement)]


def _streaming(plan: Plan, placement: PlacementPlan, objects: list[dict]) -> list[dict]:
    prefetch_only = {
        ("ConfigMap", f"{plan.spec.name}-fetcher"),
        ("PersistentVolumeClaim", base.cache_claim_name(plan)),
        ("Job", f"{plan.spec.name}-prefetch"),
        ("NetworkPolicy", f"{plan.spec.name}-prefetch"),
    }
    kept = [o for o in objects if (o["kind"], o["metadata"]["name"]) not in prefetch_only]
    pod = _serving_pod(kept, plan)
    pod["serviceAccountName"] = contract.prefetch_service_account(plan.spec.name)
    pod.pop("initContainers", None)
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "models"]
    for container in pod["containers"]:
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "models"]
    policy = next(o for o in kept if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == plan.spec.name)
    policy["spec"]["egress"] += [{"ports": [{"protocol": "TCP", "port": 443}]}, *base._identity_egress(plan, placement)]
    return kept


def tiered(plan: Plan, placement: PlacementPlan, objects: list[dict]) -> list[dict]:
    """The placement's objects for the plan's cache tier, from the shared volume's."""
    if plan.cold_start.tier == "node_local":
        return _node_local(plan, placement, objects)
    if plan.cold_start.tier == "streaming":
        return _streaming(plan, placement, objects)
    return objects


def placement_objects(plan: Plan, placement: PlacementPlan) -> list[dict]:
    """Every object for one placement, dependencies first, for the plan's cache tier."""
    return tiered(plan, placement, base.placement_objects(plan, placement))
