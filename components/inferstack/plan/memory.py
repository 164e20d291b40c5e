"""GPU memory arithmetic: weight bytes, KV bytes per token, and the KV pool an engine will get.

All functions are pure. Byte counts are exact given the architecture; only the engine overhead
(activations, non-torch memory) is a calibrated estimate, looked up per engine and version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack import catalog

GIB = 1024**3

#: Bytes per weight for each serving format; 4-bit formats include their block scales
#: (AWQ/GPTQ group 128 with fp16 scale and packed zero; MXFP4 8-bit scale per 32; NVFP4 fp8 scale per 16).
WEIGHT_BYTES = {
    "none": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "awq": 0.5 + 2.5 / 128,
    "gptq": 0.5 + 2.5 / 128,
    "mxfp4": 4.25 / 8,
    "nvfp4": 4.5 / 8,
}
KV_BYTES = {"auto": 2, "fp8": 1}


def weight_bytes(arch: catalog.Architecture, quantization: str) -> float:
    """Checkpoint bytes in GPU memory: quantized body plus 16-bit embeddings and LM head."""
    embeddings = arch.embedding_parameters
    return (arch.parameters - embeddings) * WEIGHT_BYTES[quantization] + embeddings * 2.0


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
    """Per-GPU KV cost of one token: in full-attention layers, and in sliding-window layers."""

    full_bytes: int
    window_bytes: int
    window: int | None

    def sequence_bytes(self, tokens: int) -> int:
        """Bytes one sequence of `tokens` holds on each GPU (window layers cap at the window)."""
        windowed = min(tokens, self.window) if self.window else 0
        return self.full_bytes * tokens + self.window_bytes * windowed


def kv_layout(arch: catalog.Architecture, kv_cache_dtype: str, tp: int) -> KvLayout:
    b = KV_BYTES[kv_cache_dtype]
    if arch.is_mla:  # the latent is not split by head: every rank holds all of it
        return KvLayout(kv_bytes_per_token(arch, kv_cache_dtype), 0, None)
    per_layer = 2 * kv_heads_per_gpu(arch, tp) * arch.head_dim * b
    window_layers = arch.sliding_window_layers if arch.sliding_window else 0
    return KvLayout(per_layer * (arch.layers - window_layers), per_layer * window_layers, arch.sliding_window)


@dataclass(frozen=True)
class Overhead:
    """Non-KV, non-weight memory per GPU the engine needs, and where the numbers come from."""

    activation_gib: float
    non_torch_gib: float
    generation: str
    source: str
    calibrated_since: str

    @property
    def total_bytes(self) -> float:
        return (self.activation_gib + self.non_torch_gib) * GIB


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def engine_overhead(engine: str, version: str, arch: catalog.Architecture, tp: int) -> Overhead:
    """The calibration row for this engine version: the newest row whose `since` <= version."""
    table = catalog.engine_memory()[engine]
    rows = table["rows"]
    row = next((r for r in rows if _version_key(version) >= _version_key(r["since"])), rows[-1])
    activation = row["activation_gib"]
    key = arch.family if arch.family in activation else ("moe" if arch.is_moe and "moe" in activation else "dense")
    return Overhead(
        activation_gib=float(activation[key]),
        non_torch_gib=float(row["non_torch_gib"]["single_gpu" if tp == 1 else "multi_gpu"]),
        generation=row["engine_generation"],
        source=row["source"],
        calibrated_since=row["since"],
    )


def kv_pool_bytes(engine: str, gpu: catalog.Gpu, weights_per_gpu: float, overhead: Overhead) -> float:
    """KV pool per GPU under the engine's own budget formula (negative when nothing is left)."""
    table = catalog.engine_memory()[engine]
    total, fraction = gpu.memory_gib * GIB, float(table["memory_fraction"])
    if table["budget"] == "of_free":
        return fraction * (total - weights_per_gpu - overhead.total_bytes)
    return fraction * total - weights_per_gpu - overhead.total_bytes


def round_to_blocks(tokens: float, block: int) -> int:
    return int(math.floor(tokens / block) * block) if tokens > 0 else 0
