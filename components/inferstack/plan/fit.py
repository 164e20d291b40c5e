"""Does the model fit, with which tensor-parallel size, and how many sequences will a replica hold."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from inferstack import catalog
from inferstack.catalog.multinode import Topology
from inferstack.plan.calibration import Calibration
from inferstack.plan.kv import KvCapacity, KvGroups, kv_capacity, kv_groups, mla_block_tokens
from inferstack.plan.memory import (
    GIB,
    EngineSettings,
    KvLayout,
    Overhead,
    engine_kv_layout,
    engine_overhead,
    expert_bias_correction,
    kv_pool_bytes,
    load_extra_bytes,
    memory_row,
    weight_bytes,
)


@dataclass(frozen=True)
class Fit:
    """Memory plan for one replica at one tensor-parallel size. Sizes are per GPU unless named."""

    tp: int
    gpu: str
    fits: bool
    reason: str
    settings: EngineSettings
    weights_bytes: float
    weights_per_gpu_bytes: float
    overhead: Overhead
    kv_pool_bytes: float
    kv: KvLayout
    groups: KvGroups
    capacity: KvCapacity
    max_context: int
    #: Pipeline-parallel stages (1 on one node; vLLM's PP across nodes).
    pp: int = 1
    #: Nodes one replica spans.
    nodes: int = 1
    #: Bytes of the checkpoint's weights over all ranks, with the layers the engine stores but does not load
    #: (an MTP layer): what a cache holds and a replica fetches and reads.
    checkpoint_bytes: float = 0.0

    @property
    def gpus(self) -> int:
        """GPUs per replica, over all its nodes."""
        return self.tp * self.pp

    @property
    def gpus_per_node(self) -> int:
        """GPUs each of the replica's pods requests (one pod per node)."""
        return self.gpus // self.nodes

    def describe(self) -> str:
        """`8x H100`, or `16x H100 (2 nodes, TP8 x PP2)` for a replica that spans nodes."""
        if self.nodes == 1:
            return f"{self.tp}x {self.gpu}"
        return f"{self.gpus}x {self.gpu} ({self.nodes} nodes, TP{self.tp} x PP{self.pp})"

    @property
    def kv_tokens(self) -> int:
        """The KV cache size in tokens as the engine logs it."""
        return self.capacity.reported_tokens

    @property
    def concurrency(self) -> float:
        """Requests of `max_context` tokens the pool holds, truncated to 2 decimals as engines log it."""
        return int(self.capacity.concurrency * 100) / 100

    @property
    def max_sequences(self) -> int:
        """Whole sequences of `max_context` tokens the pool holds at once."""
        return int(self.capacity.concurrency)


def fit_at(
    arch: catalog.Architecture,
    quantization: str,
    gpu: catalog.Gpu,
    tp: int,
    settings: EngineSettings,
    max_context: int,
    calibration: Calibration | None = None,
    topology: Topology | None = None,
) -> Fit:
    """Plan memory for one replica of `tp` GPUs, or of a multi-node `topology` (its TP x PP). Conservative:
    fits only if one full-context sequence fits in the pool the engine would really allocate. A matching
    calibration row's measured weights and overhead replace the modelled ones (single-node rows only).

    Pipeline stages each hold 1/PP of the weights and the KV of their own layers (the largest stage,
    ceil(layers / PP), is the one that must fit)."""
    pp, nodes = (topology.pp, topology.nodes) if topology else (1, 1)
    tp = topology.tp if topology else tp
    row = memory_row(settings.name, settings.version)
    padding = row.expert_padding.get(quantization)
    weights = weight_bytes(arch, quantization, tp, padding, gpu.sku)
    unloaded = weight_bytes(replace(arch, mtp_parameters=0.0), quantization, tp, padding, gpu.sku) - weights
    weights += expert_bias_correction(arch, quantization, tp, padding, gpu.sku)
    weights += load_extra_bytes(row, arch, quantization, tp) * tp * pp
    overhead = engine_overhead(row, arch, tp, settings)
    single = topology is None
    measured = calibration.find(settings, gpu.sku, arch.name, quantization, tp) if calibration and single else None
    if measured is not None:
        weights = measured.terms.get("weights_gib", weights / tp / GIB) * GIB * tp
        overhead = overhead.calibrated(measured.terms, measured.source)
    per_gpu = weights / (tp * pp)
    pool = kv_pool_bytes(settings, gpu, per_gpu, overhead)
    layout = engine_kv_layout(arch, settings.kv_cache_dtype, tp, settings.name, settings.version)
    if pp > 1:
        layout = replace(
            layout,
            full_layers=math.ceil(layout.full_layers / pp),
            window_layers=math.ceil(layout.window_layers / pp),
        )
    table = catalog.engine_memory()[settings.name]
    block = mla_block_tokens(settings.name, settings.version, gpu.sku) if arch.is_mla else int(table["block_tokens"])
    groups = kv_groups(layout, block, row.hybrid_allocator)
    in_flight = row.window_in_flight_batches * (settings.max_num_batched_tokens or max_context)
    capacity = kv_capacity(groups, pool, max_context, in_flight, row.kv_tokens_report)
    fits = pool > 0 and capacity.blocks >= capacity.blocks_per_request
    if pool <= 0:
        reason = (
            f"weights ({per_gpu / GIB:.2f} GiB/GPU) and engine overhead ({overhead.total_bytes / GIB:.2f} GiB) "
            f"leave no memory for the KV cache on {gpu.sku} ({pool / GIB:.2f} GiB)"
        )
    elif not fits:
        reason = (
            f"KV pool {pool / GIB:.2f} GiB/GPU holds {capacity.reported_tokens:,} tokens, fewer than one "
            f"{max_context:,}-token sequence needs"
        )
    else:
        shown = int(capacity.concurrency * 100) / 100
        reason = f"KV pool {pool / GIB:.2f} GiB/GPU holds {shown:.2f} sequences of {max_context:,} tokens"
    return Fit(
        tp=tp,
        gpu=gpu.sku,
        fits=fits,
        reason=reason,
        settings=settings,
        weights_bytes=weights,
        weights_per_gpu_bytes=per_gpu,
        overhead=overhead,
        kv_pool_bytes=pool,
        kv=layout,
        groups=groups,
        capacity=capacity,
        max_context=max_context,
        pp=pp,
        nodes=nodes,
        checkpoint_bytes=weights + unloaded,
    )


def choose_fit(
    arch: catalog.Architecture,
    quantization: str,
    gpu: catalog.Gpu,
    settings: EngineSettings,
    max_context: int,
    requested: int | None,
    spans: list[Topology],
    calibration: Calibration | None = None,
) -> tuple[Fit, list[Fit]]:
    """The requested GPU count (one node, or the multi-node layout in `spans` with that many GPUs), else
    the smallest single-node TP that fits, else the first of `spans` (fewest nodes first) that fits;
    returns it with every layout tried."""
    single: list[tuple[int, Topology | None]] = [(tp, None) for tp in arch.tp_choices()]
    spanned: list[tuple[int, Topology | None]] = [(t.tp, t) for t in spans]
    if requested:
        spanned = [(tp, t) for tp, t in spanned if t and t.gpus == requested]
        candidates = spanned or [(requested, None)]
    else:
        candidates = single + spanned
    tried = []
    for tp, topology in candidates:
        result = fit_at(arch, quantization, gpu, tp, settings, max_context, calibration, topology)
        tried.append(result)
        if result.fits:
            return result, tried
    return tried[-1], tried
