"""Full-match patterns for the strings a spec feeds into names, paths, image references, argv and
PromQL. Each is written once, ASCII-only and in the common subset of Python and ECMA-262 regular
expressions, so the loader (`re.fullmatch`) and the JSON Schema (`pattern`, anchored by `schema()`)
accept exactly the same strings. Never use `$`: in Python it also matches before a trailing newline.
"""

from __future__ import annotations

import re

#: Deployment, placement and adapter names: DNS labels of at most 40 characters.
NAME = r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?"
#: Engine releases: 0.32.0, 3.3.4, 1.0.0rc2, 0.10.1.post1.
VERSION = r"[0-9]+\.[0-9]+(\.[0-9]+)?([.-]?[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
#: Image references: registry/repository[:tag][@sha256:<64 hex>], lower-case repository.
IMAGE = r"[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+/[a-z0-9]+([._/-][a-z0-9]+)*)?(:" + _TAG + r")?(@sha256:[0-9a-f]{64})?"
#: A Hugging Face commit (40 hex) or, when pinning is off, a branch or tag name (no '/').
REVISION = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
COMMIT = r"[0-9a-f]{40}"
#: The model name clients send and PromQL matches on (`model_name="<served name>"`).
SERVED_NAME = r"[A-Za-z0-9]([A-Za-z0-9._:/-]{0,126}[A-Za-z0-9])?"

_HF_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_S3_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
_GS_BUCKET = r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]"
_PREFIX = r"(/[A-Za-z0-9_=+-][A-Za-z0-9._=+-]*)*/?"
#: A DNS-1123 subdomain (PersistentVolumeClaim and StorageClass names); length is checked apart.
SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_FOLDERS = r"(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*/?"
HF_SOURCE = r"hf://" + _HF_PART + "/" + _HF_PART
S3_SOURCE = r"s3://" + _S3_BUCKET + _PREFIX
GS_SOURCE = r"gs://" + _GS_BUCKET + _PREFIX
PVC_SOURCE = r"pvc://" + SUBDOMAIN + _FOLDERS
MODEL_SOURCE = f"({HF_SOURCE}|{S3_SOURCE}|{GS_SOURCE}|{PVC_SOURCE})"
ADAPTER_SOURCE = f"({HF_SOURCE}@{COMMIT}|{S3_SOURCE}|{GS_SOURCE})"
#: Longest model or adapter source (keeps a claim name within Kubernetes' 253 characters).
MAX_SOURCE = 256
#: A file path: 1-4096 characters, no NUL.
FILE_PATH = r"[^\x00]{1,4096}"
#: Regions, zones and region locks: lower-case cloud codes.
REGION = r"[a-z0-9][a-z0-9-]{0,62}"
#: Names of existing cloud clusters (EKS allows 100 characters, GKE 40).
CLUSTER_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
#: kubeconfig context names (EKS contexts are ARNs, GKE ones gke_<project>_<zone>_<name>).
CONTEXT = r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,252}"
#: Kubernetes label values (also node-selector values): at most 63 characters.
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?"
#: Kubernetes label keys: an optional DNS-subdomain prefix and '/', then a name of at most 63.
LABEL_KEY = r"(" + SUBDOMAIN + r"/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
#: The Prometheus KEDA queries: http(s)://host[:port][/path].
PROMETHEUS_URL = r"https?://[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?"
#: Node types (instance types, machine types).
NODE_TYPE = r"[a-z0-9][a-z0-9.-]{0,62}"
#: One engine argument: printable ASCII (an argv element, never a shell word), at most 1024 characters.
EXTRA_ARG = r"[ -~]{1,1024}"


def full(pattern: str, value: object) -> bool:
    """True when `value` is a string matching `pattern` completely (no trailing newline)."""
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def anchored(pattern: str) -> str:
    """The JSON-Schema form of a full-match pattern: JSON Schema patterns search, and a final `$` would
    match before a trailing newline in Python validators, so the end is "no character follows"."""
    return f"^(?:{pattern})(?![\\s\\S])"
