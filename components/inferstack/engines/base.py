"""The engine adapter interface, the metric and probe records adapters declare, and where the
checkpoint sits inside a serving container."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inferstack import catalog

if TYPE_CHECKING:
    from inferstack.plan import Plan

#: Where the weight cache is mounted (read-only) in serving pods.
MODELS_DIR = "/models"


@dataclass(frozen=True)
class Metrics:
    """Prometheus metric names an engine exports. None: the engine has no such metric."""

    path: str
    model_label: str
    requests_running: str | None
    requests_waiting: str | None
    kv_cache_usage: str | None
    ttft_seconds: str | None
    inter_token_seconds: str | None
    e2e_seconds: str | None
    prompt_tokens: str | None
    generation_tokens: str | None
    preemptions: str | None
    request_success: str | None
    #: Label matcher that selects failed requests within `request_success` (engines that count every
    #: finished request there, by reason); None when failures can only be inferred.
    failure_matcher: str | None = None

    def declared(self) -> set[str]:
        """Every series name these metrics produce (histograms as _bucket/_sum/_count)."""
        names: set[str] = set()
        for key in (
            "requests_running",
            "requests_waiting",
            "kv_cache_usage",
            "prompt_tokens",
            "generation_tokens",
            "preemptions",
            "request_success",
        ):
            if (name := getattr(self, key)) is not None:
                names.add(name)
        for key in ("ttft_seconds", "inter_token_seconds", "e2e_seconds"):
            if (name := getattr(self, key)) is not None:
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        return names


@dataclass(frozen=True)
class Probes:
    startup: str
    readiness: str
    liveness: str


@dataclass(frozen=True)
class EngineAdapter:
    """How to run and observe one engine. Subclasses implement `args`."""

    name: str
    image_repository: str
    image_tag_format: str
    port: int
    probes: Probes
    metrics: Metrics
    command: tuple[str, ...]
    shutdown_seconds: int
    #: Autoscaling signal -> the gauge that carries it (the signals are the catalog's `scaling_signals`).
    scaling_metrics: dict[str, str] = field(default_factory=dict)
    #: The engine's flag for the most requests a replica runs at once.
    concurrency_flag: str = "--max-num-seqs"

    @property
    def capabilities(self) -> catalog.EngineCapabilities:
        """What the engine can do, as the spec rules judge it (catalog/data/engines.yaml)."""
        return catalog.engine_capabilities()[self.name]

    def image(self, plan: Plan) -> str:
        """The spec's image if given (kept verbatim, digest included), else the official tag."""
        return (
            plan.spec.engine.image
            or f"{self.image_repository}:{self.image_tag_format.format(version=plan.spec.engine.version)}"
        )

    def model_path(self, plan: Plan) -> str:
        return model_path(plan)

    def args(self, plan: Plan) -> list[str]:
        """Every argument: the engine's own (`engine_args`), the concurrency cap, then the spec's extras."""
        args = self.engine_args(plan)
        if (limit := plan.spec.engine.max_concurrent_requests) is not None:
            args += [self.concurrency_flag, str(limit)]
        if (speculative := plan.spec.engine.speculative) is not None:
            args += self.speculative_args(speculative.method, speculative.num_tokens)
        return args + list(plan.spec.engine.extra_args)

    def group_args(self, plan: Plan, leader: bool) -> list[str]:
        """Arguments of the engine process on one node of a multi-node replica (the leader's, or every
        worker's); engines that cannot span nodes refuse (catalog multinode.yaml says why)."""
        raise UnsupportedFeature(self.name, "multi-node replicas", [])

    def speculative_args(self, method: str, num_tokens: int) -> list[str]:
        raise UnsupportedFeature(
            self.name, f"speculative decoding ({method})", sorted(self.capabilities.speculative_methods)
        )

    def engine_args(self, plan: Plan) -> list[str]:
        raise NotImplementedError

    def env(self, plan: Plan) -> dict[str, str]:
        """Serving pods never reach the hub: weights come from the read-only cache only."""
        return {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": "/tmp/hf-home",
            "DO_NOT_TRACK": "1",
        }

    def scaling_query(self, signal: str, served_name: str) -> str:
        """PromQL for the autoscaling signal, summed over the deployment's pods."""
        metric = self.scaling_metrics.get(signal)
        if metric is None:
            raise UnsupportedFeature(self.name, f"autoscaling on {signal}", sorted(self.scaling_metrics))
        aggregate = "avg" if signal == "kv_cache_usage" else "sum"
        return f'{aggregate}({metric}{{{self.metrics.model_label}="{served_name}"}})'


class UnknownEngine(LookupError):
    pass


class UnsupportedFeature(ValueError):
    """An engine cannot do what the spec asks; the message says what it can do instead."""

    def __init__(self, engine: str, feature: str, supported: list[str]):
        self.engine, self.feature, self.supported = engine, feature, supported
        choice = ", ".join(supported) if supported else "none"
        super().__init__(f"{engine} does not support {feature}; supported: {choice}")


def model_path(plan: Plan) -> str:
    """Where the checkpoint sits inside the serving container."""
    model = plan.spec.model
    if plan.cold_start.tier == "streaming":  # the engine streams the weights from the bucket
        return model.source
    if model.scheme == "pvc":
        return f"{MODELS_DIR}/{model.location.split('/', 1)[1] if '/' in model.location else ''}".rstrip("/")
    return f"{MODELS_DIR}/{cache_subpath(plan)}"


def adapter_paths(plan: Plan) -> list[tuple[str, str]]:
    """(served name, path in the container) of each LoRA adapter the prefetch job fetched."""
    return [(a.name, f"{model_path(plan)}/adapters/{a.name}") for a in plan.spec.model.lora_adapters]


def cache_subpath(plan: Plan) -> str:
    """Directory inside the cache volume the prefetch job fills: source path plus revision."""
    model = plan.spec.model
    location = model.location.strip("/").replace("/", "--")
    return f"{model.scheme}--{location}" + (f"/{model.revision}" if model.revision else "")
