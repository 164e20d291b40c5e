"""Does the model fit, with which tensor-parallel size, and how many sequences will a replica hold."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack import catalog
from inferstack.plan.calibration import Calibration
from inferstack.plan.kv import KvCapacity, KvGroups, kv_capacity, kv_groups
from inferstack.plan.memory import (
    GIB,
    EngineSettings,
    KvLayout,
    Overhead,
    engine_overhead,
    kv_layout,
    kv_pool_bytes,
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
) -> Fit:
    """Plan memory for one replica of `tp` GPUs. Conservative: fits only if one full-context
    sequence fits in the pool the engine would really allocate. A matching calibration row's measured
    weights and overhead replace the modelled ones."""
    row = memory_row(settings.name, settings.version)
    weights = weight_bytes(arch, quantization, tp, row.expert_padding.get(quantization))
    overhead = engine_overhead(row, arch, tp, settings)
    measured = calibration.find(settings, gpu.sku, arch.name, quantization, tp) if calibration else None
    if measured is not None:
        weights = measured.terms.get("weights_gib", weights / tp / GIB) * GIB * tp
        overhead = overhead.calibrated(measured.terms, measured.source)
    per_gpu = weights / tp
    pool = kv_pool_bytes(settings, gpu, per_gpu, overhead)
    layout = kv_layout(arch, settings.kv_cache_dtype, tp)
    table = catalog.engine_memory()[settings.name]
    block = int(table["block_tokens_mla" if arch.is_mla else "block_tokens"])
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
    )


def choose_tp(
    arch: catalog.Architecture,
    quantization: str,
    gpu: catalog.Gpu,
    settings: EngineSettings,
    max_context: int,
    requested: int | None,
    calibration: Calibration | None = None,
) -> tuple[Fit, list[Fit]]:
    """The requested TP, or the smallest allowed TP that fits; returns it with every TP tried."""
    candidates = [requested] if requested else arch.tp_choices()
    tried = []
    for tp in candidates:
        result = fit_at(arch, quantization, gpu, tp, settings, max_context, calibration)
        tried.append(result)
        if result.fits:
            return result, tried
    return tried[-1], tried
