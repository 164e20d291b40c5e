"""GPU memory arithmetic: weight bytes, KV bytes per token, the engine's overhead and the KV pool it gets.

All functions are pure. Weight and KV byte counts are exact given the architecture and format; the
engine overhead (activation peak, non-torch memory, CUDA graphs) comes from the row of
catalog/data/engine_memory.yaml for the engine's version range, each term with its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from inferstack import catalog
from inferstack.plan import cuda_graphs

GIB = 1024**3
KV_BYTES = {"auto": 2, "fp8": 1}
#: Bytes per parameter of the tensor groups a format leaves unquantized (BF16/FP16).
SIXTEEN_BIT = 2.0


#: Bytes of one FP32 scale, which block-quantized FP8 checkpoints keep per weight block.
BLOCK_SCALE_BYTES = 4


def served_parameters(arch: catalog.Architecture) -> float:
    """Parameters the engine loads: the checkpoint's minus its multi-token-prediction layer, which vLLM skips
    unless it drafts with it (vllm/model_executor/models/deepseek_v2.py DeepseekV2ForCausalLM.load_weights:
    'skip spec decode layers for main model', vLLM 0.32.0 wheel); the spec's speculative methods load no draft."""
    return arch.parameters - arch.mtp_parameters


def weight_groups(arch: catalog.Architecture) -> dict[str, float]:
    """Parameters per tensor group: embeddings (with the LM head), attention, router, body (the rest)."""
    embeddings, attention, router = arch.embedding_parameters, arch.attention_parameters, arch.router_parameters
    return {
        "embeddings": embeddings,
        "attention": attention,
        "router": router,
        "body": served_parameters(arch) - embeddings - attention - router,
    }


def block_scale_bytes(arch: catalog.Architecture, quantization: str) -> float:
    """Scale bytes per quantized parameter of a block-quantized checkpoint served in its own format: one FP32
    weight_scale_inv per block x block weights (vllm/model_executor/layers/quantization/fp8.py
    create_weights -> fp8_utils.create_fp8_scale_parameter, ceil(out/block) x ceil(in/block) float32, 0.32.0)."""
    if quantization != arch.native_quantization or arch.native_weight_block is None:
        return 0.0
    return BLOCK_SCALE_BYTES / arch.native_weight_block**2


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def expert_padding_ratio(arch: catalog.Architecture, padding: dict[str, int] | None, tp: int) -> float:
    """How much larger the MoE kernel's padded expert tensors are than the checkpoint's: each expert is
    hidden x 3 x intermediate, with the hidden width and each rank's intermediate slice rounded up."""
    if not padding or not arch.is_moe or arch.expert_intermediate is None:
        return 1.0
    hidden = _round_up(arch.hidden, padding["hidden"])
    intermediate = _round_up(-(-arch.expert_intermediate // tp), padding["intermediate"]) * tp
    return hidden * intermediate / (arch.hidden * arch.expert_intermediate)


def packed_bytes_per_parameter(
    fmt: catalog.WeightFormat, group_size: int | None, hidden: int, gpu: str | None
) -> float:
    """Bytes per quantized parameter of a grouped integer format as the engine holds it: the packed weight
    bits plus each group's scale and zero point spread over its `group_size` input rows (the format's
    default group when None; -1, one group per input row of a layer, spreads them over `hidden`), with the
    zero-point bytes of the kernel the engine picks on `gpu`. Formats without packing keep their fixed bytes."""
    packing = fmt.packing
    if packing is None:
        return fmt.bytes_per_parameter
    group = packing["default_group_size"] if group_size is None else group_size
    rows = hidden if group == -1 else group
    zero = packing.get("zero_point_bytes_by_gpu", {}).get(gpu, packing["zero_point_bytes"])
    return packing["weight_bits"] / 8 + (packing["scale_bytes"] + zero) / rows


def quantized_bytes_per_parameter(arch: catalog.Architecture, quantization: str, gpu: str | None) -> float:
    """Bytes per parameter of the tensor groups `quantization` quantizes: a checkpoint served in its own
    grouped format uses its own group size, a format applied at load the format's default."""
    fmt = catalog.weight_formats()[quantization]
    group = arch.quant_group_size if quantization == arch.native_quantization else None
    return packed_bytes_per_parameter(fmt, group, arch.hidden, gpu)


def weight_bytes(
    arch: catalog.Architecture,
    quantization: str,
    tp: int = 1,
    padding: dict[str, int] | None = None,
    gpu: str | None = None,
) -> float:
    """Weight bytes in GPU memory over all ranks: each tensor group at the format's bytes when the format
    quantizes it (and the checkpoint's own format does not keep it 16-bit), else 16-bit; a quantized MoE
    body padded as the engine's kernel pads it. Grouped 4-bit formats take the checkpoint's own group size
    and the kernel the engine picks on `gpu` (a catalog SKU). A checkpoint in its own format that names the
    parameters it quantizes (native_quantized_parameters) has exactly those at the format's bytes and the
    rest 16-bit; block-quantized FP8 adds its block scales."""
    if quantization == arch.native_quantization and arch.native_quantized_parameters is not None:
        quantized = arch.native_quantized_parameters
        fmt = catalog.weight_formats()[quantization]
        return quantized * fmt.bytes_per_parameter + (served_parameters(arch) - quantized) * SIXTEEN_BIT
    return sum(
        parameters * group_bytes_per_parameter(arch, quantization, group, tp, padding, gpu)
        for group, parameters in weight_groups(arch).items()
    )


def group_quantized(arch: catalog.Architecture, quantization: str, group: str) -> bool:
    """Whether `quantization` holds this tensor group quantized: the format quantizes it and the checkpoint's
    own format does not keep it 16-bit."""
    kept = arch.native_sixteen_bit if quantization == arch.native_quantization else ()
    return group in catalog.weight_formats()[quantization].quantizes and group not in kept


def group_bytes_per_parameter(
    arch: catalog.Architecture,
    quantization: str,
    group: str,
    tp: int = 1,
    padding: dict[str, int] | None = None,
    gpu: str | None = None,
) -> float:
    """Bytes `weight_bytes` charges per checkpoint parameter of a tensor group: 16-bit where the group stays
    unquantized, else the format's packed bytes plus block scales, times the MoE kernel's padding for the body."""
    if not group_quantized(arch, quantization, group):
        return SIXTEEN_BIT
    ratio = expert_padding_ratio(arch, padding, tp) if group == "body" else 1.0
    return ratio * (quantized_bytes_per_parameter(arch, quantization, gpu) + block_scale_bytes(arch, quantization))


def expert_bias_parameters(arch: catalog.Architecture) -> int:
    """Checkpoint parameters of the MoE expert biases (gate_up: 2 x intermediate, down: hidden, per expert and
    layer); 0 for models whose experts carry none."""
    if not arch.expert_bias or arch.moe_experts is None or arch.expert_intermediate is None:
        return 0
    return arch.layers * arch.moe_experts * (2 * arch.expert_intermediate + arch.hidden)


def expert_bias_correction(
    arch: catalog.Architecture, quantization: str, tp: int, padding: dict[str, int] | None, gpu: str | None = None
) -> float:
    """Bytes over all ranks to add to weight_bytes for the expert biases: weight_bytes counts them inside the
    body at the format's bytes, the engine allocates them 16-bit at the kernel's padded widths, with the
    gate_up bias split over the ranks and the down bias (hidden wide) whole on every rank."""
    counted = expert_bias_parameters(arch)
    if not counted or arch.expert_intermediate is None or arch.moe_experts is None:
        return 0.0
    counted_bytes = counted * group_bytes_per_parameter(arch, quantization, "body", tp, padding, gpu)
    if padding and group_quantized(arch, quantization, "body"):
        hidden = _round_up(arch.hidden, padding["hidden"])
        intermediate = _round_up(-(-arch.expert_intermediate // tp), padding["intermediate"])
    else:
        hidden, intermediate = arch.hidden, -(-arch.expert_intermediate // tp)
    allocated = arch.layers * arch.moe_experts * tp * (2 * intermediate + hidden) * SIXTEEN_BIT
    return allocated - counted_bytes


#: PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, kRoundLarge and kMinLargeAlloc):
#: a request of 10 MiB or more gets its own segment rounded up to a multiple of 2 MiB, and the rest of that
#: segment is only lent to later requests above 1 MiB (kSmallSize), which a weight load makes none of.
ALLOCATOR_ROUND = 2 * 1024**2
ALLOCATOR_MIN_LARGE = 10 * 1024**2


def allocator_rounding_bytes(sizes: list[int]) -> int:
    """Device memory the caching allocator reserves beyond `sizes` (bytes of each tensor) for the large ones."""
    return sum(_round_up(size, ALLOCATOR_ROUND) - size for size in sizes if size >= ALLOCATOR_MIN_LARGE)


def dense_weight_tensors(arch: catalog.Architecture, tp: int) -> list[int]:
    """Bytes of each large 16-bit weight tensor one rank of a dense model allocates: the embedding and the
    LM head (vocabulary padded to 64 and split), and per layer the fused QKV, O, fused gate-up and down
    projections ([] when the catalog does not know the MLP width)."""
    if arch.intermediate is None or arch.is_moe or arch.is_mla:
        return []
    width = int(SIXTEEN_BIT)
    vocab = -(-_round_up(arch.vocab, 64) // tp) * arch.hidden * width
    embeddings = [vocab] * (1 if arch.tied_embeddings else 2)
    heads = arch.attention_heads // tp
    qkv = (heads + 2 * kv_heads_per_gpu(arch, tp)) * arch.head_dim * arch.hidden * width
    out = heads * arch.head_dim * arch.hidden * width
    mlp = -(-arch.intermediate // tp) * arch.hidden * width
    return embeddings + [qkv, out, 2 * mlp, mlp] * arch.layers


def rope_cache_bytes(arch: catalog.Architecture, dtype_bytes: int) -> int:
    """The rotary embedding's cos/sin cache: max_position x head_dim values, one copy per GPU (shared by
    every layer through get_rope's cache)."""
    return arch.max_position * arch.head_dim * dtype_bytes


def load_extra_bytes(row: MemoryRow, arch: catalog.Architecture, quantization: str, tp: int) -> float:
    """Per-GPU device memory the engine's load takes beyond the weight tensors' bytes, for rows whose
    weights figure is the drop in free device memory (`load_extras`): the rotary cache and the caching
    allocator's rounding of unquantized dense weights. 0 for rows without the term."""
    extras = row.load_extras
    if not extras:
        return 0.0
    rope = rope_cache_bytes(arch, int(extras["rope_cache_bytes"]))
    tensors = dense_weight_tensors(arch, tp) if quantization == "none" else []
    return float(rope + allocator_rounding_bytes([*tensors, rope]))


def kv_bytes_per_token(arch: catalog.Architecture, kv_cache_dtype: str = "auto") -> int:
    """KV bytes one token occupies across all layers of the whole model, before any TP split.

    GQA/MHA: 2 (K and V) x layers x kv_heads x head_dim x dtype bytes.
    MLA: layers x (kv_lora_rank + qk_rope_head_dim) x dtype bytes (one latent, no factor 2).
    """
    b = KV_BYTES[kv_cache_dtype]
    if arch.kv_lora_rank is not None:  # MLA (arch.is_mla); checked here so the latent sizes are ints
        return arch.layers * (arch.kv_lora_rank + (arch.qk_rope_head_dim or 0)) * b
    return 2 * arch.layers * arch.kv_heads * arch.head_dim * b


def kv_heads_per_gpu(arch: catalog.Architecture, tp: int) -> int:
    """KV heads each rank stores: sharded while kv_heads >= TP, replicated (one per rank) below."""
    return max(1, arch.kv_heads // tp)


@dataclass(frozen=True)
class KvLayout:
    """Per-GPU KV cost of one token in one layer, and how many layers attend fully or in a window."""

    layer_bytes: int
    full_layers: int
    window_layers: int
    window: int | None

    @property
    def full_bytes(self) -> int:
        """Bytes per token over the full-attention layers (what grows with the context)."""
        return self.layer_bytes * self.full_layers

    @property
    def window_bytes(self) -> int:
        """Bytes per token over the sliding-window layers (capped at the window)."""
        return self.layer_bytes * self.window_layers

    def sequence_bytes(self, tokens: int) -> int:
        """Bytes one sequence of `tokens` holds on each GPU (window layers cap at the window)."""
        windowed = min(tokens, self.window) if self.window else 0
        return self.full_bytes * tokens + self.window_bytes * windowed


def kv_layout(arch: catalog.Architecture, kv_cache_dtype: str, tp: int) -> KvLayout:
    """The per-GPU layout: MLA keeps the whole latent on every rank; GQA splits (or replicates) KV heads."""
    b = KV_BYTES[kv_cache_dtype]
    if arch.is_mla:  # the latent is not split by head: every rank holds all of it
        return KvLayout(kv_bytes_per_token(arch, kv_cache_dtype) // arch.layers, arch.layers, 0, None)
    per_layer = 2 * kv_heads_per_gpu(arch, tp) * arch.head_dim * b
    window_layers = arch.sliding_window_layers if arch.sliding_window else 0
    return KvLayout(per_layer, arch.layers - window_layers, window_layers, arch.sliding_window)


def mla_latent_cached(engine: str, version: str) -> bool:
    """Whether this engine version caches an MLA model's latent (engine_memory.yaml `mla_latent_since`;
    engines without that key always do) rather than full K and V per head."""
    since = catalog.engine_memory()[engine].get("mla_latent_since")
    return since is None or version_key(version) >= version_key(str(since))


def engine_kv_layout(arch: catalog.Architecture, kv_cache_dtype: str, tp: int, engine: str, version: str) -> KvLayout:
    """`kv_layout` as this engine version stores it: before its MLA support an engine ran MLA models as
    multi-head attention, K and V of every head padded to `pre_mla_head_size` and split across ranks."""
    if not arch.is_mla or mla_latent_cached(engine, version):
        return kv_layout(arch, kv_cache_dtype, tp)
    head = int(catalog.engine_memory()[engine]["pre_mla_head_size"])
    per_layer = 2 * kv_heads_per_gpu(arch, tp) * head * KV_BYTES[kv_cache_dtype]
    return KvLayout(per_layer, arch.layers, 0, None)


def version_key(version: str) -> tuple[int, ...]:
    """A release as a comparable tuple of the leading number of each dotted part ('0.10.1' -> (0, 10, 1);
    '0.8.3rc1' and '0.8.3.dev172+g2b93162f' -> (0, 8, 3, ...)); a part without a leading number counts 0."""
    return tuple(int(match.group()) if (match := re.match(r"\d+", piece)) else 0 for piece in version.split("."))


@dataclass(frozen=True)
class EngineSettings:
    """The engine settings memory depends on, with the engine's own defaults filled in."""

    name: str
    version: str
    kv_cache_dtype: str
    memory_fraction: float
    max_num_batched_tokens: int | None
    max_num_seqs: int | None
    cuda_graphs: bool
    #: The GPUs of a replica talk over NVLink (the engine's custom all-reduce works at any TP size).
    nvlink: bool = False
    #: The catalog GPU (the engine's CUDA-graph capture ceiling depends on it).
    gpu_sku: str = ""


def engine_settings(
    name: str,
    version: str,
    gpu: catalog.Gpu,
    *,
    kv_cache_dtype: str = "auto",
    memory_fraction: float | None = None,
    max_num_batched_tokens: int | None = None,
    max_num_seqs: int | None = None,
    cuda_graphs: bool = True,
    max_context: int | None = None,
) -> EngineSettings:
    """Spec values where set, else the engine's defaults for this GPU (vLLM picks them by device memory).
    `memory_fraction` is the share of device memory the engine budgets: the fraction flag times the engine's
    own margin where it keeps one (TGI's wiggle room, `budget_scale`). A version row with its own
    `scheduler_defaults` (vLLM V0) sets them from `max_context` instead, when it is given."""
    table = catalog.engine_memory()[name]
    default = next(
        (
            row
            for row in table.get("scheduler_defaults", ())
            if gpu.memory_gib >= row["min_memory_gib"] and row.get("except_sku_containing", "\0") not in gpu.sku.lower()
        ),
        {},
    )
    if max_context and (own := memory_row(name, version).scheduler_defaults):
        default = v0_batch_defaults(own, max_context)
    return EngineSettings(
        name=name,
        version=version,
        kv_cache_dtype=kv_cache_dtype,
        memory_fraction=(float(table["memory_fraction"]) if memory_fraction is None else memory_fraction)
        * float(table.get("budget_scale", 1.0)),
        max_num_batched_tokens=max_num_batched_tokens or default.get("max_num_batched_tokens"),
        max_num_seqs=max_num_seqs or default.get("max_num_seqs"),
        cuda_graphs=cuda_graphs,
        nvlink=gpu.sku in table.get("nvlink_gpus", ()),
        gpu_sku=gpu.sku,
    )


@dataclass(frozen=True)
class MemoryRow:
    """One version range of an engine's memory model (catalog/data/engine_memory.yaml)."""

    since: str
    checked_up_to: str
    generation: str
    activation: dict[str, float | str]
    non_torch: dict[str, float | str]
    cuda_graph: dict[str, float | bool | str]
    hybrid_allocator: bool
    window_in_flight_batches: int
    kv_tokens_report: str
    kv_source: str
    expert_padding: dict[str, dict[str, int]]
    #: Terms of what the engine's load takes beyond the weight tensors (load_extra_bytes); empty when none.
    load_extras: dict[str, float | str] = field(default_factory=dict)
    #: The version's own scheduler defaults where they are not the engine's (vLLM V0, v0_batch_defaults).
    scheduler_defaults: dict[str, int | str] = field(default_factory=dict)


def memory_row(engine: str, version: str) -> MemoryRow:
    """The newest row whose `since` <= version (the oldest row for versions older than all)."""
    rows = catalog.engine_memory()[engine]["rows"]
    row = next((r for r in rows if version_key(version) >= version_key(r["since"])), rows[-1])
    return MemoryRow(
        since=row["since"],
        checked_up_to=row["checked_up_to"],
        generation=row["engine_generation"],
        activation=row["activation"],
        non_torch=row["non_torch"],
        cuda_graph=row["cuda_graph"],
        hybrid_allocator=bool(row["hybrid_allocator"]),
        window_in_flight_batches=int(row["window_in_flight_batches"]),
        kv_tokens_report=row["kv_tokens_report"],
        kv_source=row["kv_source"],
        expert_padding=row.get("expert_padding") or {},
        load_extras=row.get("load_extras") or {},
        scheduler_defaults=row.get("scheduler_defaults") or {},
    )


def v0_batch_defaults(terms: dict[str, int | str], max_context: int) -> dict[str, int]:
    """vLLM V0's default batch for a context: max_num_seqs, and max_num_batched_tokens of
    max(context, floor) with chunked prefill off, or the chunked budget above the context from which V0
    turns chunked prefill on by itself (engine_memory.yaml, the V0 rows' scheduler_defaults)."""
    chunked = max_context > int(terms["chunked_prefill_above_context"])
    floor = int(terms["batched_tokens_floor"])
    tokens = int(terms["chunked_prefill_batched_tokens"]) if chunked else max(max_context, floor)
    return {"max_num_seqs": int(terms["max_num_seqs"]), "max_num_batched_tokens": tokens}


@dataclass(frozen=True)
class Overhead:
    """Non-KV, non-weight memory per GPU the engine needs, term by term, and where each comes from."""

    activation_gib: float
    non_torch_gib: float
    cuda_graph_gib: float
    cuda_graph_in_budget: bool
    generation: str
    calibrated_since: str
    checked_up_to: str
    sources: dict[str, str]
    #: The whole non-KV overhead as measured by a calibration row (replaces the sum of the terms).
    measured_total_gib: float | None = None

    @property
    def total_bytes(self) -> float:
        """What the engine subtracts before sizing the KV pool (graphs only when the version counts them)."""
        if self.measured_total_gib is not None:
            return self.measured_total_gib * GIB
        graphs = self.cuda_graph_gib if self.cuda_graph_in_budget else 0.0
        return (self.activation_gib + self.non_torch_gib + graphs) * GIB

    def calibrated(self, terms: dict[str, float], source: str) -> Overhead:
        """This overhead with the terms a calibration row measured in place of the modelled ones."""
        return replace(
            self,
            activation_gib=terms.get("activation_gib", self.activation_gib),
            non_torch_gib=terms.get("non_torch_gib", self.non_torch_gib),
            cuda_graph_gib=terms.get("cuda_graph_gib", self.cuda_graph_gib),
            measured_total_gib=terms.get("overhead_gib"),
            sources={**self.sources, "calibration": source},
        )


def activation_gib(row: MemoryRow, arch: catalog.Architecture, settings: EngineSettings) -> float:
    """The profiling pass's transient peak: fixed, or the larger of the sampler peak (with the dummy
    forward's hidden states still held) and the forward peak."""
    terms = row.activation
    if "fixed_gib" in terms:
        return float(terms["fixed_gib"])
    tokens = settings.max_num_batched_tokens or 0
    rows = min(settings.max_num_seqs or tokens, tokens)
    held = float(terms.get("hidden_state_bytes", 0.0)) * tokens * arch.hidden
    sampler = float(terms["sampler_bytes"]) * rows * arch.vocab + held
    forward = float(terms["forward_bytes"]) * tokens * arch.hidden
    if "forward_bytes_per_width" in terms and arch.intermediate:
        forward = float(terms["forward_bytes_per_width"]) * tokens * (arch.hidden + arch.intermediate)
    return max(sampler, forward) / GIB


def custom_all_reduce(row: MemoryRow, tp: int, nvlink: bool) -> bool:
    """Whether the engine sets up its custom all-reduce: a TP group over NVLink, or over PCIe up to the
    row's `pcie_custom_all_reduce_max_tp` GPUs (always, for rows that do not name that limit)."""
    limit = row.non_torch.get("pcie_custom_all_reduce_max_tp")
    return tp > 1 and (nvlink or limit is None or tp <= int(limit))


def non_torch_gib(row: MemoryRow, tp: int, nvlink: bool = False) -> float:
    """Memory outside the torch allocator on each GPU: the first GPU's share, the TP group's workspace
    (once, when the group sets up its custom all-reduce) and a share per further peer."""
    terms = row.non_torch
    group = float(terms.get("tp_group_gib", 0.0)) if custom_all_reduce(row, tp, nvlink) else 0.0
    return float(terms["first_gpu_gib"]) + group + float(terms["per_extra_rank_gib"]) * (tp - 1)


def cuda_graph_gib(row: MemoryRow, arch: catalog.Architecture, settings: EngineSettings) -> float:
    """CUDA-graph memory per GPU: 0 with graphs off, the row's fixed figure, or (vLLM >= 0.21) the engine's
    own estimate for the graphs it captures at these settings (inferstack/plan/cuda_graphs.py)."""
    terms = row.cuda_graph
    if not settings.cuda_graphs:
        return 0.0
    if "gib" in terms:
        return float(terms["gib"])
    counts = cuda_graphs.graph_counts(
        terms, arch.family, settings.gpu_sku, settings.max_num_seqs or 0, settings.max_num_batched_tokens or 0
    )
    return cuda_graphs.estimate_gib(terms, counts, arch.layers)


def engine_overhead(row: MemoryRow, arch: catalog.Architecture, tp: int, settings: EngineSettings) -> Overhead:
    """Activation, non-torch and CUDA-graph memory per GPU for one replica of `tp` GPUs."""
    return Overhead(
        activation_gib=activation_gib(row, arch, settings),
        non_torch_gib=non_torch_gib(row, tp, settings.nvlink),
        cuda_graph_gib=cuda_graph_gib(row, arch, settings),
        cuda_graph_in_budget=bool(row.cuda_graph["in_budget"]),
        generation=row.generation,
        calibrated_since=row.since,
        checked_up_to=row.checked_up_to,
        sources={
            "activation": str(row.activation["source"]),
            "non_torch": str(row.non_torch["source"]),
            "cuda_graph": str(row.cuda_graph["source"]),
            "kv": row.kv_source,
        },
    )


def kv_pool_bytes(settings: EngineSettings, gpu: catalog.Gpu, weights_per_gpu: float, overhead: Overhead) -> float:
    """KV pool per GPU under the engine's own budget formula (negative when nothing is left)."""
    total, fraction = gpu.memory_gib * GIB, settings.memory_fraction
    budget = catalog.engine_memory()[settings.name]["budget"]
    if budget == "of_free":
        return fraction * (total - weights_per_gpu - overhead.total_bytes)
    if budget == "of_free_after_init":
        startup = overhead.non_torch_gib * GIB
        return fraction * (total - startup) - weights_per_gpu - (overhead.total_bytes - startup)
    return fraction * total - weights_per_gpu - overhead.total_bytes
