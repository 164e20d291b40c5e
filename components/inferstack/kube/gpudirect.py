"""GKE pods on the GPU NICs: GPUDirect-TCPX (A3 High) and GPUDirect-TCPXO (A3 Mega).

The node pool attaches one VPC per GPU NIC (`clouds.gcp.fabric`); pods reach them only through
multi-networking objects and annotations, and NCCL uses them only with the GPUDirect plugin and its
receive-datapath daemon beside the workload (GKE docs, "Maximize GPU network bandwidth in Standard mode
clusters"; GoogleCloudPlatform/container-engine-accelerators gpudirect-tcpx(o)/ manifests). This module
builds, from the facts in catalog/data/gpudirect.yaml:

- per cluster: one `GKENetworkParamSet` (`deviceMode: NetDevice`) and one `Network` (`type: Device`) per
  GPU NIC network, named `gpunet-N` like the fabric's VPCs; the NCCL plugin installer DaemonSet and the
  NRI device injector DaemonSet (which hands the daemon the GPU devices listed in its pod annotation,
  instead of running it privileged) in kube-system;
- per serving pod template: `networking.gke.io/default-interface` and `networking.gke.io/interfaces`
  (eth0 on the default network, eth1.. on the GPU networks), the daemon sidecar (the unprivileged,
  no-hostNetwork variant upstream ships: its capabilities only, its host directories), the device
  injection annotation, and the NCCL environment on the serving container.

Fabric kinds without GPUDirect facts (EFA, RDMA) get nothing from here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from inferstack import contract
from inferstack.catalog.gpudirect import GpuDirect, Installer, default_interface, device_injector, gpudirect
from inferstack.catalog.multinode import Fabric

NETWORK_API_VERSION = "networking.gke.io/v1"
DEFAULT_INTERFACE_ANNOTATION = "networking.gke.io/default-interface"
INTERFACES_ANNOTATION = "networking.gke.io/interfaces"
#: NRI device injector: `devices.gke.io/container.<container name>` lists the host devices it injects.
DEVICES_ANNOTATION_PREFIX = "devices.gke.io/container."
SYSTEM_NAMESPACE = "kube-system"
#: The node label GKE puts on GPU nodes, which the upstream DaemonSets select on.
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"

#: checkov checks the GPUDirect daemon fails, and why (skipped on the pods that carry it; INF011 checks the
#: daemon's exact shape instead, and every other container in full).
DAEMON_CHECK_SKIPS = {
    "CKV_K8S_8": "the GPUDirect daemon serves no endpoint to probe (upstream manifests give it none)",
    "CKV_K8S_9": "the GPUDirect daemon serves no endpoint to probe (upstream manifests give it none)",
    "CKV_K8S_10": "upstream publishes no CPU figure for the GPUDirect daemon",
    "CKV_K8S_11": "upstream publishes no CPU figure for the GPUDirect daemon",
    "CKV_K8S_12": "upstream publishes no memory figure for the GPUDirect daemon",
    "CKV_K8S_13": "upstream publishes no memory figure for the GPUDirect daemon",
    "CKV_K8S_22": "upstream does not run the GPUDirect daemon on a read-only root",
    "CKV_K8S_23": "the GPUDirect daemon programs the GPU NICs as root (NET_ADMIN is effective for root only)",
    "CKV_K8S_25": "the GPUDirect daemon needs NET_ADMIN (TCPXO also NET_BIND_SERVICE) to program the GPU NICs",
    "CKV_K8S_40": "the GPUDirect daemon programs the GPU NICs as root (NET_ADMIN is effective for root only)",
}


def facts(fabric: Fabric | None) -> GpuDirect | None:
    """The GPUDirect facts of a node's fabric, None where it has none (or no fabric)."""
    return gpudirect(fabric.kind) if fabric is not None else None


def network_names(fabric: Fabric) -> list[str]:
    """The Kubernetes `Network` (and `GKENetworkParamSet`) names of the GPU NIC networks, in NIC order."""
    return [f"gpunet-{i}" for i in range(1, fabric.interfaces + 1)]


def gpu_interfaces(fabric: Fabric) -> list[str]:
    """The pod's interfaces on the GPU networks: eth1.. after eth0 on the default network."""
    return [f"eth{i}" for i in range(1, fabric.interfaces + 1)]


def network_objects(fabric: Fabric, vpcs: list[tuple[Any, Any]]) -> list[dict]:
    """A `GKENetworkParamSet` and a `Network` per GPU NIC; `vpcs` are each NIC's (VPC name, subnet name),
    plain strings or Pulumi outputs."""
    if len(vpcs) != fabric.interfaces:
        raise ValueError(f"{fabric.node_type} has {fabric.interfaces} GPU NICs, got {len(vpcs)} networks")
    objects: list[dict] = []
    for name, (vpc, subnet) in zip(network_names(fabric), vpcs, strict=True):
        objects.append(
            {
                "apiVersion": NETWORK_API_VERSION,
                "kind": "GKENetworkParamSet",
                "metadata": {"name": name},
                "spec": {"vpc": vpc, "vpcSubnet": subnet, "deviceMode": "NetDevice"},
            }
        )
        objects.append(
            {
                "apiVersion": NETWORK_API_VERSION,
                "kind": "Network",
                "metadata": {"name": name},
                "spec": {
                    "type": "Device",
                    "parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet", "name": name},
                },
            }
        )
    return objects


def _node_daemon_set(name: str, accelerators: list[str], pod: dict) -> dict:
    """A kube-system DaemonSet on the GPU nodes of `accelerators`, as the upstream installers are laid out."""
    labels = {"k8s-app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": SYSTEM_NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {"key": GKE_ACCELERATOR_LABEL, "operator": "In", "values": accelerators}
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "tolerations": [{"operator": "Exists"}],
                    "hostNetwork": True,
                    "hostPID": True,
                    **pod,
                },
            },
        },
    }


def _host_volume(name: str, path: str) -> dict:
    return {"name": name, "hostPath": {"path": path}}


def installer_daemon_set(installer: Installer) -> dict:
    """The NCCL plugin installer: an init container copies the plugin and its NCCL into the nodes'
    /home/kubernetes/bin/nvidia/lib64 (what the serving pods mount), then a pause container holds the pod."""
    return _node_daemon_set(
        installer.name,
        [installer.gke_accelerator],
        {
            "volumes": [_host_volume("var-lib", "/var/lib"), _host_volume("library-dir-host", "/home/kubernetes/bin")],
            "initContainers": [
                {
                    "name": installer.name,
                    "image": installer.image,
                    "command": ["/bin/sh", "-c"],
                    "args": [
                        "set -ex\n"
                        "/scripts/container_entry.sh install --install-nccl\n"
                        "mkdir -p /usr/local/nvidia/lib64\n"
                        f"cp -r {installer.plugin_dir}/lib64/. /usr/local/nvidia/lib64\n"
                        'echo "installation finishes"\n'
                    ],
                    "resources": {"requests": {"cpu": "150m"}},
                    "securityContext": {"privileged": True},
                    "volumeMounts": [
                        {"name": "var-lib", "mountPath": "/var/lib"},
                        {"name": "library-dir-host", "mountPath": "/usr/local"},
                    ],
                }
            ],
            "containers": [{"name": "pause", "image": installer.pause_image}],
        },
    )


def device_injector_daemon_set(accelerators: list[str]) -> dict:
    """The NRI device injector, which gives a container the host devices its pod annotation lists."""
    name, image = device_injector()
    return _node_daemon_set(
        name,
        accelerators,
        {
            "volumes": [_host_volume("nri", "/var/run/nri"), _host_volume("dev", "/dev")],
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "resources": {"requests": {"cpu": "150m"}},
                    "securityContext": {"privileged": True},
                    "volumeMounts": [
                        {"name": "dev", "mountPath": "/dev"},
                        {"name": "nri", "mountPath": "/var/run/nri"},
                    ],
                }
            ],
        },
    )


def cluster_objects(fabrics: list[Fabric], vpcs: list[tuple[Any, Any]]) -> list[dict]:
    """What one GKE cluster needs for pods on GPUDirect nodes: the GPU NIC networks of its fabric pool
    (`vpcs`, see `network_objects`), each GPUDirect kind's plugin installer, and one NRI device injector.
    Empty when no fabric of `fabrics` is a GPUDirect one."""
    direct = [(f, g) for f in fabrics if (g := facts(f)) is not None]
    if not direct:
        return []
    kinds = sorted({g.kind: g for _, g in direct}.items())
    installers = [installer_daemon_set(g.installer) for _, g in kinds]
    accelerators = sorted({g.installer.gke_accelerator for _, g in kinds})
    return [*network_objects(direct[0][0], vpcs), *installers, device_injector_daemon_set(accelerators)]


def _socket_volume(pod: dict, serving: dict, path: str) -> str:
    """The volume the serving container has at `path` (its /tmp emptyDir), added as an emptyDir where it
    has none: the daemon mounts the same volume at its socket directory."""
    for mount in serving.get("volumeMounts") or []:
        if mount["mountPath"] == path:
            return mount["name"]
    pod["volumes"].append({"name": "gpudirect-socket", "emptyDir": {}})
    serving["volumeMounts"].append({"name": "gpudirect-socket", "mountPath": path})
    return "gpudirect-socket"


def on_gpu_networks(template: dict, fabric: Fabric | None) -> dict:
    """`template` (a serving pod template, serving container first) on the node's GPU networks: the
    multi-network annotations, the daemon sidecar with its host directories and devices, and the NCCL
    environment on the serving container. Unchanged where the fabric has no GPUDirect facts."""
    direct = facts(fabric)
    if fabric is None or direct is None:
        return template
    daemon = direct.daemon
    eth0, default_network = default_interface()
    interfaces = [{"interfaceName": eth0, "network": default_network}] + [
        {"interfaceName": eth, "network": net}
        for eth, net in zip(gpu_interfaces(fabric), network_names(fabric), strict=True)
    ]
    out = copy.deepcopy(template)
    out["metadata"]["annotations"] = {
        **(out["metadata"].get("annotations") or {}),
        DEFAULT_INTERFACE_ANNOTATION: eth0,
        INTERFACES_ANNOTATION: json.dumps(interfaces, separators=(",", ":")),
        DEVICES_ANNOTATION_PREFIX + daemon.name: "".join(f"- path: {d}\n" for d in daemon.devices),
        **{
            f"checkov.io/skip-gpudirect{i}": f"{check}={reason}"
            for i, (check, reason) in enumerate(DAEMON_CHECK_SKIPS.items(), start=1)
        },
    }
    pod = out["spec"]
    pod["volumes"] = [*(pod.get("volumes") or []), *(_host_volume(v.name, v.host) for v in daemon.volumes)]
    serving = pod["containers"][0]
    env = {e["name"]: e["value"] for e in serving.get("env") or []} | direct.nccl_env
    env[direct.nic_list_env] = ",".join(gpu_interfaces(fabric))
    serving["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    serving["volumeMounts"] = [
        *(serving.get("volumeMounts") or []),
        *({"name": v.name, "mountPath": v.serving} for v in daemon.volumes if v.serving),
    ]
    daemon_mounts = [{"name": v.name, "mountPath": v.daemon} for v in daemon.volumes if v.daemon]
    if daemon.socket is not None:
        daemon_mounts.append({"name": _socket_volume(pod, serving, daemon.socket[1]), "mountPath": daemon.socket[0]})
    pod["containers"].append(
        {
            "name": daemon.name,
            "image": daemon.image,
            "command": list(daemon.command),
            "env": [{"name": "LD_LIBRARY_PATH", "value": direct.nccl_env["LD_LIBRARY_PATH"]}],
            "securityContext": {
                "runAsNonRoot": False,
                "runAsUser": 0,
                "allowPrivilegeEscalation": False,
                "capabilities": {"add": list(daemon.capabilities), "drop": ["ALL"]},
            },
            "volumeMounts": daemon_mounts,
        }
    )
    return out


#: Why a namespace with GPUDirect pods is admitted at the `privileged` Pod Security level.
PRIVILEGED_REASON = (
    "the GPUDirect-TCPX/TCPXO daemon sidecar runs as root with NET_ADMIN and host directories, which the "
    "restricted and baseline levels refuse; every other container still meets restricted (warned)"
)


def serving_namespace(namespace: dict, fabric: Fabric | None) -> dict:
    """The serving namespace, at the `privileged` Pod Security level (warning at `restricted`) where its
    pods carry the GPUDirect daemon; unchanged elsewhere."""
    if facts(fabric) is None:
        return namespace
    out = copy.deepcopy(namespace)
    labels = out["metadata"]["labels"]
    labels.pop("pod-security.kubernetes.io/enforce-version", None)
    labels["pod-security.kubernetes.io/enforce"] = "privileged"
    labels["pod-security.kubernetes.io/warn"] = "restricted"
    out["metadata"]["annotations"] = {
        **(out["metadata"].get("annotations") or {}),
        f"{contract.DOMAIN}/why-privileged": PRIVILEGED_REASON,
    }
    return out
