"""The contract between layers: every name that more than one layer writes or reads, in one place.

Labels, annotation keys (through `Provenance`, which writes and reads them), the GPU taint and
resource name, node-pool labels, mount paths, the weight-cache claim, the monitoring namespaces and
the cluster name. Kubernetes builders, monitoring, cloud components and compliance rules import these;
none of them spells a shared name itself. This module imports nothing from inferstack.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

#: The value of `app.kubernetes.io/managed-by` (and the `managed-by` cloud tag) on everything created.
MANAGED_BY = "inferstack"
#: Prefix of inferstack's own labels and annotations.
DOMAIN = "inferstack.dev"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

#: Node label carrying the GPU SKU on inferstack's GPU nodes; GPU DaemonSets and serving pods select it.
GPU_NODE_LABEL = f"{DOMAIN}/gpu"
#: Node label naming the pool a node belongs to (`system` or `gpu`).
POOL_LABEL = f"{DOMAIN}/pool"
SYSTEM_POOL = "system"
GPU_POOL = "gpu"
#: The extended resource the NVIDIA device plugin advertises, and the taint key GPU nodes carry.
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = GPU_RESOURCE
GPU_TAINT_EFFECT = "NoSchedule"
#: What every pod that may land on a GPU node carries.
GPU_TOLERATION = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": GPU_TAINT_EFFECT}

#: Non-root identity of every container inferstack runs (and of the files the fetcher writes).
UID = 10001
#: Where the weight cache is mounted (read-only in serving pods, read-write in the prefetch Job).
MODELS_DIR = "/models"
#: The writable scratch folder of read-only containers.
TMP_DIR = "/tmp"
#: File the prefetch Job writes when the checkpoint is complete and verified; serving pods wait for it.
COMPLETE_MARKER = ".inferstack-complete"

MONITORING_NAMESPACE = "monitoring"
INGRESS_NAMESPACE = "ingress"
#: Namespace of the DCGM exporter release (and of the ServiceMonitor's selector).
DCGM_NAMESPACE = "gpu-operator"
#: The Prometheus of kube-prometheus-stack, which inferstack installs on the clusters it creates.
PROMETHEUS_URL = f"http://prometheus-operated.{MONITORING_NAMESPACE}.svc:9090"
#: Secret Pulumi config holding the endpoints' API keys: a JSON object of client name -> key
#: (`pulumi config set --secret inferstack:apiKeys '{"web": "..."}'`).
API_KEYS_CONFIG = "inferstack:apiKeys"

#: NFS shares (Filestore) come up owned by root and ignore fsGroup, so one root container hands the share
#: to UID before anything else mounts it. It is the only root container inferstack runs: its command is
#: exactly `SHARE_OWNER_COMMAND` on `SHARE_OWNER_MOUNT`, with CHOWN as its only capability, and the
#: workload-hardening rule allows exactly that shape.
SHARE_OWNER_MOUNT = "/share"
SHARE_OWNER_COMMAND = ("chown", f"{UID}:{UID}", SHARE_OWNER_MOUNT)

#: Hours in the month every monthly figure assumes (365 x 24 / 12).
HOURS_PER_MONTH = 730


def labels(deployment: str, placement: str, component: str) -> dict[str, str]:
    """The recommended labels of every object of one deployment in one placement."""
    return {
        LABEL_NAME: deployment,
        LABEL_INSTANCE: f"{deployment}-{placement}",
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def cluster_name(deployment: str, placement: str, given: str | None = None) -> str:
    """A placement's cluster: the name the spec gives (or its kubeconfig context), else
    `<deployment>-<placement>`, the cluster inferstack creates. Also the monitoring `cluster` label."""
    return given or f"{deployment}-{placement}"


def cache_claim_name(deployment: str) -> str:
    """The weight-cache PersistentVolumeClaim inferstack creates for a deployment."""
    return f"{deployment}-weights"


def service_account(deployment: str) -> str:
    """The serving pods' Kubernetes service account (no token, no cloud identity)."""
    return deployment


def prefetch_service_account(deployment: str) -> str:
    """The prefetch Job's service account: the only one bound to a cloud identity that reads weights."""
    return f"{deployment}-prefetch"


def hub_token_secret(deployment: str) -> str:
    """The Secret (key `token`) the prefetch Job reads a Hugging Face token from, when one is needed."""
    return f"{deployment}-hub-token"


#: Prefix length of each placement's private network: one /16 per placement.
NETWORK_PREFIX = 16


def default_network(deployment: str, placement: str) -> str:
    """A placement's default private /16: 10.N.0.0/16 with N from a hash of the names (stable: adding or
    reordering placements never moves a network). N avoids 0, the range most existing networks use."""
    digest = hashlib.sha256(f"{deployment}/{placement}".encode()).digest()
    return f"10.{1 + digest[0] % 254}.0.0/{NETWORK_PREFIX}"


def cloud_tags(deployment: str, placement: str) -> dict[str, str]:
    """Tags (AWS) and labels (GCP) on every taggable cloud resource; lowercase and label-safe."""
    return {"inferstack-deployment": deployment, "inferstack-placement": placement, "managed-by": MANAGED_BY}


@dataclass(frozen=True)
class Provenance:
    """What a serving workload serves, from where, and what it may cost: written as annotations on the
    Deployment, read back by the compliance rules. Absent values are omitted, never guessed."""

    engine: str | None = None
    engine_version: str | None = None
    quantization: str | None = None
    model_source: str | None = None
    model_revision: str | None = None
    gpu: str | None = None
    gpus_per_replica: str | None = None
    replicas_max: str | None = None
    #: `existing-cluster` (GPUs priced per hour by the spec) or `node-pool` (priced by the node pool).
    capacity: str | None = None
    gpu_hour_price: str | None = None

    @staticmethod
    def key(field: str) -> str:
        """The annotation key of a field: `inferstack.dev/model-source` for `model_source`."""
        return f"{DOMAIN}/{field.replace('_', '-')}"

    def annotations(self) -> dict[str, str]:
        return {
            self.key(f.name): value for f in dataclasses.fields(self) if (value := getattr(self, f.name)) is not None
        }

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, object] | None) -> Provenance:
        """The record in a workload's annotations; values that are not strings count as absent."""
        found = annotations if isinstance(annotations, Mapping) else {}
        return cls(
            **{f.name: value for f in dataclasses.fields(cls) if isinstance(value := found.get(cls.key(f.name)), str)}
        )

    def number(self, field: str) -> float | None:
        """A numeric field as a float; None when absent or not a number (rules then fail closed)."""
        value = getattr(self, field)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None
