"""Cross-field rules judged from the spec alone, each returning `Violation`s with a field path.

These run inside `DeploymentSpec`'s model validator, so a spec object that exists is one that passed
them. Compliance rules that can be judged here (region lock, allowed clouds/GPUs/engines/
quantizations, pinning) are checked at load time so users hear about them first.

When some fields failed validation, the loader runs the rules on a view of the spec that stops a rule
the moment it reads a failed field (`spec.partial`): so rules are small and read only what they judge,
and per-placement rules (`placement_rule`) run for each placement separately.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from inferstack import catalog, contract
from inferstack.catalog import cloud_facts, dns, endpoints, multinode, routers
from inferstack.spec.architecture import UnknownArchitecture, resolve_architecture
from inferstack.spec.partial import run_guarded
from inferstack.spec.suggest import closest
from inferstack.spec.values import FP8_WEIGHT_FORMATS, Violation, is_commit, is_pinned

if TYPE_CHECKING:
    from inferstack.spec.models import DeploymentSpec, Placement

Rule = Callable[["DeploymentSpec"], Iterator[Violation]]
PlacementRule = Callable[["DeploymentSpec", int, "Placement"], Iterator[Violation]]
RULES: list[Rule] = []
PLACEMENT_RULES: list[PlacementRule] = []

#: Longest Kubernetes label value (app.kubernetes.io/instance is `<name>-<placement>`).
LABEL_VALUE_MAX = 63
#: Longest Kubernetes object name that is also a DNS label (Service, Namespace, Job's pod label).
DNS_LABEL_MAX = 63
#: Top-level entries `inferstack render` writes beside the placement folders (see render.contents;
#: tests/unit/spec checks this list against a real render): a placement may not be named like one.
RENDER_TOP_LEVEL = ("dashboards", "rules", "plan.json", "plan.txt")


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def placement_rule(fn: PlacementRule) -> PlacementRule:
    PLACEMENT_RULES.append(fn)
    return fn


def spec_violations(spec: DeploymentSpec) -> list[Violation]:
    """Every cross-field violation, each tagged with the rule that found it. On a partial view (see
    `spec.partial`) a rule stops where it reads a failed field."""
    return [dataclasses.replace(v, rule=v.rule or check.__name__) for check in RULES for v in run_guarded(check, spec)]


def _listing(values: Sequence[str]) -> str:
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
    if count is not None and count <= multinode.SINGLE_NODE_MAX_GPUS and count not in allowed:
        yield Violation(
            "resources.gpu.count",
            count,
            f"tensor parallel size {count} does not split the model's {arch.attention_heads} attention heads "
            f"and {arch.kv_heads} KV heads evenly",
            _listing([str(tp) for tp in allowed]),
            "pick a GPU count from the allowed list, or omit it to let the planner choose",
        )


@rule
def replica_spans_nodes(spec: DeploymentSpec) -> Iterator[Violation]:
    """A GPU count above one node's must be a layout the engine can launch over nodes (catalog multinode)."""
    count, engine = spec.resources.gpu.count, spec.engine.name
    if count is None or count <= multinode.SINGLE_NODE_MAX_GPUS:
        return
    try:
        arch = resolve_architecture(spec)
    except UnknownArchitecture:
        return
    span = multinode.engine_spans()[engine]
    if span.refused:
        yield Violation(
            "resources.gpu.count",
            count,
            f"more GPUs than one node holds ({multinode.SINGLE_NODE_MAX_GPUS}), and {engine} cannot spread a "
            f"replica over nodes: {span.refused}",
            f"1 to {multinode.SINGLE_NODE_MAX_GPUS} with {engine}",
            "use vllm or sglang for a multi-node replica, or a larger GPU or smaller quantization on one node",
        )
        return
    sku = spec.resources.gpu.sku
    layouts = multinode.multi_node_topologies(arch, engine, sku)
    if not layouts:
        yield Violation(
            "resources.gpu.count",
            count,
            f"more GPUs than one node holds ({multinode.SINGLE_NODE_MAX_GPUS}), and no {sku} node type has an "
            "inter-node GPU fabric (EFA, GPUDirect-TCPX/TCPXO or RDMA) to spread a replica over nodes",
            _listing([str(tp) for tp in arch.tp_choices()]),
            "pick a count from the allowed list, or a GPU whose nodes have a fabric (H100, H200, A100)",
        )
    elif multinode.requested_topology(arch, engine, sku, count) is None:
        yield Violation(
            "resources.gpu.count",
            count,
            f"not a multi-node layout {engine} can launch for this model on {sku} nodes",
            _listing([str(tp) for tp in arch.tp_choices()] + [f"{t.gpus} ({t.describe()})" for t in layouts]),
            "pick a count from the allowed list, or omit it to let the planner choose",
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
    """Each placement rule, placement by placement (a failed field stops one rule for one placement)."""
    for i, placement in enumerate(spec.placements):
        for check in PLACEMENT_RULES:
            yield from (dataclasses.replace(v, rule=check.__name__) for v in run_guarded(check, spec, i, placement))


@placement_rule
def placement_name_unique(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    earlier = [spec.placements[j].name for j in range(i)]
    if placement.name in earlier:
        yield Violation(
            f"placements[{i}].name", placement.name, "placement names must be unique", hint="rename one of them"
        )


@placement_rule
def region_known(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    known_regions = catalog.regions()
    if placement.cloud in known_regions and placement.region not in known_regions[placement.cloud]:
        choices = sorted(known_regions[placement.cloud])
        yield Violation(
            f"placements[{i}].region",
            placement.region,
            f"not a {placement.cloud} region",
            _listing(choices),
            suggestion=closest(placement.region, choices),
        )


def region_zones(cloud: str, region: str) -> tuple[str, ...] | None:
    """Zones of a region known from the catalog's cloud facts (zones offering any GPU node type of the
    cloud); None when no source gives zones for the cloud, so zones cannot be checked."""
    found: set[str] = set()
    known = False
    for node_type in sorted({o.node_type for o in catalog.offerings() if o.cloud == cloud}):
        try:
            zones = cloud_facts.gpu_zones(cloud, region, node_type)
        except cloud_facts.UnknownNodeType:
            continue
        if zones is not None:
            known = True
            found.update(zones)
    return tuple(sorted(found)) if known else None


@placement_rule
def zones_in_region(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    profile = catalog.cloud_profile(placement.cloud)
    known = region_zones(placement.cloud, placement.region) if placement.zones else None
    seen: set[str] = set()
    for j, zone in enumerate(placement.zones):
        if not zone.startswith(placement.region):
            yield Violation(
                f"placements[{i}].zones[{j}]",
                zone,
                f"zone is not in region {placement.region}",
                f"zones of {placement.region}, e.g. {profile.zone_example.format(region=placement.region)}",
            )
        elif zone in seen:
            yield Violation(f"placements[{i}].zones[{j}]", zone, "zone listed twice", hint="list each zone once")
        elif known is not None and zone not in known:
            yield Violation(
                f"placements[{i}].zones[{j}]",
                zone,
                f"not a zone of {placement.region} with GPU nodes in the catalog",
                _listing(list(known)) or f"none: the catalog lists no GPU zones in {placement.region}",
                suggestion=closest(zone, list(known)),
            )
        seen.add(zone)


@placement_rule
def placement_cluster(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    at = f"placements[{i}]"
    profile = catalog.cloud_profile(placement.cloud)
    if placement.price_per_gpu_hour is not None and profile.priced_from_catalog:
        yield Violation(
            f"{at}.price_per_gpu_hour",
            placement.price_per_gpu_hour,
            f"{placement.cloud} placements are priced from the catalog",
            hint="remove it",
        )
    cluster = placement.cluster
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


@placement_rule
def prometheus_for_scaling(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    cluster = placement.cluster
    scales = spec.autoscaling.enabled and placement.replicas.max > placement.replicas.min
    if cluster.kind == "existing" and scales and not cluster.prometheus_url:
        yield Violation(
            f"placements[{i}].cluster.prometheus_url",
            None,
            "KEDA scales on the engine's metrics and needs the cluster's Prometheus",
            hint="set cluster.prometheus_url (e.g. http://prometheus-operated.monitoring.svc:9090), "
            "or set autoscaling.enabled: false",
        )


@placement_rule
def enough_zones(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    profile = catalog.cloud_profile(placement.cloud)
    if placement.zones and len(placement.zones) < profile.min_zones:
        yield Violation(
            f"placements[{i}].zones",
            placement.zones,
            f"{profile.cluster_product} needs subnets in at least {_count(profile.min_zones)} zones",
            f"{_count(profile.min_zones)} or more zones of {placement.region}",
            "add a zone, or omit zones to use the region's first three",
        )


@placement_rule
def instance_type_offered(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    cluster = placement.cluster
    if cluster.instance_type is not None:
        shapes = sorted(
            o.node_type for o in catalog.offerings() if o.cloud == placement.cloud and o.gpu == spec.resources.gpu.sku
        )
        if cluster.instance_type not in shapes:
            yield Violation(
                f"placements[{i}].cluster.instance_type",
                cluster.instance_type,
                f"not a {placement.cloud} node type with {spec.resources.gpu.sku} GPUs",
                _listing(shapes) or "none in the catalog",
                suggestion=closest(cluster.instance_type, shapes),
            )


@placement_rule
def placement_name_not_reserved(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    if placement.name in RENDER_TOP_LEVEL:
        yield Violation(
            f"placements[{i}].name",
            placement.name,
            "`inferstack render` writes a folder of that name beside the placement folders",
            f"any DNS label but {_listing(list(RENDER_TOP_LEVEL[:2]))}",
            f"rename it, e.g. {placement.name[:30]}-{placement.region}"[:200],
        )


@placement_rule
def generated_names_fit(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    instance = contract.labels(spec.name, placement.name, "inference")[contract.LABEL_INSTANCE]
    if len(instance) > LABEL_VALUE_MAX:
        yield Violation(
            f"placements[{i}].name",
            placement.name,
            f"the label {contract.LABEL_INSTANCE}={instance!r} would be {len(instance)} characters, "
            f"more than Kubernetes' {LABEL_VALUE_MAX}",
            f"name and placement name together at most {LABEL_VALUE_MAX - 1} characters",
            "shorten the placement name (or the spec name)",
        )
    if placement.cluster.kind == "new" and catalog.cloud_profile(placement.cloud).creates_clusters:
        cluster = contract.cluster_name(spec.name, placement.name, placement.cluster.name)
        limit = _CLUSTER_NAME_MAX.get(placement.cloud)
        if limit is not None and len(cluster) > limit:
            yield Violation(
                f"placements[{i}].name",
                placement.name,
                f"the cluster name {cluster!r} would be {len(cluster)} characters, more than "
                f"{catalog.cloud_profile(placement.cloud).cluster_product}'s {limit}",
                f"name and placement name together at most {limit - 1} characters",
                "shorten the placement name (or the spec name), or set cluster.name",
            )


#: Longest cluster name each cloud accepts (GKE: 40, EKS: 100).
_CLUSTER_NAME_MAX = {"gcp": 40, "aws": 100}


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


@placement_rule
def region_in_lock(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    rules = spec.compliance
    known_regions = catalog.regions()
    unknown_region = placement.cloud in known_regions and placement.region not in known_regions[placement.cloud]
    if not unknown_region and not region_allowed(placement.region, rules.residency, rules.allowed_regions):
        yield Violation(
            f"placements[{i}].region",
            placement.region,
            "outside the compliance region lock",
            describe_lock(rules.residency, rules.allowed_regions),
            "move the placement into the lock, or widen compliance.allowed_regions if policy permits",
        )


@placement_rule
def cloud_allowed(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    rules = spec.compliance
    if rules.allowed_clouds and placement.cloud not in rules.allowed_clouds:
        yield Violation(
            f"placements[{i}].cloud",
            placement.cloud,
            "cloud not allowed by compliance.allowed_clouds",
            _listing(rules.allowed_clouds),
        )


@rule
def gpu_allowed(spec: DeploymentSpec) -> Iterator[Violation]:
    rules = spec.compliance
    if rules.allowed_gpus and spec.resources.gpu.sku not in rules.allowed_gpus:
        yield Violation(
            "resources.gpu.sku",
            spec.resources.gpu.sku,
            "GPU not allowed by compliance.allowed_gpus",
            _listing(rules.allowed_gpus),
        )


@rule
def engine_allowed(spec: DeploymentSpec) -> Iterator[Violation]:
    rules = spec.compliance
    if rules.allowed_engines and spec.engine.name not in rules.allowed_engines:
        yield Violation(
            "engine.name",
            spec.engine.name,
            "engine not allowed by compliance.allowed_engines",
            _listing(rules.allowed_engines),
        )


@rule
def quantization_allowed(spec: DeploymentSpec) -> Iterator[Violation]:
    rules = spec.compliance
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


@rule
def images_pinned(spec: DeploymentSpec) -> Iterator[Violation]:
    if spec.compliance.pin_images:
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
_FIXED_DEFAULTS = {"kv_cache_dtype": "auto", "prefix_caching": True, "cuda_graphs": True}


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


@rule
def slo_ordered(spec: DeploymentSpec) -> Iterator[Violation]:
    slo = spec.slo
    if slo.ttft_p95_ms > slo.e2e_p95_ms:
        yield Violation(
            "slo.ttft_p95_ms",
            slo.ttft_p95_ms,
            f"the time to first token cannot be longer than the whole request (e2e_p95_ms {slo.e2e_p95_ms:g})",
            f"at most {slo.e2e_p95_ms:g}",
            "lower slo.ttft_p95_ms or raise slo.e2e_p95_ms",
        )


def _flag_key(flag: str) -> str:
    return flag.split("=", 1)[0].lstrip("-").replace("_", "-")


@rule
def extra_args_not_planned(spec: DeploymentSpec) -> Iterator[Violation]:
    planned = {_flag_key(flag): (flag, source) for flag, source in _engine(spec).planned_flags.items()}
    for j, arg in enumerate(spec.engine.extra_args):
        if not arg.startswith("-"):
            continue
        found = planned.get(_flag_key(arg))
        if found is not None:
            flag, source = found
            how = f"({source.strip('()')})" if source.startswith("(") else f"and set {source} in the spec instead"
            yield Violation(
                f"engine.extra_args[{j}]",
                arg,
                f"{spec.engine.name}'s {flag} is already set by inferstack",
                hint=f"remove it {how}",
            )


@rule
def source_readable_from_placements(spec: DeploymentSpec) -> Iterator[Violation]:
    if spec.model.scheme != "pvc":
        return
    new = [p.name for p in spec.placements if p.cluster.kind == "new"]
    if new:
        yield Violation(
            "model.source",
            spec.model.source,
            f"a pvc:// claim exists only in an existing cluster, and placement {_listing(new)} creates a new one",
            "hf://, s3:// or gs:// sources (the prefetch job fills the new cluster's cache)",
            "copy the weights to a bucket, or set cluster.kind: existing",
        )


@rule
def existing_clusters_distinct(spec: DeploymentSpec) -> Iterator[Violation]:
    seen: dict[tuple, int] = {}
    for i, placement in enumerate(spec.placements):
        cluster = placement.cluster
        if cluster.kind != "existing":
            continue
        if cluster.kubeconfig or cluster.context:
            key: tuple = ("kubeconfig", cluster.kubeconfig, cluster.context)
        else:
            key = ("name", placement.cloud, cluster.name)
        if key in seen:
            first = spec.placements[seen[key]].name
            yield Violation(
                f"placements[{i}].cluster",
                None,
                f"placement {placement.name!r} uses the same existing cluster as {first!r}, so both would create "
                f"the same objects (namespace {spec.name!r})",
                hint=f"merge them into one placement with the replicas of both, or deploy {placement.name!r} "
                "from a spec with another name",
            )
        else:
            seen[key] = i


@rule
def networks_reachable(spec: DeploymentSpec) -> Iterator[Violation]:
    """New clusters' networks never overlap each other or the operators' ranges (one VPN reaches them
    all), and `pulumi up` has a way to the cluster API."""
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for i, placement in enumerate(spec.placements):
        cluster = placement.cluster
        if cluster.kind != "new" or not catalog.cloud_profile(placement.cloud).creates_clusters:
            continue
        at = f"placements[{i}]"
        network = placement.network(spec.name)
        for other, taken in seen:
            if network.overlaps(taken) and other != placement.name:  # a repeated name is reported on its own
                yield Violation(
                    f"{at}.network_cidr",
                    str(network),
                    f"overlaps placement {other!r} ({taken}): one VPN could not reach both",
                    "a private /16 no other placement uses",
                    f"set placements[{i}].network_cidr to an unused /16, e.g. 10.{(taken.network_address.packed[1] + 1) % 256}.0.0/16",
                )
        seen.append((placement.name, network))
        for cidr in cluster.operator_cidrs:
            if ipaddress.ip_network(cidr, strict=False).overlaps(network):
                yield Violation(
                    f"{at}.cluster.operator_cidrs",
                    cidr,
                    f"overlaps the placement's own network {network}, so replies to operators would stay inside it",
                    hint=f"set placements[{i}].network_cidr to a /16 outside the operators' ranges",
                )
        if cluster.access == "operators" and not cluster.operator_cidrs:
            yield Violation(
                f"{at}.cluster.operator_cidrs",
                None,
                "no way for `pulumi up` to reach the cluster API: it answers only the cluster's own network and "
                "the operators' ranges",
                hint="list the ranges you run `pulumi up` from (VPN, CI runners), or set cluster.access: from-inside "
                "when it runs inside the placement's network",
            )


def _router(spec: DeploymentSpec) -> routers.RouterSpec | None:
    return routers.router_for(spec.engine.name, spec.routing.enabled)


def _without_router(spec: DeploymentSpec) -> str:
    """Why no router fronts the replicas: routing is off, or the engine ships none."""
    if not spec.routing.enabled:
        return "routing.enabled is false"
    return f"{spec.engine.name} ships no router ({_listing(sorted(routers.routers()))} do)"


@placement_rule
def scale_from_zero_needs_router(spec: DeploymentSpec, i: int, placement: Placement) -> Iterator[Violation]:
    """`replicas.min: 0` only behind a router: its request metric is what wakes the first replica
    (the engine's own metrics vanish with its last pod), and only when the autoscaler runs."""
    if placement.replicas.min != 0:
        return
    if _router(spec) is None:
        yield Violation(
            f"placements[{i}].replicas.min",
            0,
            f"scaling from zero needs the engine's router in front of the replicas, and {_without_router(spec)}: "
            "with no replica running there would be no metric to wake one",
            "at least 1 without a router",
            f"set replicas.min to 1, or serve with an engine that has a router ({_listing(sorted(routers.routers()))}) "
            "and routing.enabled: true",
        )
    elif not spec.autoscaling.enabled:
        yield Violation(
            f"placements[{i}].replicas.min",
            0,
            "scaling from zero needs the autoscaler, and autoscaling.enabled is false: no replica would ever start",
            "at least 1 without autoscaling",
            "set replicas.min to 1, or autoscaling.enabled: true",
        )


@rule
def routing_policy_applies(spec: DeploymentSpec) -> Iterator[Violation]:
    """A routing policy only where a router runs (every router has every spec policy: routers.yaml)."""
    policy = spec.routing.policy
    if policy is not None and _router(spec) is None:
        yield Violation(
            "routing.policy",
            policy,
            f"no router applies it: {_without_router(spec)}",
            hint="remove routing.policy (kube-proxy spreads connections without one)",
        )


@rule
def router_image_pinned(spec: DeploymentSpec) -> Iterator[Violation]:
    """compliance.pin_images covers the router's image too; a router that runs in the engine's image
    is pinned with it (`images_pinned`)."""
    front = _router(spec)
    if spec.compliance.pin_images and front is not None and front.image is not None and not is_pinned(front.image):
        yield Violation(
            "routing.enabled",
            True,
            f"compliance.pin_images requires an image pinned by digest, and the {front.package} image "
            f"{front.image} is a release tag",
            "routing.enabled: false until the router image is pinned by digest",
            "set routing.enabled: false (the model's Service then spreads requests with kube-proxy)",
        )


@rule
def global_endpoints_valid(spec: DeploymentSpec) -> Iterator[Violation]:
    """Each global endpoint names placements of this spec, all on one cloud whose DNS inferstack writes
    (catalog/data/dns.yaml), in regions that DNS can alias; failover has one primary and one backup,
    latency one placement per region. Crossing residency groups is not refused here: it is compliance
    rule INF014's to fail, in `check` and in the policy pack."""
    by_name = {p.name: p for p in spec.placements}
    if spec.global_endpoints and spec.endpoint is None:
        yield Violation(
            "global_endpoints",
            [route.name for route in spec.global_endpoints],
            "a global endpoint's records point at each placement's endpoint, and this spec has none",
            "global endpoints with an `endpoint` section",
            "add an `endpoint` section (private by default), or remove global_endpoints",
        )
    seen: set[str] = set()
    for i, route in enumerate(spec.global_endpoints):
        where = f"global_endpoints[{i}]"
        if route.name in seen:
            yield Violation(f"{where}.name", route.name, "global endpoint names must be unique", hint="rename one")
        seen.add(route.name)
        unknown = [(j, n) for j, n in enumerate(route.placements) if n not in by_name]
        for j, name in unknown:
            yield Violation(
                f"{where}.placements[{j}]",
                name,
                "no placement of this spec has that name",
                _listing(sorted(by_name)),
                suggestion=closest(name, sorted(by_name)),
            )
        if unknown:
            continue
        placements = [by_name[n] for n in route.placements]
        clouds = sorted({p.cloud for p in placements})
        if len(clouds) > 1:
            yield Violation(
                f"{where}.placements",
                route.placements,
                f"the placements are on {' and '.join(clouds)}, and one name is served by one cloud's DNS (a Route 53 "
                "alias points only at AWS load balancers, a Cloud DNS health-checked target is only a Google Cloud one)",
                "placements on one cloud",
                "make one global endpoint per cloud",
            )
            continue
        facts = dns.dns_for(clouds[0])
        if facts is None:
            yield Violation(
                f"{where}.placements",
                route.placements,
                f"placements on {clouds[0]} have no DNS inferstack can write records in",
                f"placements on {_listing(sorted(dns.dns()))}",
                "leave these placements out of global endpoints and point your own DNS at their endpoints",
            )
            continue
        for j, p in enumerate(placements):
            if facts.target_needs_built_cluster and p.cluster.kind == "existing":
                yield Violation(
                    f"{where}.placements[{j}]",
                    p.name,
                    f"the placement runs on an existing cluster, and a {facts.service} target names its load "
                    "balancer's network and project, which inferstack knows only for clusters it builds",
                    "placements on clusters inferstack builds",
                    "leave this placement out of the global endpoint",
                )
            if facts.load_balancer_zones and p.region not in facts.load_balancer_zones:
                yield Violation(
                    f"{where}.placements[{j}]",
                    p.name,
                    f"region {p.region} has no known load balancer hosted zone, so no alias record can point there",
                    _listing(sorted(facts.load_balancer_zones)),
                    "leave this placement out of the global endpoint",
                )
        if route.policy == "failover" and len(placements) != facts.failover_targets:
            yield Violation(
                f"{where}.placements",
                route.placements,
                f"failover has one primary and one backup, but {_count(len(placements))} "
                + ("placement is named" if len(placements) == 1 else "placements are named"),
                f"exactly {facts.failover_targets} placements, primary first",
                "name two placements, or use policy weighted or latency",
            )
        regions = [p.region for p in placements]
        if route.policy == "latency" and len(set(regions)) != len(regions):
            yield Violation(
                f"{where}.placements",
                route.placements,
                f"latency routing answers with the nearest region, and two placements are in the same region ({_listing(regions)})",
                "one placement per region",
                "use policy weighted to spread over placements in one region",
            )


@rule
def endpoint_exposure_allowed(spec: DeploymentSpec) -> Iterator[Violation]:
    """INF013 at load: a public endpoint only where compliance allows public networking."""
    if spec.endpoint is not None and spec.endpoint.exposure == "public" and spec.compliance.private_networking:
        yield Violation(
            "endpoint.exposure",
            "public",
            "a public endpoint while compliance.private_networking is true (INF013)",
            "private",
            "set endpoint.exposure: private, or compliance.private_networking: false where the organisation allows it",
        )


@rule
def endpoint_image_pinned(spec: DeploymentSpec) -> Iterator[Violation]:
    if spec.endpoint is not None and spec.compliance.pin_images:
        image = spec.endpoint.image or endpoints.gateway().image
        if not is_pinned(image):
            yield Violation(
                "endpoint.image",
                image,
                "compliance.pin_images requires an image pinned by digest",
                "an image reference ending in @sha256:<64 hex>",
                "set endpoint.image to the haproxy image with the digest your registry reports for the tag",
            )


@rule
def endpoint_tls_on_its_cloud(spec: DeploymentSpec) -> Iterator[Violation]:
    """A certificate the load balancer serves (`tls.source` acm) needs every placement on a cloud whose load
    balancer terminates TLS with that source's certificates (catalog/data/endpoints.yaml)."""
    if spec.endpoint is None or spec.endpoint.tls.source in ("cert_manager", "none"):
        return
    source = spec.endpoint.tls.source
    clouds = endpoints.terminating_clouds(source)
    for i, p in enumerate(spec.placements):
        if p.cloud not in clouds:
            yield Violation(
                f"placements[{i}].cloud",
                p.cloud,
                f"endpoint.tls.source {source} is a certificate the load balancer serves, and the endpoint on "
                f"{p.cloud} has no load balancer that serves {source} certificates",
                f"placements on {_listing(clouds)} with tls.source {source}",
                "set endpoint.tls.source: cert_manager with an issuer (the gateway serves the certificate on any cloud)",
            )
