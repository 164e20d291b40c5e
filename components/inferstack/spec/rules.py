"""Cross-field rules judged from the spec alone, each returning `Violation`s with a field path.

These run inside `DeploymentSpec`'s model validator, so a spec object that exists is one that passed
them. Compliance rules that can be judged here (region lock, allowed clouds/GPUs/engines/
quantizations, pinning) are checked at load time so users hear about them first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from inferstack import catalog
from inferstack.spec.architecture import UnknownArchitecture, resolve_architecture
from inferstack.spec.suggest import closest
from inferstack.spec.values import FP8_WEIGHT_FORMATS, Violation, is_commit, is_pinned

if TYPE_CHECKING:
    from inferstack.spec.models import DeploymentSpec

Rule = Callable[["DeploymentSpec"], Iterator[Violation]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def spec_violations(spec: DeploymentSpec) -> list[Violation]:
    return [v for check in RULES for v in check(spec)]


def _listing(values: list[str]) -> str:
    return ", ".join(values)


def _count(n: int) -> str:
    return {1: "one", 2: "two", 3: "three"}.get(n, str(n))


@rule
def architecture_known(spec: DeploymentSpec) -> Iterator[Violation]:
    try:
        resolve_architecture(spec)
    except UnknownArchitecture as exc:
        yield Violation(exc.field, exc.value, exc.problem, exc.allowed, exc.hint, exc.suggestion)


@rule
def revision_pinned(spec: DeploymentSpec) -> Iterator[Violation]:
    model = spec.model
    if model.scheme != "hf":
        if model.revision is not None:
            yield Violation(
                "model.revision",
                model.revision,
                f"a revision applies to hf:// sources only, not {model.scheme}://",
                hint="remove model.revision; pin object-store sources by a versioned prefix",
            )
        return
    if model.revision is None:
        yield Violation(
            "model.revision",
            None,
            "hf:// models need a revision",
            "a 40-hex commit hash",
            "copy the commit from the model page's 'Files and versions' tab",
        )
    elif spec.compliance.pin_revisions and not is_commit(model.revision):
        yield Violation(
            "model.revision",
            model.revision,
            "compliance.pin_revisions requires a commit hash, not a branch or tag",
            "a 40-hex commit hash (lower case)",
            "replace it with the commit it points to today",
        )


@rule
def context_within_model(spec: DeploymentSpec) -> Iterator[Violation]:
    try:
        arch = resolve_architecture(spec)
    except UnknownArchitecture:
        return
    if spec.model.max_context > arch.max_position:
        yield Violation(
            "model.max_context",
            spec.model.max_context,
            f"longer than the model's max_position_embeddings ({arch.max_position})",
            f"1 to {arch.max_position}",
            "lower model.max_context",
        )


@rule
def tensor_parallel_divides_heads(spec: DeploymentSpec) -> Iterator[Violation]:
    count = spec.resources.gpu.count
    try:
        arch = resolve_architecture(spec)
    except UnknownArchitecture:
        return
    allowed = arch.tp_choices()
    if count is not None and count not in allowed:
        yield Violation(
            "resources.gpu.count",
            count,
            f"tensor parallel size {count} does not split the model's {arch.attention_heads} attention heads "
            f"and {arch.kv_heads} KV heads evenly",
            _listing([str(tp) for tp in allowed]),
            "pick a GPU count from the allowed list, or omit it to let the planner choose",
        )


@rule
def weight_format_supported_by_gpu(spec: DeploymentSpec) -> Iterator[Violation]:
    try:
        quant = spec.quantization
    except UnknownArchitecture:
        return
    gpu = catalog.gpus()[spec.resources.gpu.sku]
    fp8_gpus = sorted(sku for sku, g in catalog.gpus().items() if g.fp8)
    if quant in FP8_WEIGHT_FORMATS and not gpu.fp8:
        source = "" if spec.engine.quantization else " (the checkpoint's own format)"
        yield Violation(
            "engine.quantization",
            quant,
            f"{quant}{source} needs a GPU with FP8 support and {gpu.sku} has none",
            f"GPUs with FP8: {_listing(fp8_gpus)}",
            "choose one of those GPUs, or a checkpoint and quantization the GPU supports (none, awq, gptq, int8)",
        )
    if quant == "nvfp4" and gpu.sku != "B200":
        yield Violation("engine.quantization", quant, f"nvfp4 needs a Blackwell GPU, not {gpu.sku}", "B200")


@rule
def placements_valid(spec: DeploymentSpec) -> Iterator[Violation]:
    seen: set[str] = set()
    known_regions = catalog.regions()
    for i, placement in enumerate(spec.placements):
        at = f"placements[{i}]"
        if placement.name in seen:
            yield Violation(f"{at}.name", placement.name, "placement names must be unique", hint="rename one of them")
        seen.add(placement.name)
        profile = catalog.cloud_profile(placement.cloud)
        if placement.cloud in known_regions and placement.region not in known_regions[placement.cloud]:
            choices = sorted(known_regions[placement.cloud])
            yield Violation(
                f"{at}.region",
                placement.region,
                f"not a {placement.cloud} region",
                _listing(choices),
                suggestion=closest(placement.region, choices),
            )
        for j, zone in enumerate(placement.zones):
            if not zone.startswith(placement.region):
                yield Violation(
                    f"{at}.zones[{j}]",
                    zone,
                    f"zone is not in region {placement.region}",
                    f"zones of {placement.region}, e.g. {profile.zone_example.format(region=placement.region)}",
                )
        cluster = placement.cluster
        if placement.price_per_gpu_hour is not None and profile.priced_from_catalog:
            yield Violation(
                f"{at}.price_per_gpu_hour",
                placement.price_per_gpu_hour,
                f"{placement.cloud} placements are priced from the catalog",
                hint="remove it",
            )
        if not profile.creates_clusters and cluster.kind != "existing":
            builders = [p.name for p in catalog.cloud_profiles().values() if p.creates_clusters]
            yield Violation(
                f"{at}.cluster.kind",
                cluster.kind,
                f"inferstack creates clusters on {' and '.join(builders)} only",
                "existing",
                "set cluster.kind: existing and give cluster.kubeconfig or cluster.context",
            )
        if cluster.kind == "existing" and not profile.creates_clusters and not (cluster.kubeconfig or cluster.context):
            yield Violation(
                f"{at}.cluster",
                None,
                "an existing kubernetes cluster needs a way to reach it",
                hint="set cluster.kubeconfig (a file path) or cluster.context",
            )
        if cluster.kind == "existing" and profile.creates_clusters and not cluster.name:
            yield Violation(
                f"{at}.cluster.name",
                None,
                f"an existing {placement.cloud} cluster is looked up by name",
                hint="set cluster.name to the cluster's name",
            )
        if cluster.kind == "new" and (cluster.prometheus_operator or cluster.prometheus_url):
            yield Violation(
                f"{at}.cluster",
                None,
                "prometheus_operator and prometheus_url describe existing clusters",
                hint="remove them: new clusters get kube-prometheus-stack",
            )
        if cluster.kind == "existing" and cluster.operator_cidrs:
            yield Violation(
                f"{at}.cluster.operator_cidrs",
                cluster.operator_cidrs,
                "inferstack does not manage an existing cluster's API access",
                hint="remove it",
            )
        scales = spec.autoscaling.enabled and placement.replicas.max > placement.replicas.min
        if cluster.kind == "existing" and scales and not cluster.prometheus_url:
            yield Violation(
                f"{at}.cluster.prometheus_url",
                None,
                "KEDA scales on the engine's metrics and needs the cluster's Prometheus",
                hint="set cluster.prometheus_url (e.g. http://prometheus-operated.monitoring.svc:9090), "
                "or set autoscaling.enabled: false",
            )
        if placement.zones and len(placement.zones) < profile.min_zones:
            yield Violation(
                f"{at}.zones",
                placement.zones,
                f"{profile.cluster_product} needs subnets in at least {_count(profile.min_zones)} zones",
                f"{_count(profile.min_zones)} or more zones of {placement.region}",
                "add a zone, or omit zones to use the region's first three",
            )
        if cluster.instance_type is not None:
            shapes = sorted(
                o.node_type
                for o in catalog.offerings()
                if o.cloud == placement.cloud and o.gpu == spec.resources.gpu.sku
            )
            if cluster.instance_type not in shapes:
                yield Violation(
                    f"{at}.cluster.instance_type",
                    cluster.instance_type,
                    f"not a {placement.cloud} node type with {spec.resources.gpu.sku} GPUs",
                    _listing(shapes) or "none in the catalog",
                    suggestion=closest(cluster.instance_type, shapes),
                )


def region_allowed(region: str, residency: str | None, allowed_regions: list[str]) -> bool:
    """True when a region is inside the lock; no lock at all allows every region."""
    if residency is None and not allowed_regions:
        return True
    return region in allowed_regions or (residency is not None and catalog.region_group(region) == residency)


def describe_lock(residency: str | None, allowed_regions: list[str]) -> str:
    parts = []
    if residency:
        parts.append(f"regions of residency group {residency!r}")
    if allowed_regions:
        parts.append("regions " + _listing(allowed_regions))
    return " or ".join(parts)


@rule
def compliance_allows(spec: DeploymentSpec) -> Iterator[Violation]:
    rules = spec.compliance
    known_regions = catalog.regions()
    for i, placement in enumerate(spec.placements):
        unknown_region = placement.cloud in known_regions and placement.region not in known_regions[placement.cloud]
        if not unknown_region and not region_allowed(placement.region, rules.residency, rules.allowed_regions):
            yield Violation(
                f"placements[{i}].region",
                placement.region,
                "outside the compliance region lock",
                describe_lock(rules.residency, rules.allowed_regions),
                "move the placement into the lock, or widen compliance.allowed_regions if policy permits",
            )
        if rules.allowed_clouds and placement.cloud not in rules.allowed_clouds:
            yield Violation(
                f"placements[{i}].cloud",
                placement.cloud,
                "cloud not allowed by compliance.allowed_clouds",
                _listing(rules.allowed_clouds),
            )
    if rules.allowed_gpus and spec.resources.gpu.sku not in rules.allowed_gpus:
        yield Violation(
            "resources.gpu.sku",
            spec.resources.gpu.sku,
            "GPU not allowed by compliance.allowed_gpus",
            _listing(rules.allowed_gpus),
        )
    if rules.allowed_engines and spec.engine.name not in rules.allowed_engines:
        yield Violation(
            "engine.name",
            spec.engine.name,
            "engine not allowed by compliance.allowed_engines",
            _listing(rules.allowed_engines),
        )
    if rules.allowed_quantizations:
        try:
            quant = spec.quantization
        except UnknownArchitecture:
            return
        if quant not in rules.allowed_quantizations:
            yield Violation(
                "engine.quantization",
                quant,
                "weight format not allowed by compliance.allowed_quantizations",
                _listing(rules.allowed_quantizations),
                "" if spec.engine.quantization else "the checkpoint ships in this format; choose another checkpoint",
            )
    if rules.pin_images:
        images = [("engine.image", spec.engine.image)]
        if spec.model.scheme != "pvc":
            images.append(("cache.fetcher_image", spec.cache.fetcher_image))
        for path, image in images:
            if not is_pinned(image):
                yield Violation(
                    path,
                    image,
                    "compliance.pin_images requires an image pinned by digest",
                    "an image reference ending in @sha256:<64 hex>",
                    "append the digest your registry reports for the tag",
                )


def _engine(spec: DeploymentSpec) -> catalog.EngineCapabilities:
    return catalog.engine_capabilities()[spec.engine.name]


@rule
def autoscaling_signal_supported(spec: DeploymentSpec) -> Iterator[Violation]:
    scaling = spec.autoscaling
    supported = sorted(_engine(spec).scaling_signals)
    if scaling.enabled and scaling.signal not in supported:
        yield Violation(
            "autoscaling.signal",
            scaling.signal,
            f"{spec.engine.name} exports no Prometheus metric for this signal",
            ", ".join(supported) or "none: set autoscaling.enabled to false",
        )
    if scaling.signal == "kv_cache_usage" and scaling.target > 1:
        yield Violation(
            "autoscaling.target",
            scaling.target,
            "KV-cache usage is a fraction of the pool",
            "greater than 0, at most 1",
            "for 80 % write 0.8",
        )


@rule
def lora_supported(spec: DeploymentSpec) -> Iterator[Violation]:
    adapters = [f"{a.name}={a.source}" for a in spec.model.lora_adapters]
    if adapters and spec.model.scheme == "pvc":
        yield Violation(
            "model.lora_adapters",
            adapters,
            "adapters are fetched by the prefetch job, which pvc:// models do not have",
            hint="put the adapters on the volume and name them in engine.extra_args",
        )
    if adapters and not _engine(spec).serves_lora:
        yield Violation(
            "model.lora_adapters",
            adapters,
            f"{spec.engine.name} cannot serve LoRA adapters here",
            "vllm, sglang, tgi",
            "merge the adapters into the checkpoint or choose another engine",
        )


@rule
def quantization_supported_by_engine(spec: DeploymentSpec) -> Iterator[Violation]:
    supported = _engine(spec).quantizations
    wanted = spec.engine.quantization
    if wanted is not None and wanted not in supported:
        yield Violation(
            "engine.quantization",
            wanted,
            f"{spec.engine.name} cannot quantize weights to {wanted} at load time",
            ", ".join(sorted(supported)),
            "serve a checkpoint already in that format (leave engine.quantization unset)",
        )


@rule
def speculative_supported(spec: DeploymentSpec) -> Iterator[Violation]:
    speculative = spec.engine.speculative
    methods = _engine(spec).speculative_methods
    if speculative is not None and speculative.method not in methods:
        yield Violation(
            "engine.speculative.method",
            speculative.method,
            f"{spec.engine.name} does not run this speculative decoding",
            ", ".join(sorted(methods)) or "none: remove engine.speculative",
        )


@rule
def one_architecture_source(spec: DeploymentSpec) -> Iterator[Violation]:
    if spec.model.architecture is not None and spec.model.config is not None:
        yield Violation(
            "model.config",
            spec.model.config,
            "both model.architecture and model.config are set",
            hint="keep one: the catalog name, or the checkpoint's config.json",
        )


@rule
def workload_fits_context(spec: DeploymentSpec) -> Iterator[Violation]:
    workload = spec.workload
    if workload is not None and workload.prompt_tokens + workload.output_tokens > spec.model.max_context:
        yield Violation(
            "workload",
            workload.prompt_tokens + workload.output_tokens,
            f"prompt plus output tokens exceed model.max_context ({spec.model.max_context})",
            f"at most {spec.model.max_context} tokens in all",
            "raise model.max_context or correct the workload",
        )


#: Engine settings an engine may not let the spec change, with the value it always runs with.
_FIXED_DEFAULTS = {"kv_cache_dtype": "auto", "prefix_caching": True}


@rule
def engine_settings_supported(spec: DeploymentSpec) -> Iterator[Violation]:
    configurable = _engine(spec).configurable
    for setting, engine_value in _FIXED_DEFAULTS.items():
        wanted = getattr(spec.engine, setting)
        if setting not in configurable and wanted != engine_value:
            others = sorted(n for n, c in catalog.engine_capabilities().items() if setting in c.configurable)
            yield Violation(
                f"engine.{setting}",
                wanted,
                f"{spec.engine.name} always runs with {setting} {engine_value!r} and cannot be told otherwise",
                repr(engine_value),
                f"remove engine.{setting}, or choose an engine that sets it: {_listing(others)}",
            )
