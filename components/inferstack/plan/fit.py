"""Does the model fit, with which tensor-parallel size, and how many sequences will a replica hold."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack import catalog
from inferstack.plan.memory import (
    GIB,
    KvLayout,
    Overhead,
    engine_overhead,
    kv_layout,
    kv_pool_bytes,
    round_to_blocks,
    weight_bytes,
)


@dataclass(frozen=True)
class Fit:
    """Memory plan for one replica at one tensor-parallel size. Sizes are per GPU unless named."""

    tp: int
    gpu: str
    fits: bool
    reason: str
    weights_bytes: float
    weights_per_gpu_bytes: float
    overhead: Overhead
    kv_pool_bytes: float
    kv: KvLayout
    kv_tokens: int
    max_context: int
    concurrency: float

    @property
    def max_sequences(self) -> int:
        """Whole sequences of `max_context` tokens the pool holds at once."""
        return int(self.concurrency)


def fit_at(
    arch: catalog.Architecture,
    quantization: str,
    kv_cache_dtype: str,
    gpu: catalog.Gpu,
    tp: int,
    engine: str,
    engine_version: str,
    max_context: int,
) -> Fit:
    """Plan memory for one replica of `tp` GPUs. Conservative: fits only if one full-context
    sequence fits in the pool the engine would really allocate."""
    weights = weight_bytes(arch, quantization)
    per_gpu = weights / tp
    overhead = engine_overhead(engine, engine_version, arch, tp)
    pool = kv_pool_bytes(engine, gpu, per_gpu, overhead)
    layout = kv_layout(arch, kv_cache_dtype, tp)
    block = int(catalog.engine_memory()[engine]["block_tokens"])
    sequence = layout.sequence_bytes(max_context)
    concurrency = int(max(pool, 0) / sequence * 100) / 100  # engines report it truncated to 2 decimals
    if layout.window_bytes:  # hybrid models: engines report tokens as concurrency x context
        tokens = int(concurrency * max_context)
    else:
        tokens = round_to_blocks(max(pool, 0) / layout.full_bytes, block)
    if pool <= 0:
        reason = (
            f"weights ({per_gpu / GIB:.2f} GiB/GPU) and engine overhead ({overhead.total_bytes / GIB:.2f} GiB) "
            f"leave no memory for the KV cache on {gpu.sku} ({pool / GIB:.2f} GiB)"
        )
    elif concurrency < 1:
        reason = (
            f"KV pool {pool / GIB:.2f} GiB/GPU holds {tokens:,} tokens, fewer than one "
            f"{max_context:,}-token sequence needs"
        )
    else:
        reason = f"KV pool {pool / GIB:.2f} GiB/GPU holds {concurrency:.2f} sequences of {max_context:,} tokens"
    return Fit(
        tp=tp,
        gpu=gpu.sku,
        fits=pool > 0 and concurrency >= 1,
        reason=reason,
        weights_bytes=weights,
        weights_per_gpu_bytes=per_gpu,
        overhead=overhead,
        kv_pool_bytes=pool,
        kv=layout,
        kv_tokens=tokens,
        max_context=max_context,
        concurrency=concurrency,
    )


def choose_tp(
    arch: catalog.Architecture,
    quantization: str,
    kv_cache_dtype: str,
    gpu: catalog.Gpu,
    engine: str,
    engine_version: str,
    max_context: int,
    requested: int | None,
) -> tuple[Fit, list[Fit]]:
    """The requested TP, or the smallest allowed TP that fits; returns it with every TP tried."""
    candidates = [requested] if requested else arch.tp_choices()
    tried = []
    for tp in candidates:
        result = fit_at(arch, quantization, kv_cache_dtype, gpu, tp, engine, engine_version, max_context)
        tried.append(result)
        if result.fits:
            return result, tried
    return tried[-1], tried
