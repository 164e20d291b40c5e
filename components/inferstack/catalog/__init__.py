"""Catalogs as data: GPUs, per-cloud offerings, regions, model architectures, engine calibration.

Every number lives in a YAML file under `data/` next to the source it was read from; this module
only loads them into typed records (cached, read once per process) and answers look-ups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: libyaml's safe loader where PyYAML was built with it (the same documents, parsed in C), else Python's.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _data(name: str) -> Any:
    """A catalog data file, parsed (our own files, so no input limits: those are for user input)."""
    return yaml.load(resources.files(__name__).joinpath("data", name).read_text(), Loader=SAFE_LOADER)


@dataclass(frozen=True)
class Gpu:
    """One GPU SKU as the engines see it."""

    sku: str
    memory_gib: float
    bandwidth_gbps: float
    fp8: bool
    aliases: tuple[str, ...]
    memory_source: str


@dataclass(frozen=True)
class Offering:
    """One node shape a cloud sells: GPUs per node, price and the regions it is offered in."""

    cloud: str
    node_type: str
    gpu: str
    gpus: int
    vcpus: int
    memory_gib: float
    price_per_hour: float
    price_region: str
    price_date: str
    price_source: str
    regions: tuple[str, ...]
    accelerator: str | None = None


@dataclass(frozen=True)
class Architecture:
    """The config.json facts the planner needs about one checkpoint."""

    name: str
    family: str
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    vocab: int
    parameters: float
    tied_embeddings: bool
    max_position: int
    source: str
    hf_ids: tuple[str, ...] = ()
    native_quantization: str | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    sliding_window: int | None = None
    sliding_window_layers: int = 0
    moe_experts: int | None = None
    active_parameters: float | None = None
    #: Intermediate width of one expert (config.json moe_intermediate_size, or intermediate_size for
    #: MoE configs without it); sets the kernel padding of quantized experts.
    expert_intermediate: int | None = None
    #: Tensor groups the checkpoint's own quantized format leaves 16-bit (e.g. attention in Meta's FP8 405B).
    native_sixteen_bit: tuple[str, ...] = ()
    #: Input rows sharing one scale (and zero point) in a grouped 4-bit checkpoint (quantization_config
    #: group_size of AWQ/GPTQ); None for other formats, which then use the format's default group.
    quant_group_size: int | None = None
    #: The MLP's intermediate width of a dense model (config.json intermediate_size), where the catalog has it.
    intermediate: int | None = None
    #: The MoE experts carry gate-up and down biases (gpt-oss), which engines keep 16-bit.
    expert_bias: bool = False
    #: Parameters the checkpoint's own format quantizes, where its quantization_config names the tensors
    #: (Kimi-K2-Thinking: the routed experts only); the rest load 16-bit. None: by tensor group.
    native_quantized_parameters: float | None = None
    #: Parameters of the multi-token-prediction layer the checkpoint carries (DeepSeek-V3's layer 61); the
    #: engines load it only as an MTP speculative-decoding draft, which the spec cannot ask for.
    mtp_parameters: float = 0.0
    #: Side of the square weight blocks that share one FP32 scale in the checkpoint's own FP8 format
    #: (quantization_config weight_block_size), None for per-tensor or per-channel scales.
    native_weight_block: int | None = None

    def tp_choices(self) -> list[int]:
        """Tensor-parallel sizes the model allows on one node (up to 8): TP must divide the attention
        heads, and KV heads must split evenly across ranks or be replicated evenly."""
        return [
            tp
            for tp in range(1, 9)
            if self.attention_heads % tp == 0 and (self.kv_heads % tp == 0 or tp % self.kv_heads == 0)
        ]

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def is_moe(self) -> bool:
        return self.moe_experts is not None

    @property
    def embedding_parameters(self) -> float:
        """Input embedding plus LM head parameters (one matrix when tied); kept 16-bit by quantizers."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def attention_parameters(self) -> float:
        """Q, K, V and O projection weights of every layer (GQA/MHA shapes; 0 for MLA, whose projections
        are counted with the body because no format in the catalog keeps them apart)."""
        if self.is_mla:
            return 0.0
        return self.layers * self.hidden * self.head_dim * 2 * (self.attention_heads + self.kv_heads)

    @property
    def router_parameters(self) -> float:
        """MoE gate weights of every layer (hidden x experts), 0 for dense models."""
        return float(self.layers * self.hidden * self.moe_experts) if self.moe_experts else 0.0


@dataclass(frozen=True)
class CloudProfile:
    """What the pure layers know about a cloud (data/clouds.yaml), so they never branch on its name."""

    name: str
    creates_clusters: bool
    cluster_product: str
    min_zones: int
    zone_example: str
    priced_from_catalog: bool
    storage_class: str | None
    instance_type_label: str | None
    accelerator_label: str | None
    #: (CIDR, TCP port) where pods get cloud credentials (EKS Pod Identity agent, GKE metadata server).
    identity_endpoint: tuple[str, int] | None
    #: True where the cloud cuts a node pool's GPUs into MIG slices itself (GKE `gpu_partition_size`).
    partitions_gpus: bool


@cache
def cloud_profiles() -> dict[str, CloudProfile]:
    profiles = {}
    for name, row in _data("clouds.yaml").items():
        endpoint = row.get("identity_endpoint")
        identity = (str(endpoint["cidr"]), int(endpoint["port"])) if endpoint else None
        rest = {key: value for key, value in row.items() if key != "identity_endpoint"}
        profiles[name] = CloudProfile(name=name, identity_endpoint=identity, **rest)
    return profiles


def cloud_profile(name: str) -> CloudProfile:
    return cloud_profiles()[name]


@cache
def gpus() -> dict[str, Gpu]:
    return {
        sku: Gpu(
            sku=sku,
            memory_gib=float(row["memory_gib"]),
            bandwidth_gbps=float(row["bandwidth_gbps"]),
            fp8=bool(row["fp8"]),
            aliases=tuple(row.get("aliases", ())),
            memory_source=row["memory_source"],
        )
        for sku, row in _data("gpus.yaml").items()
    }


def resolve_gpu(name: str) -> str | None:
    """Canonical SKU for a user-written GPU name (case-insensitive, aliases allowed), else None."""
    wanted = name.strip().lower()
    for gpu in gpus().values():
        if wanted == gpu.sku.lower() or wanted in gpu.aliases:
            return gpu.sku
    return None


@cache
def offerings() -> tuple[Offering, ...]:
    data = _data("offerings.yaml")
    rows: list[Offering] = []
    for cloud, key in (("aws", "instance_type"), ("gcp", "machine_type")):
        for row in data.get(cloud, []):
            rows.append(
                Offering(
                    cloud=cloud,
                    node_type=row[key],
                    gpu=row["gpu"],
                    gpus=int(row["gpus"]),
                    vcpus=int(row["vcpus"]),
                    memory_gib=float(row["memory_gib"]),
                    price_per_hour=float(row["price_per_hour"]),
                    price_region=row["price_region"],
                    price_date=str(row["price_date"]),
                    price_source=row["price_source"],
                    regions=tuple(row["regions"]),
                    accelerator=row.get("accelerator"),
                )
            )
    return tuple(rows)


@cache
def regions() -> dict[str, dict[str, str]]:
    """Cloud -> region -> residency group."""
    return _data("regions.yaml")


def residency_groups() -> list[str]:
    return sorted({group for by_region in regions().values() for group in by_region.values()})


def region_group(region: str) -> str | None:
    """The residency group of a cloud region code, whichever cloud names it."""
    for by_region in regions().values():
        if region in by_region:
            return by_region[region]
    return None


def _architecture(name: str, row: dict[str, Any]) -> Architecture:
    mla = row.get("mla") or {}
    window = row.get("sliding_window") or {}
    moe = row.get("moe") or {}
    return Architecture(
        name=name,
        family=row["family"],
        layers=int(row["layers"]),
        attention_heads=int(row["attention_heads"]),
        kv_heads=int(row["kv_heads"]),
        head_dim=int(row["head_dim"]),
        hidden=int(row["hidden"]),
        vocab=int(row["vocab"]),
        parameters=float(row["parameters"]),
        tied_embeddings=bool(row["tied_embeddings"]),
        max_position=int(row["max_position"]),
        source=row["source"],
        hf_ids=tuple(row.get("hf_ids", ())),
        native_quantization=row.get("native_quantization"),
        kv_lora_rank=mla.get("kv_lora_rank"),
        qk_rope_head_dim=mla.get("qk_rope_head_dim"),
        sliding_window=window.get("window"),
        sliding_window_layers=int(window.get("layers", 0)),
        moe_experts=moe.get("experts"),
        active_parameters=float(moe["active_parameters"]) if moe else None,
        expert_intermediate=moe.get("intermediate"),
        native_sixteen_bit=tuple(row.get("native_sixteen_bit", ())),
        quant_group_size=row.get("quant_group_size"),
        intermediate=row.get("intermediate"),
        expert_bias=bool(moe.get("bias", False)),
        native_quantized_parameters=(
            float(row["native_quantized_parameters"]) if "native_quantized_parameters" in row else None
        ),
        mtp_parameters=float(row.get("mtp_parameters", 0.0)),
        native_weight_block=row.get("native_weight_block"),
    )


@cache
def architectures() -> dict[str, Architecture]:
    return {name: _architecture(name, row) for name, row in _data("models.yaml").items()}


def architecture_for_hf_id(hf_id: str) -> Architecture | None:
    wanted = hf_id.lower()
    for arch in architectures().values():
        if wanted in (i.lower() for i in arch.hf_ids):
            return arch
    return None


@dataclass(frozen=True)
class ConfigProblem(Exception):
    """A config.json that cannot describe a model the planner understands."""

    path: str
    reason: str
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


_QUANT_METHODS = {"fp8": "fp8", "fbgemm_fp8": "fp8", "mxfp4": "mxfp4", "awq": "awq", "gptq": "gptq"}


def architecture_from_config(path: str | Path, text: str | None = None) -> Architecture:
    """Read a Hugging Face `config.json` into an Architecture; parameters are computed from shapes.

    Dense and MoE decoder-only transformers (Llama, Qwen, Mistral, Mixtral families) are understood;
    MLA models are read but need `parameters` from the catalog because their shapes vary more.
    A config whose identifying facts (`IDENTITY`) equal a catalog entry's is that entry, so one checkpoint
    plans the same whether named or described; the weight format comes from `quantization_config`.
    `text` is the file's content when the caller read it already (the spec's bounded input reader does).
    """
    path = Path(path)
    try:
        cfg = json.loads(path.read_text() if text is None else text)
    except RecursionError:
        raise ConfigProblem(str(path), "nested too deeply to be a config.json") from None
    except FileNotFoundError:
        raise ConfigProblem(str(path), "file not found") from None
    except IsADirectoryError:
        raise ConfigProblem(str(path), "is a folder; name the config.json inside it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigProblem(str(path), f"cannot read it ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise ConfigProblem(str(path), f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(cfg, dict):
        raise ConfigProblem(str(path), "is not a JSON object")
    needed = ["num_hidden_layers", "num_attention_heads", "hidden_size", "vocab_size", "intermediate_size"]
    missing = [k for k in needed if k not in cfg]
    if missing:
        raise ConfigProblem(str(path), "missing keys: " + ", ".join(missing), missing)
    optional = [
        "num_key_value_heads",
        "head_dim",
        "moe_intermediate_size",
        "num_local_experts",
        "num_experts",
        "num_experts_per_tok",
        "max_position_embeddings",
        "kv_lora_rank",
        "qk_rope_head_dim",
    ]
    bad = [
        k
        for k in needed + [o for o in optional if cfg.get(o) is not None]
        if not (isinstance(cfg[k], int) and not isinstance(cfg[k], bool) and cfg[k] > 0)
    ]
    if bad:
        raise ConfigProblem(
            str(path), "not positive whole numbers: " + ", ".join(f"{k}={repr(cfg[k])[:40]}" for k in bad)
        )
    huge = [k for k in needed + optional if isinstance(cfg.get(k), int) and cfg[k] >= 2**31]
    if huge:
        raise ConfigProblem(str(path), "larger than 2147483647: " + ", ".join(huge))
    quant_config, layer_types = cfg.get("quantization_config"), cfg.get("layer_types")
    window = cfg.get("sliding_window")
    if quant_config is not None and not isinstance(quant_config, dict):
        raise ConfigProblem(str(path), "quantization_config is not a JSON object")
    if layer_types is not None and not (isinstance(layer_types, list) and all(isinstance(t, str) for t in layer_types)):
        raise ConfigProblem(str(path), "layer_types is not a list of strings")
    if window is not None and not (isinstance(window, int) and not isinstance(window, bool) and 0 < window < 2**31):
        raise ConfigProblem(str(path), "sliding_window is not a whole number from 1 to 2147483647")
    layers, heads, hidden = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["hidden_size"]
    kv_heads = cfg.get("num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or hidden // heads
    # transformers' config classes default tie_word_embeddings to True for Gemma (Gemma2Config, Gemma3TextConfig)
    # and to False for Llama, Qwen, Mistral and gpt-oss; a config.json that omits it takes the class default.
    tied_default = str(cfg.get("model_type", "")).startswith("gemma")
    vocab, tied = cfg["vocab_size"], bool(cfg.get("tie_word_embeddings", tied_default))
    experts = cfg.get("num_local_experts") or cfg.get("num_experts")
    ffn = cfg.get("moe_intermediate_size") or cfg["intermediate_size"]
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    mlp = 3 * hidden * ffn * (experts or 1) + (hidden * experts if experts else 0)
    top_k = cfg.get("num_experts_per_tok")
    active_mlp = 3 * hidden * ffn * top_k if experts and top_k else None
    embeddings = vocab * hidden * (1 if tied else 2)
    per_layer_norms = 2 * hidden
    parameters = layers * (attention + mlp + per_layer_norms) + embeddings + hidden
    active = layers * (attention + active_mlp + per_layer_norms) + embeddings + hidden if active_mlp else None
    window_layers = _window_layers(cfg, layers)
    computed = Architecture(
        name=str(path),
        family=str(cfg.get("model_type", "dense")),
        layers=layers,
        attention_heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        hidden=hidden,
        vocab=vocab,
        parameters=float(parameters),
        tied_embeddings=tied,
        max_position=int(cfg.get("max_position_embeddings", 4096)),
        source=f"config.json at {path}",
        native_quantization=_weight_format(quant_config or {}),
        kv_lora_rank=cfg.get("kv_lora_rank"),
        qk_rope_head_dim=cfg.get("qk_rope_head_dim"),
        sliding_window=window if window_layers else None,
        sliding_window_layers=window_layers,
        moe_experts=experts,
        active_parameters=float(active) if active else None,
        expert_intermediate=ffn if experts else None,
        quant_group_size=quant_group_size(str(path), quant_config or {}),
        intermediate=None if experts else ffn,
    )
    return catalog_match(computed) or computed


def _window_layers(cfg: dict[str, Any], layers: int) -> int:
    """Layers that attend within `sliding_window`: those `layer_types` names sliding; else Gemma 2's
    alternate layers (transformers Gemma2Attention: even layers slide), else all but every
    `sliding_window_pattern`-th; else every layer. None when the config turns the window off."""
    window, layer_types = cfg.get("sliding_window"), cfg.get("layer_types")
    if not window or cfg.get("use_sliding_window") is False:
        return 0
    if layer_types:
        return sum(1 for t in layer_types if t == "sliding_attention")
    if cfg.get("model_type") == "gemma2":
        return (layers + 1) // 2
    pattern = cfg.get("sliding_window_pattern")
    if isinstance(pattern, int) and not isinstance(pattern, bool) and pattern > 0:
        return layers - layers // pattern
    return layers


def _weight_format(quant_config: dict[str, Any]) -> str | None:
    """The serving format a checkpoint's quantization_config describes (None: 16-bit or not known).
    compressed-tensors names its weights by bits and type in config_groups (8-bit float = fp8, 8-bit int
    = int8, 4-bit int = GPTQ-packed, 4-bit float = NVFP4)."""
    method = quant_config.get("quant_method")
    if method == "compressed-tensors":
        groups = quant_config.get("config_groups")
        weights = [g.get("weights") for g in groups.values() if isinstance(g, dict)] if isinstance(groups, dict) else []
        kinds = {(w.get("num_bits"), w.get("type")) for w in weights if isinstance(w, dict)}
        formats: dict[tuple[Any, Any], str] = {
            (8, "float"): "fp8",
            (8, "int"): "int8",
            (4, "int"): "gptq",
            (4, "float"): "nvfp4",
        }
        return formats.get(next(iter(kinds))) if len(kinds) == 1 else None
    return _QUANT_METHODS.get(method) if isinstance(method, str) else None


#: quantization_config methods whose weights are grouped integers of `bits` bits, with the bit widths the
#: catalog has a format for (weight_formats.yaml awq and gptq are 4-bit).
GROUPED_INT_METHODS = {"awq": (4,), "gptq": (4,)}


def quant_group_size(path: str, quant_config: dict[str, Any]) -> int | None:
    """The group size of an AWQ/GPTQ quantization_config (-1: one group per output channel), or of the one
    4-bit integer weight group of a compressed-tensors config (None when it names none); None for other
    methods. An AWQ/GPTQ bit width or group size the catalog has no format for is a ConfigProblem rather
    than a silent 4-bit plan."""
    method = quant_config.get("quant_method")
    if method == "compressed-tensors" and _weight_format(quant_config) == "gptq":
        groups = quant_config["config_groups"].values()
        sizes = {
            g["weights"].get("group_size") for g in groups if isinstance(g, dict) and isinstance(g.get("weights"), dict)
        }
        (group,) = sizes if len(sizes) == 1 else (None,)
        return group if isinstance(group, int) and not isinstance(group, bool) and group > 0 else None
    if method not in GROUPED_INT_METHODS:
        return None
    bits = quant_config.get("bits", quant_config.get("w_bit"))
    if bits not in GROUPED_INT_METHODS[method]:
        allowed = ", ".join(str(b) for b in GROUPED_INT_METHODS[method])
        raise ConfigProblem(
            path, f"quantization_config {method} with bits={bits!r}: the planner knows {allowed}-bit only"
        )
    group = quant_config.get("group_size", quant_config.get("q_group_size"))
    if not (isinstance(group, int) and not isinstance(group, bool) and (group == -1 or 0 < group < 2**31)):
        raise ConfigProblem(path, f"quantization_config group_size={group!r} is not a positive whole number or -1")
    return group


#: Facts that identify a checkpoint: a config.json with all of them equal to a catalog entry's is that entry.
IDENTITY = (
    "layers",
    "attention_heads",
    "kv_heads",
    "head_dim",
    "hidden",
    "vocab",
    "tied_embeddings",
    "max_position",
    "native_quantization",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "sliding_window",
    "sliding_window_layers",
    "moe_experts",
    "quant_group_size",
)


def catalog_match(arch: Architecture) -> Architecture | None:
    """The catalog entry with the same identifying facts (so a checkpoint described by name and by its
    config.json plans identically), or None. Two entries never share all of them (a catalog test checks)."""
    key = tuple(getattr(arch, f) for f in IDENTITY)
    return next((a for a in architectures().values() if tuple(getattr(a, f) for f in IDENTITY) == key), None)


@dataclass(frozen=True)
class EngineCapabilities:
    """What one engine can do (data/engines.yaml): the spec rules judge against it, adapters honour it."""

    name: str
    scaling_signals: tuple[str, ...]
    serves_lora: bool
    speculative_methods: tuple[str, ...]
    quantizations: tuple[str, ...]
    #: Engine settings (spec `engine.<field>`) the adapter sets either way; others keep the engine's default.
    configurable: tuple[str, ...]
    #: Flags the adapter sets, each with the spec field that controls it (`engine.extra_args` may not repeat them).
    planned_flags: dict[str, str] = field(default_factory=dict, hash=False)


@cache
def engine_capabilities() -> dict[str, EngineCapabilities]:
    return {
        name: EngineCapabilities(
            name=name,
            scaling_signals=tuple(row["scaling_signals"]),
            serves_lora=bool(row["serves_lora"]),
            speculative_methods=tuple(row["speculative_methods"]),
            quantizations=tuple(row["quantizations"]),
            configurable=tuple(row["configurable"]),
            planned_flags={str(flag): str(source) for flag, source in (row.get("planned_flags") or {}).items()},
        )
        for name, row in _data("engines.yaml").items()
    }


@cache
def engine_memory() -> dict[str, dict[str, Any]]:
    """Per engine: budget formula, default fraction, block sizes, scheduler defaults and version rows."""
    return _data("engine_memory.yaml")


@dataclass(frozen=True)
class WeightFormat:
    """Bytes per weight of a serving format and the tensor groups it quantizes (others stay 16-bit)."""

    name: str
    bytes_per_parameter: float
    quantizes: tuple[str, ...]
    source: str
    #: For grouped integer formats: weight_bits, default_group_size, scale_bytes, zero_point_bytes and
    #: zero_point_bytes_by_gpu, from which the bytes per parameter follow for a checkpoint's group size.
    packing: dict[str, Any] | None = field(default=None, hash=False)


@cache
def weight_formats() -> dict[str, WeightFormat]:
    return {
        name: WeightFormat(
            name=name,
            bytes_per_parameter=float(row["bytes_per_parameter"]),
            quantizes=tuple(row["quantizes"]),
            source=row["source"],
            packing=row.get("packing"),
        )
        for name, row in _data("weight_formats.yaml").items()
    }


@cache
def cold_start() -> dict[str, Any]:
    return _data("cold_start.yaml")
