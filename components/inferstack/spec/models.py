"""The deployment spec: strict pydantic v2 models, every field described.

Field-level rules live in field validators; rules that span fields live in `DeploymentSpec`'s model
validator, which collects every violation and raises them together as `RuleViolations` so the loader
can report each one with its own field path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from inferstack import catalog, contract
from inferstack.spec import patterns
from inferstack.spec.architecture import resolve_architecture
from inferstack.spec.patterns import anchored, full
from inferstack.spec.rules import spec_violations
from inferstack.spec.suggest import closest
from inferstack.spec.values import FieldProblem, RuleViolations, is_commit, is_pinned, shown

#: Largest value of a Kubernetes int32 field (replicas, seconds) and of the engines' int32 flags.
INT32_MAX = 2**31 - 1
#: Longest latency objective, milliseconds (one day): alert thresholds beyond it mean nothing.
MAX_LATENCY_MS = 86_400_000

EngineName = Literal["vllm", "sglang", "tgi", "trtllm"]
Quantization = Literal["none", "fp8", "int8", "awq", "gptq", "mxfp4", "nvfp4"]
KvCacheDtype = Literal["auto", "fp8"]
CloudName = Literal["aws", "gcp", "kubernetes"]
CacheKind = Literal["shared_volume", "node_local", "streaming"]
ScalingSignal = Literal["queue_depth", "kv_cache_usage", "running_requests"]
RoutingPolicy = Literal["cache_aware", "power_of_two", "round_robin"]

SOURCE_SCHEMES = ("hf", "s3", "gs", "pvc")
#: Longest image reference accepted.
MAX_IMAGE = 512


def _pattern(regex: str, max_length: int | None = None) -> dict:
    """JSON-Schema keywords for a string the loader full-matches against `regex`."""
    extra: dict = {"pattern": anchored(regex)}
    if max_length is not None:
        extra["maxLength"] = max_length
    return extra


def _image_reference(value: str | None) -> str | None:
    if value is not None and not (len(value) <= MAX_IMAGE and full(patterns.IMAGE, value)):
        raise FieldProblem(
            "not an image reference",
            "registry/repository:tag, optionally followed by @sha256:<64 hex>",
            "copy the reference your registry shows",
        )
    return value


class Strict(BaseModel):
    """Base for every spec model: unknown fields are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _dns_name(value: str, what: str) -> str:
    if not full(patterns.NAME, value):
        example = re.sub(r"[^a-z0-9-]+", "-", value[:200].lower()).strip("-")[:40].strip("-")
        raise FieldProblem(
            f"{what} is not a DNS label",
            "1-40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
            f"for example {example!r}" if example else "use lower-case letters, digits and '-'",
        )
    return value


def _source_problem(value: str, schemes: tuple[str, ...], pinned_hub: bool) -> FieldProblem | None:
    """Why a model or adapter source is refused, or None when it is a valid one."""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in schemes or not rest.strip("/"):
        return None  # the caller words the unsupported-scheme problem
    if len(value) > patterns.MAX_SOURCE:
        return FieldProblem(f"longer than {patterns.MAX_SOURCE} characters", hint="use a shorter path")
    if scheme == "hf":
        repo = rest.partition("@")[0] if pinned_hub else rest
        if not full(patterns.HF_SOURCE, f"hf://{repo}"):
            return FieldProblem(
                "not a Hugging Face repository id",
                "hf://org/name, each part letters, digits, '.', '_' and '-' (at most 96)",
                "copy the id from the model page",
            )
    elif scheme in ("s3", "gs") and not full(patterns.S3_SOURCE if scheme == "s3" else patterns.GS_SOURCE, value):
        return FieldProblem(
            f"not {'an' if scheme == 's3' else 'a'} {scheme.upper()} bucket and prefix",
            f"{scheme}://bucket/prefix: a bucket of 3-63 lower-case letters, digits, '.' and '-'"
            + (", '_'" if scheme == "gs" else "")
            + "; a prefix of letters, digits and . _ - = + /",
        )
    elif scheme == "pvc" and not full(patterns.PVC_SOURCE, value):
        return FieldProblem(
            "not a claim name and folder",
            "pvc://claim/folder: the claim a DNS-1123 name (lower-case letters, digits, '-' and '.'), "
            "folders of letters, digits, '.', '_' and '-' (not starting with '.')",
            "name the PersistentVolumeClaim exactly as `kubectl get pvc` shows it",
        )
    return None


LORA_RANKS = (8, 16, 32, 64, 128, 256)


class LoraAdapter(Strict):
    """One LoRA adapter: the name clients request it by, and where its weights are."""

    name: str = Field(
        description="Name clients use as the model in requests (a DNS label).",
        json_schema_extra=_pattern(patterns.NAME),
    )
    source: str = Field(
        description="hf://org/name@<40-hex commit>, s3://bucket/prefix or gs://bucket/prefix.",
        json_schema_extra=_pattern(patterns.ADAPTER_SOURCE, patterns.MAX_SOURCE),
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "adapter name")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in ("hf", "s3", "gs") or not rest.strip("/"):
            raise FieldProblem(
                "unsupported LoRA adapter source",
                "hf://org/name@<commit>, s3://bucket/prefix, gs://bucket/prefix",
            )
        repo, _, revision = rest.partition("@")
        if scheme == "hf" and (repo.count("/") != 1 or not is_commit(revision)):
            raise FieldProblem(
                "Hugging Face adapter is not pinned",
                "hf://org/name@<40-hex commit>",
                "append @ and the adapter's commit hash",
            )
        if problem := _source_problem(value, ("hf", "s3", "gs"), pinned_hub=True):
            raise problem
        return value


class Model(Strict):
    """Which checkpoint to serve and how it is identified."""

    source: str = Field(
        description="Where the weights come from: hf://org/name, s3://bucket/prefix, gs://bucket/prefix "
        "or pvc://claim/path (already on a volume; existing clusters only).",
        json_schema_extra=_pattern(patterns.MODEL_SOURCE, patterns.MAX_SOURCE),
    )
    revision: str | None = Field(
        default=None,
        description="Hugging Face commit (40 hex characters) for hf:// sources; a branch or tag is "
        "accepted only when compliance does not require pinned revisions.",
        json_schema_extra=_pattern(patterns.REVISION),
    )
    architecture: str | None = Field(
        default=None,
        description="Catalog architecture name (see `inferstack schema` or catalog/data/models.yaml); "
        "found from the hf:// id when omitted.",
    )
    config: str | None = Field(
        default=None,
        description="Path to the checkpoint's config.json, for models not in the catalog; read relative "
        "to the spec file.",
        json_schema_extra=_pattern(patterns.FILE_PATH),
    )
    served_name: str | None = Field(
        default=None,
        description="Model name clients send in requests (letters, digits, '.', '_', ':', '/', '-'); "
        "defaults to the spec name.",
        json_schema_extra=_pattern(patterns.SERVED_NAME),
    )
    max_context: int = Field(
        default=8192,
        gt=0,
        le=INT32_MAX,
        strict=True,
        description="Longest sequence (prompt + output) a request may use, in tokens.",
    )
    lora_adapters: list[LoraAdapter] = Field(
        default_factory=list,
        description="LoRA adapters served beside the base model, each {name, source} (or the shorthand "
        "'name=source'); clients select one by name. The prefetch job fetches them into the cache.",
    )
    lora_max_rank: int = Field(
        default=16,
        strict=True,
        description="Largest LoRA rank among the adapters (8, 16, 32, 64, 128 or 256); engines size adapter slots by it.",
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in SOURCE_SCHEMES or not rest.strip("/"):
            raise FieldProblem(
                "unsupported model source",
                "hf://org/name, s3://bucket/prefix, gs://bucket/prefix, pvc://claim/path",
                "copy the weights to one of these stores, or name the Hugging Face repository",
            )
        if scheme == "hf" and rest.count("/") != 1:
            raise FieldProblem("a Hugging Face source names one repository", "hf://org/name")
        if problem := _source_problem(value, SOURCE_SCHEMES, pinned_hub=False):
            raise problem
        return value

    @field_validator("revision")
    @classmethod
    def _revision(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.REVISION, value):
            raise FieldProblem(
                "not a commit, branch or tag name",
                "a 40-hex commit hash (or, with pin_revisions off, a branch or tag of letters, digits, '.', '_', '-')",
                "copy the commit from the model page's 'Files and versions' tab",
            )
        return value

    @field_validator("served_name")
    @classmethod
    def _served_name(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.SERVED_NAME, value):
            raise FieldProblem(
                "not a served model name",
                "1-128 letters, digits, '.', '_', ':', '/' and '-', starting and ending with a letter or digit",
                "it appears in requests and PromQL label matchers: keep to those characters",
            )
        return value

    @field_validator("config")
    @classmethod
    def _config_path(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.FILE_PATH, value):
            raise FieldProblem("not a file path", "1-4096 characters, no NUL", "name the checkpoint's config.json")
        return value

    @field_validator("lora_adapters", mode="before")
    @classmethod
    def _adapter_shorthand(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        for item in value:
            if isinstance(item, str) and "=" not in item:
                raise FieldProblem(
                    f"adapter {shown(item)} has no name",
                    "name=source, or {name: ..., source: ...}",
                    "name it: clients select an adapter by name",
                )
        return [
            dict(zip(("name", "source"), item.split("=", 1), strict=True)) if isinstance(item, str) else item
            for item in value
        ]

    @field_validator("lora_adapters")
    @classmethod
    def _unique_adapters(cls, value: list[LoraAdapter]) -> list[LoraAdapter]:
        names = [a.name for a in value]
        if len(set(names)) != len(names):
            raise FieldProblem("adapter names must be unique", hint="rename the repeated adapter")
        return value

    @field_validator("lora_max_rank")
    @classmethod
    def _rank(cls, value: int) -> int:
        if value not in LORA_RANKS:
            raise FieldProblem("not a LoRA rank engines accept", ", ".join(map(str, LORA_RANKS)))
        return value

    @property
    def scheme(self) -> str:
        return self.source.split("://", 1)[0]

    @property
    def location(self) -> str:
        return self.source.split("://", 1)[1]

    @property
    def weight_sources(self) -> list[str]:
        """Every source the prefetch Job reads: the checkpoint's, then each LoRA adapter's."""
        return [self.source, *(adapter.source for adapter in self.lora_adapters)]


class Speculative(Strict):
    """Speculative decoding: draft tokens are proposed cheaply and verified by the model in one step,
    so outputs are exactly what the model alone would produce, only faster."""

    method: Literal["ngram"] = Field(
        default="ngram",
        description="ngram: drafts come from n-gram matches in the prompt (no draft model, no extra memory).",
    )
    num_tokens: int = Field(default=4, ge=1, le=10, strict=True, description="Draft tokens proposed per step.")


class Engine(Strict):
    """The inference server and how it runs the model."""

    name: EngineName = Field(description="Inference engine: vllm, sglang, tgi or trtllm.")
    version: str = Field(
        description="Engine release, e.g. 0.32.0; selects the image tag and calibration.",
        json_schema_extra=_pattern(patterns.VERSION, 64),
    )
    image: str | None = Field(
        default=None,
        description="Full image reference; append @sha256:<digest> to pin it. Defaults to the engine's "
        "official image at `version`.",
        json_schema_extra=_pattern(patterns.IMAGE, MAX_IMAGE),
    )
    quantization: Quantization | None = Field(
        default=None,
        description="Weight format to serve: none (16-bit), fp8, int8, awq, gptq, mxfp4 or nvfp4. Defaults "
        "to the checkpoint's own format.",
    )
    kv_cache_dtype: KvCacheDtype = Field(
        default="auto", description="KV cache element type: auto (model dtype) or fp8."
    )
    prefix_caching: bool = Field(default=True, description="Reuse KV blocks across requests sharing a prefix.")
    speculative: Speculative | None = Field(default=None, description="Speculative decoding; off when unset.")
    max_concurrent_requests: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        strict=True,
        description="Most requests a replica runs at once (the decode batch): larger raises throughput and "
        "lowers per-request speed. Defaults to the engine's own limit (vLLM 256).",
    )
    gpu_memory_utilization: float | None = Field(
        default=None,
        ge=0.1,
        le=0.99,
        allow_inf_nan=False,
        description="Fraction of each GPU's memory the engine may take for weights, activations and KV cache "
        "(vLLM --gpu-memory-utilization, SGLang --mem-fraction-static); defaults to the engine's own.",
    )
    max_num_batched_tokens: int | None = Field(
        default=None,
        ge=16,
        le=INT32_MAX,
        strict=True,
        description="Most tokens one engine step processes (the prefill chunk); sets the activation peak. "
        "Defaults to the engine's own.",
    )
    cuda_graphs: bool = Field(
        default=True,
        description="Capture CUDA graphs for decode (faster small batches, some memory); false runs eagerly.",
    )
    extra_args: Annotated[
        list[Annotated[str, Field(json_schema_extra=_pattern(patterns.EXTRA_ARG))]], Field(max_length=64)
    ] = Field(
        default_factory=list,
        description="Additional engine flags, appended verbatim after the planned ones (argv elements, never "
        "a shell line; printable ASCII). Flags inferstack already sets are refused: change the spec field instead.",
    )

    @field_validator("extra_args")
    @classmethod
    def _extra_args(cls, value: list[str]) -> list[str]:
        for arg in value:
            if not full(patterns.EXTRA_ARG, arg):
                raise FieldProblem(
                    f"argument {shown(arg)} is not 1-1024 printable ASCII characters",
                    hint="pass one flag or value per list item, without control characters",
                )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not (len(value) <= 64 and full(patterns.VERSION, value)):
            raise FieldProblem(
                "not a release number",
                "a release such as 0.32.0",
                "name the exact release so the image and memory calibration are known",
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return _image_reference(value)

    @property
    def pinned(self) -> bool:
        return is_pinned(self.image)


#: What a GPU SKU may look like before the catalog resolves it (the schema's approximation).
GPU_SKU = r"[^:]{1,64}"
#: Most GPUs one replica may ask for: up to 8 nodes of 8 GPUs (catalog/data/multinode.yaml
#: max_nodes_per_replica; a count above one node's GPUs spreads the replica over nodes).
MAX_GPUS_PER_REPLICA = 64
#: The `gpu: L4:1` shorthand as the schema describes it (a count of 1 to MAX_GPUS_PER_REPLICA).
GPU_SHORTHAND = r"[^:]*(:[ \t]*0*([1-9]|[1-5][0-9]|6[0-4])[ \t]*)?"


class GpuRequest(Strict):
    """GPUs per replica: a SKU and, optionally, how many (the planner picks when omitted)."""

    sku: str = Field(
        description="GPU model, e.g. H100, H200, A100-80GB, L40S, L4.", json_schema_extra=_pattern(GPU_SKU)
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=MAX_GPUS_PER_REPLICA,
        strict=True,
        description="GPUs per replica: up to one node's GPUs, the tensor-parallel size; more (a multiple of a "
        "node's GPUs) spreads each replica over nodes. Omit to let the planner choose.",
    )

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        sku = catalog.resolve_gpu(value)
        if sku is None:
            known = sorted(catalog.gpus())
            raise FieldProblem("unknown GPU", ", ".join(known), suggestion=closest(value, known))
        return sku


def _parse_gpu(value: object) -> object:
    """Accept the shorthand `H100:8` (or `H100`) as well as {sku, count}."""
    if isinstance(value, str):
        sku, sep, count = value.partition(":")
        if not sep:
            return {"sku": sku}
        if not (count.strip().isascii() and count.strip().isdigit()):
            raise FieldProblem("GPU count is not a whole number", "SKU or SKU:COUNT, e.g. H100 or H100:8")
        return {"sku": sku, "count": int(count)}
    return value


class Resources(Strict):
    """What one replica runs on."""

    gpu: GpuRequest = Field(
        description="GPU SKU and count per replica; shorthand `H100:8` or `H100`.",
    )

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu_shorthand(cls, value: object) -> object:
        return _parse_gpu(value)


class Replicas(Strict):
    """Replica bounds for one placement."""

    min: int = Field(
        default=1,
        ge=0,
        le=INT32_MAX,
        strict=True,
        description="Replicas kept running. 0 (scale from zero) only behind the engine's router, whose request "
        "metric wakes the first replica: without one there would be no signal to scale up on.",
    )
    max: int = Field(default=1, ge=1, le=INT32_MAX, strict=True, description="Most replicas the autoscaler may run.")

    @model_validator(mode="after")
    def _ordered(self) -> Replicas:
        if self.min > self.max:
            raise FieldProblem(
                f"replicas.min ({self.min}) is greater than replicas.max ({self.max})",
                "min <= max",
                "lower min or raise max",
            )
        return self


class Cluster(Strict):
    """Create a new cluster, or use one that exists."""

    kind: Literal["new", "existing"] = Field(
        default="new", description="new: inferstack creates it; existing: use it as is."
    )
    name: str | None = Field(
        default=None,
        description="Cluster name (existing clusters: the name to look up).",
        json_schema_extra=_pattern(patterns.CLUSTER_NAME),
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Existing clusters: path to a kubeconfig file.",
        json_schema_extra=_pattern(patterns.FILE_PATH),
    )
    context: str | None = Field(
        default=None,
        description="Existing clusters: kubeconfig context to use.",
        json_schema_extra=_pattern(patterns.CONTEXT),
    )
    gpu_node_labels: dict[
        Annotated[str, Field(json_schema_extra=_pattern(patterns.LABEL_KEY, 253))],
        Annotated[str, Field(json_schema_extra=_pattern(patterns.LABEL_VALUE))],
    ] = Field(
        default_factory=dict,
        description="Existing clusters: labels that select the GPU nodes (e.g. nvidia.com/gpu.product).",
    )
    instance_type: str | None = Field(
        default=None,
        description="New clusters: node type to use instead of the planner's choice.",
        json_schema_extra=_pattern(patterns.NODE_TYPE),
    )
    operator_cidrs: list[str] = Field(
        default_factory=list,
        description="New clusters: address ranges (VPN, CI runners) allowed to reach the cluster API, where "
        "`pulumi up` runs from. Required unless access is from-inside.",
    )
    access: Literal["operators", "from-inside"] = Field(
        default="operators",
        description="New clusters: how `pulumi up` reaches the cluster API. operators: from cluster.operator_cidrs; "
        "from-inside: from a machine inside the placement's network (a runner in the VPC), no outside range.",
    )
    prometheus_operator: bool = Field(
        default=False,
        description="Existing clusters: the cluster runs the Prometheus Operator, so PodMonitors and "
        "PrometheusRules can be created (new clusters get kube-prometheus-stack).",
    )
    prometheus_url: str | None = Field(
        default=None,
        description="Existing clusters: the Prometheus that scrapes the cluster, which KEDA queries to scale.",
        json_schema_extra=_pattern(patterns.PROMETHEUS_URL),
    )

    @field_validator("name")
    @classmethod
    def _cluster_name(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.CLUSTER_NAME, value):
            raise FieldProblem(
                "not a cluster name", "1-100 letters, digits, '_' and '-', starting with a letter or digit"
            )
        return value

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.FILE_PATH, value):
            raise FieldProblem("not a file path", "1-4096 characters, no NUL")
        return value

    @field_validator("context")
    @classmethod
    def _context(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.CONTEXT, value):
            raise FieldProblem(
                "not a kubeconfig context name",
                "1-253 letters, digits and . _ : / @ -, starting with a letter or digit",
            )
        return value

    @field_validator("gpu_node_labels")
    @classmethod
    def _node_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if not (len(key) <= 253 and full(patterns.LABEL_KEY, key)):
                raise FieldProblem(
                    f"{shown(key)} is not a Kubernetes label key",
                    "an optional DNS prefix and '/', then 1-63 letters, digits, '-', '_' and '.'",
                )
            if not full(patterns.LABEL_VALUE, label):
                raise FieldProblem(
                    f"the value of {shown(key)} is not a Kubernetes label value",
                    "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
                )
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.NODE_TYPE, value):
            raise FieldProblem("not a node type name", "lower-case letters, digits, '.' and '-', e.g. g2-standard-4")
        return value

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url(cls, value: str | None) -> str | None:
        if value is not None and not full(patterns.PROMETHEUS_URL, value):
            raise FieldProblem(
                "not a Prometheus URL",
                "http(s)://host[:port][/path]",
                "for example http://prometheus-operated.monitoring.svc:9090",
            )
        return value

    @field_validator("operator_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise FieldProblem(
                    f"{shown(cidr)} is not an address range", "CIDR notation such as 10.8.0.0/16"
                ) from None
        return value


def _region_code(value: str) -> str:
    if not full(patterns.REGION, value):
        raise FieldProblem(
            "not a region code", "1-63 lower-case letters, digits and '-', e.g. us-east-1 or europe-west4"
        )
    return value


class Placement(Strict):
    """Where replicas run: one cloud region (or one existing cluster)."""

    name: str = Field(
        description="Short DNS-safe name, used in resource names (e.g. us-east); not a folder render writes "
        "(dashboards, rules).",
        json_schema_extra=_pattern(patterns.NAME),
    )
    cloud: CloudName = Field(description="aws, gcp, or kubernetes (an existing cluster anywhere).")
    region: str = Field(
        description="Cloud region code (us-east-1, europe-west4); for kubernetes, the region the cluster runs in.",
        json_schema_extra=_pattern(patterns.REGION),
    )
    zones: list[Annotated[str, Field(json_schema_extra=_pattern(patterns.REGION))]] = Field(
        default_factory=list,
        max_length=16,
        description="Zones to spread nodes over (each once, in the region); defaults to the region's zones. "
        "Checked against the catalog's GPU zones where it lists them (GCP); accepted as written where it does "
        "not (AWS, existing clusters).",
    )
    cluster: Cluster = Field(default_factory=Cluster, description="New or existing cluster.")
    replicas: Replicas = Field(default_factory=Replicas, description="Replica bounds in this placement.")
    price_per_gpu_hour: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        allow_inf_nan=False,
        description="kubernetes placements: what a GPU-hour costs you, USD, for cost estimates and budgets.",
    )
    network_cidr: str | None = Field(
        default=None,
        description="New clusters: the placement's private /16 (IPv4), unique across placements so one VPN can "
        "reach them all; defaults to a 10.x.0.0/16 derived from the deployment and placement names.",
    )
    platform: str | None = Field(
        default=None,
        description="The platform document this placement belongs to. Model specs write "
        "`{platform: NAME, placement: PLACEMENT, replicas: ...}` and the platform fills in the cloud, region, "
        "cluster and node pool; set by inferstack when it binds a spec to its platform.",
        json_schema_extra=_pattern(patterns.NAME),
    )
    capacity: list[str] = Field(
        default_factory=lambda: ["on_demand"],
        min_length=1,
        description="How GPU nodes are bought, most preferred first: on_demand, spot, flex_start (GCP Dynamic "
        "Workload Scheduler) or reservation:NAME (a GCP reservation or AWS capacity reservation id; YAML "
        "`- reservation: NAME` also works). The planner takes the first mode the node type is sold in.",
    )

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        modes = []
        for item in value:
            if isinstance(item, dict) and list(item) == ["reservation"]:
                item = f"reservation:{item['reservation']}"
            kind, sep, name = str(item).partition(":")
            if kind not in ("on_demand", "spot", "flex_start", "reservation") or bool(sep) != (kind == "reservation"):
                raise FieldProblem(f"{item!r} is not a capacity mode", "on_demand, spot, flex_start, reservation:NAME")
            if kind == "reservation" and not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", name):
                raise FieldProblem(
                    f"{name!r} is not a reservation name", "lowercase letters, digits and '-', e.g. cr-0123abcd"
                )
            modes.append(str(item))
        if len(set(modes)) != len(modes):
            raise FieldProblem("capacity modes must be unique", hint="name each mode once, most preferred first")
        return modes

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "placement name")

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str | None) -> str | None:
        return value if value is None else _dns_name(value, "platform name")

    @field_validator("network_cidr")
    @classmethod
    def _network_cidr(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            raise FieldProblem(
                f"{shown(value)} is not an IPv4 network", "a private /16 such as 10.42.0.0/16 (host bits zero)"
            ) from None
        if network.prefixlen != contract.NETWORK_PREFIX or not network.is_private:
            raise FieldProblem(
                "not a private /16", "a /16 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. 10.42.0.0/16"
            )
        return value

    def network(self, deployment: str) -> ipaddress.IPv4Network:
        """The placement's private /16: `network_cidr`, else the one derived from the names."""
        return ipaddress.IPv4Network(self.network_cidr or contract.default_network(deployment, self.name))

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _region_code(value)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        for zone in value:
            if not full(patterns.REGION, zone):
                raise FieldProblem(
                    f"{shown(zone)} is not a zone name", "lower-case letters, digits and '-', e.g. us-central1-a"
                )
        return value

    def cluster_name(self, deployment: str) -> str:
        """This placement's cluster name (see `contract.cluster_name`): the spec's name or kubeconfig
        context for the cluster, else `<deployment>-<placement>`."""
        return contract.cluster_name(deployment, self.name, self.cluster.name or self.cluster.context)


class Autoscaling(Strict):
    """How replicas scale between the placement bounds."""

    enabled: bool = Field(default=True, description="Scale on the engine's signal (KEDA).")
    signal: ScalingSignal = Field(default="queue_depth", description="queue_depth, kv_cache_usage or running_requests.")
    target: float = Field(
        default=4.0,
        gt=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="Signal value per replica at which to add a replica (kv_cache_usage: a fraction, 0 to 1).",
    )
    scale_down_delay_seconds: int = Field(
        default=600, ge=0, le=INT32_MAX, strict=True, description="Quiet time before removing a replica."
    )


#: The public image the fetcher script runs in: Docker Hub's python:3.12-slim, pinned to its multi-arch
#: index digest (as pinned in public Dockerfiles verified against the canonical index).
FETCHER_IMAGE = "python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea"


class Cache(Strict):
    """Where cached weights live so replicas start without re-downloading."""

    kind: CacheKind = Field(
        default="shared_volume",
        description="shared_volume: a ReadWriteMany file system filled once by a prefetch job; node_local: that "
        "file system copied once per node onto the node's NVMe; streaming: the engine streams s3:// or gs:// weights "
        "(no cache volume). Unset with slo.cold_start_s: the plan chooses.",
    )
    size_gib: int | None = Field(
        default=None,
        gt=0,
        le=1_048_576,
        strict=True,
        description="Volume size, at most 1 PiB; defaults to 1.25x the checkpoint, rounded up.",
    )
    fetcher_image: str = Field(
        default=FETCHER_IMAGE,
        description="Image the prefetch job runs the fetcher script in (any image with Python 3.11 or newer on "
        "PATH); defaults to the public python:3.12-slim, pinned by digest.",
        json_schema_extra=_pattern(patterns.IMAGE, MAX_IMAGE),
    )

    @field_validator("fetcher_image")
    @classmethod
    def _fetcher_image(cls, value: str) -> str:
        _image_reference(value)
        return value

    storage_class: str | None = Field(
        default=None,
        description="StorageClass of the cache volume; defaults to the one inferstack creates per cloud.",
        json_schema_extra=_pattern(patterns.SUBDOMAIN, 253),
    )

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) <= 253 and full(patterns.SUBDOMAIN, value)):
            raise FieldProblem(
                "not a StorageClass name", "a DNS-1123 name: lower-case letters, digits, '-' and '.', at most 253"
            )
        return value


class Compliance(Strict):
    """Rules the deployment must keep; checked at load, in `inferstack check`, and by the policy pack."""

    residency: str | None = Field(
        default=None, description="Residency group every region must belong to: us, eu, uk, ..."
    )
    allowed_regions: list[Annotated[str, Field(json_schema_extra=_pattern(patterns.REGION))]] = Field(
        default_factory=list, max_length=256, description="Regions allowed in addition to the residency group."
    )
    allowed_clouds: list[CloudName] = Field(default_factory=list, description="Clouds allowed; empty allows all.")
    allowed_gpus: list[str] = Field(default_factory=list, description="GPU SKUs allowed; empty allows all.")
    allowed_engines: list[EngineName] = Field(default_factory=list, description="Engines allowed; empty allows all.")
    allowed_quantizations: list[Quantization] = Field(
        default_factory=list, description="Weight formats allowed; empty allows all."
    )
    private_networking: bool = Field(default=True, description="No public endpoints, load balancers or node IPs.")
    encryption: bool = Field(default=True, description="Encrypt cluster secrets, caches and buckets at rest.")
    pin_images: bool = Field(default=False, description="Require engine images pinned by @sha256 digest.")
    pin_revisions: bool = Field(default=True, description="Require hf:// models pinned to a 40-hex commit.")
    monthly_budget: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Most the deployment may cost per month at max replicas, USD.",
    )

    @field_validator("allowed_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not full(patterns.REGION, region):
                raise FieldProblem(
                    f"{shown(region)} is not a region code", "1-63 lower-case letters, digits and '-', e.g. us-east-1"
                )
        return value

    @field_validator("residency")
    @classmethod
    def _residency(cls, value: str | None) -> str | None:
        groups = catalog.residency_groups()
        if value is not None and value not in groups:
            raise FieldProblem("unknown residency group", ", ".join(groups), suggestion=closest(value, groups))
        return value

    @field_validator("allowed_gpus")
    @classmethod
    def _gpus(cls, value: list[str]) -> list[str]:
        return [GpuRequest._sku(v) for v in value]


class Slo(Strict):
    """Service objectives; alerts are derived from them."""

    ttft_p95_ms: float = Field(
        default=2000,
        gt=0,
        le=MAX_LATENCY_MS,
        allow_inf_nan=False,
        description="95th percentile time to first token, milliseconds; at most e2e_p95_ms.",
    )
    e2e_p95_ms: float = Field(
        default=30000,
        gt=0,
        le=MAX_LATENCY_MS,
        allow_inf_nan=False,
        description="95th percentile end-to-end request latency, milliseconds.",
    )
    itl_p95_ms: float | None = Field(
        default=None,
        gt=0,
        le=MAX_LATENCY_MS,
        allow_inf_nan=False,
        description="95th percentile inter-token latency (the per-request streaming speed), milliseconds; "
        "no alert when unset.",
    )
    error_rate: float = Field(
        default=0.01, gt=0, lt=1, allow_inf_nan=False, description="Largest tolerated fraction of failed requests."
    )
    availability: float = Field(
        default=0.995, gt=0, lt=1, allow_inf_nan=False, description="Fraction of time the endpoint must serve."
    )
    cold_start_s: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        allow_inf_nan=False,
        description="Longest acceptable replica start (image pull, weights read, engine init), seconds; when set "
        "and cache.kind is not, the plan picks the cheapest cache tier that meets it.",
    )


class Workload(Strict):
    """The traffic the deployment must carry at peak, so the plan can size replicas and throughput."""

    peak_requests_per_s: float = Field(
        gt=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="Requests per second at the busiest time, all placements together.",
    )
    prompt_tokens: int = Field(gt=0, le=INT32_MAX, strict=True, description="Typical prompt length, tokens.")
    output_tokens: int = Field(gt=0, le=INT32_MAX, strict=True, description="Typical output length, tokens.")


class CostAssumptions(Strict):
    """Overrides for the cost estimate."""

    throughput_tokens_per_s: float | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        allow_inf_nan=False,
        description="Measured output tokens/s per replica; replaces the planner's roofline estimate.",
    )


class Routing(Strict):
    """The router in front of the replicas of one placement: it spreads requests so each replica's
    prefix cache is reused, and it is what lets replicas scale from zero."""

    enabled: bool = Field(default=True, description="Run the engine's router in front of the replicas.")
    policy: RoutingPolicy | None = Field(
        default=None,
        description="cache_aware (requests sharing a prefix go to the replica that holds it), power_of_two "
        "(the less loaded of two random replicas) or round_robin; defaults to cache_aware where the engine's "
        "router has it.",
    )
    replicas: int = Field(default=2, ge=1, le=16, strict=True, description="Router pods per placement.")


GlobalPolicy = Literal["weighted", "latency", "failover"]
#: A private DNS zone as each cloud names it: a Route 53 hosted zone id (Z...) or a Cloud DNS managed zone name.
DNS_ZONE = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"


class GlobalEndpoint(Strict):
    """One DNS name in a private zone that spreads clients over several placements' private endpoints,
    with health checks (Route 53 alias records, or a Cloud DNS routing policy). Its placements must be on
    one cloud; compliance rule INF014 fails one whose placements span more than one residency group."""

    name: str = Field(
        description="Short name of the global endpoint, used in resource names (a DNS label).",
        json_schema_extra=_pattern(patterns.NAME),
    )
    hostname: str = Field(
        description="The name clients resolve, inside `zone`, e.g. llama.inference.internal.",
        json_schema_extra=_pattern(patterns.SUBDOMAIN, 253),
    )
    zone: str = Field(
        description="The existing private zone the records go in: a Route 53 private hosted zone id (AWS) or "
        "a Cloud DNS private managed zone name (GCP), associated with the networks clients resolve from.",
        json_schema_extra=_pattern(DNS_ZONE),
    )
    policy: GlobalPolicy = Field(
        default="weighted",
        description="weighted: traffic in proportion to each placement's planned capacity; latency: the "
        "nearest healthy placement; failover: the first placement, the second when it is unhealthy.",
    )
    placements: list[Annotated[str, Field(json_schema_extra=_pattern(patterns.NAME))]] = Field(
        min_length=1,
        max_length=16,
        description="Names of the placements behind the name (failover: primary first, then backup).",
    )
    ttl_seconds: int = Field(
        default=60, ge=1, le=86_400, strict=True, description="How long resolvers keep an answer (Cloud DNS)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "global endpoint name")

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not (len(value) <= 253 and full(patterns.SUBDOMAIN, value) and "." in value):
            raise FieldProblem(
                "not a host name inside a zone",
                "labels of lower-case letters, digits and '-' joined by '.', at most 253 characters",
                "for example llama.inference.internal",
            )
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not full(DNS_ZONE, value):
            raise FieldProblem(
                "not a DNS zone id or name",
                "1-63 letters, digits and '-', e.g. Z0123456789ABCDEFGHIJ (Route 53) or inference-internal (Cloud DNS)",
            )
        return value

    @field_validator("placements")
    @classmethod
    def _placements(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise FieldProblem("placement names must be unique", hint="name each placement once")
        return value


TlsSource = Literal["cert_manager", "acm", "google_managed", "none"]
#: A Route 53 hosted zone id (the console's "Hosted zone ID", e.g. Z0123456789ABCDEFGHIJ).
ROUTE53_ZONE = r"Z[A-Z0-9]{1,31}"
#: Why `tls.source: google_managed` is refused. A GKE endpoint is a LoadBalancer Service, an internal
#: passthrough Network Load Balancer that forwards TCP and holds no certificate (cloud.google.com
#: load-balancing/docs/internal: "passthrough"); Certificate Manager's Google-managed certificates serve
#: only on target HTTPS/SSL proxies, e.g. the regional internal Application Load Balancer a GKE Gateway
#: of class gke-l7-rilb creates (cloud.google.com certificate-manager/docs/overview, "Supported load
#: balancers"), which inferstack does not build.
GOOGLE_MANAGED_REFUSAL = (
    "google_managed is not built: a GKE endpoint is an internal passthrough Network Load Balancer, which "
    "forwards TCP and holds no certificate, and Google-managed certificates (Certificate Manager) serve only "
    "on proxy load balancers such as the regional internal Application Load Balancer of a GKE Gateway "
    "(class gke-l7-rilb), which inferstack does not create"
)


def _dns_subdomain(value: str | None, problem: str, hint: str) -> str | None:
    if value is not None and not (len(value) <= 253 and full(patterns.SUBDOMAIN, value)):
        raise FieldProblem(problem, "lower-case labels of a-z, 0-9 and '-' joined by '.', at most 253", hint)
    return value


Exposure = Literal["private", "public"]


class EndpointClient(Strict):
    """One caller of the endpoint: its key comes from the secret config `inferstack:apiKeys`, never the spec."""

    name: str = Field(description="Client name: a DNS label; the key in inferstack:apiKeys.")
    requests_per_minute: int = Field(
        ge=1, le=1_000_000, strict=True, description="Requests per minute this client may send to each gateway pod."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "client name")


def _with_source_only(value: str | None, source: str | None, wanted: str, field: str, missing: FieldProblem) -> None:
    """Refuse a TLS field that `wanted` needs (`missing`) but is not given, or that is given for another source."""
    if value is None and source == wanted:
        raise missing
    if value is not None and source != wanted:
        raise FieldProblem(f"{field} only applies to source {wanted}, not {source}", hint="remove it")


class EndpointTls(Strict):
    """Where the endpoint's certificate comes from."""

    source: TlsSource = Field(
        description="cert_manager (a Certificate from the named issuer, served by the gateway), acm (on AWS: an "
        "ACM certificate validated in a Route 53 zone, served by the NLB) or none (plain HTTP, only for a private "
        "endpoint); google_managed is refused with the reason."
    )
    issuer: str | None = Field(
        default=None,
        description="The cert-manager ClusterIssuer that signs the certificate (with source cert_manager).",
        validate_default=True,
        json_schema_extra=_pattern(patterns.SUBDOMAIN, 253),
    )
    zone_id: str | None = Field(
        default=None,
        description="The Route 53 hosted zone where ACM's DNS validation records go (with source acm); it must "
        "be the public zone of the hostname's domain, since ACM resolves them from the internet.",
        validate_default=True,
        json_schema_extra=_pattern(ROUTE53_ZONE),
    )

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str | None, info: ValidationInfo) -> str | None:
        _with_source_only(
            value,
            info.data.get("source"),
            "cert_manager",
            "an issuer",
            FieldProblem(
                "cert_manager needs the issuer that signs the certificate",
                "the name of a cert-manager ClusterIssuer",
                "set endpoint.tls.issuer (kubectl get clusterissuers)",
            ),
        )
        return _dns_subdomain(value, "not a Kubernetes object name", "kubectl get clusterissuers")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value == "google_managed":
            raise FieldProblem(
                GOOGLE_MANAGED_REFUSAL,
                "cert_manager, acm (AWS placements) or none (private endpoints)",
                "set endpoint.tls.source: cert_manager with an issuer: the gateway then serves the certificate "
                "behind the internal load balancer",
            )
        return value

    @field_validator("zone_id")
    @classmethod
    def _zone_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        _with_source_only(
            value,
            info.data.get("source"),
            "acm",
            "a zone_id",
            FieldProblem(
                "acm validates the certificate with DNS records in a Route 53 hosted zone, and none is named",
                "the id of the public hosted zone that holds endpoint.hostname",
                "set endpoint.tls.zone_id (aws route53 list-hosted-zones-by-name --dns-name <hostname's domain>)",
            ),
        )
        if value is not None and not full(ROUTE53_ZONE, value):
            raise FieldProblem(
                "not a Route 53 hosted zone id",
                "Z followed by 1-31 upper-case letters and digits, e.g. Z0123456789ABCDEFGHIJ",
                "copy the Hosted zone ID from aws route53 list-hosted-zones",
            )
        return value


class Endpoint(Strict):
    """One authenticated endpoint per placement in front of its routers: API keys per client, a request
    rate per client, TLS, and routing by the OpenAI `model` field."""

    exposure: Exposure = Field(
        default="private",
        description="private (an internal load balancer, reachable inside the network) or public (allowed only "
        "when compliance.private_networking is false).",
    )
    hostname: str | None = Field(
        default=None,
        description="The name clients call; the certificate's name (required with tls.source cert_manager or acm).",
        json_schema_extra=_pattern(patterns.SUBDOMAIN, 253),
    )
    tls: EndpointTls = Field(description="The certificate's source.")
    clients: Annotated[list[EndpointClient], Field(min_length=1, max_length=256)] = Field(
        description="Who may call the endpoint (at least one), each with its rate limit."
    )
    replicas: int = Field(default=2, ge=1, le=16, strict=True, description="Gateway pods per placement.")
    image: str | None = Field(
        default=None,
        description="The gateway's HAProxy image; defaults to the official haproxy image of the release inferstack "
        "tests (pin it by digest where compliance.pin_images asks).",
        json_schema_extra=_pattern(patterns.IMAGE, MAX_IMAGE),
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return _image_reference(value)

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        return _dns_subdomain(value, "not a DNS name", "for example llm.example.com")

    @field_validator("tls")
    @classmethod
    def _tls(cls, value: EndpointTls, info: ValidationInfo) -> EndpointTls:
        if value.source == "none" and info.data.get("exposure") == "public":
            raise FieldProblem(
                "a public endpoint without TLS would send every API key over the internet in the clear",
                "source cert_manager or acm for a public endpoint",
                "set endpoint.tls.source: cert_manager with an issuer, or endpoint.exposure: private",
            )
        if value.source in ("cert_manager", "acm") and info.data.get("hostname") is None:
            raise FieldProblem(
                f"{value.source} needs the hostname the certificate names",
                "endpoint.hostname set",
                "set endpoint.hostname, e.g. llm.example.com",
            )
        return value

    @field_validator("clients")
    @classmethod
    def _clients(cls, value: list[EndpointClient]) -> list[EndpointClient]:
        names = [c.name for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise FieldProblem(f"client {twice[0]!r} is listed twice", "each client name once", "merge the entries")
        return value


class DeploymentSpec(Strict):
    """One model served in one or more placements, with its compliance rules and SLOs."""

    name: str = Field(
        description="Deployment name: a DNS label used in every resource name.",
        json_schema_extra=_pattern(patterns.NAME),
    )
    model: Model = Field(description="The checkpoint to serve.")
    engine: Engine = Field(description="The inference engine.")
    resources: Resources = Field(description="GPUs per replica.")
    placements: Annotated[list[Placement], Field(min_length=1)] = Field(
        description="Where replicas run (at least one)."
    )
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Scaling on LLM signals.")
    cache: Cache = Field(default_factory=Cache, description="Weight cache.")
    compliance: Compliance = Field(default_factory=Compliance, description="Compliance rules.")
    slo: Slo = Field(default_factory=Slo, description="Service objectives.")
    cost: CostAssumptions = Field(default_factory=CostAssumptions, description="Cost estimate overrides.")
    workload: Workload | None = Field(default=None, description="Peak traffic; sizes replicas when given.")
    routing: Routing = Field(default_factory=Routing, description="The router in front of the replicas.")
    endpoint: Endpoint | None = Field(
        default=None, description="One authenticated endpoint per placement in front of its routers; none by default."
    )
    global_endpoints: list[GlobalEndpoint] = Field(
        default_factory=list,
        max_length=16,
        description="DNS names that spread clients over several placements, each inside one residency group.",
    )
    team: str | None = Field(
        default=None,
        description="The platform team that owns this model: its objects go to the team's namespace, under "
        "the team's GPU quota and budget. Only for specs on a platform.",
        json_schema_extra=_pattern(patterns.NAME),
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "deployment name")

    @field_validator("team")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        return value if value is None else _dns_name(value, "team name")

    @property
    def namespace(self) -> str:
        """The Kubernetes namespace of this model's objects: its team's (shared, created by the
        platform) when it has a team, else its own, named after the deployment."""
        return self.team or self.name

    @property
    def served_name(self) -> str:
        return self.model.served_name or self.name

    def placement(self, name: str) -> Placement:
        """The placement called `name`; ValueError naming the placements there are."""
        for candidate in self.placements:
            if candidate.name == name:
                return candidate
        known = ", ".join(p.name for p in self.placements)
        raise ValueError(f"spec {self.name!r} has no placement named {name!r}; placements: {known}")

    @property
    def quantization(self) -> str:
        """The weight format actually served: the spec's choice, else the checkpoint's own."""
        if self.engine.quantization:
            return self.engine.quantization
        return resolve_architecture(self).native_quantization or "none"

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> DeploymentSpec:
        if isinstance(info.context, dict) and info.context.get("rules") is False:
            return self
        violations = spec_violations(self)
        if violations:
            raise RuleViolations(violations)
        return self
