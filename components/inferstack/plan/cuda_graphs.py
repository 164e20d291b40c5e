"""vLLM's CUDA-graph memory estimate, the figure vLLM >= 0.21 subtracts before sizing the KV pool.

What vLLM does (vllm/v1/worker/gpu_model_runner.py GPUModelRunner.profile_cudagraph_memory and
vllm/v1/worker/gpu_worker.py Worker.determine_available_memory, vLLM 0.32.0 wheel): with a minimal
profiling KV cache it captures the two largest graphs of each mode (PIECEWISE, then FULL) and reads
the free-memory drop of each capture. Its estimate is

    max over modes of the first capture + sum over modes of (graphs in the mode - 1) x the second capture

and, since VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults to 1 (0.21.0), the KV pool is
util x device memory - weights - activation peak - non-torch memory - that estimate.

How many graphs each mode captures follows from the capture sizes (vllm/config/vllm.py
VllmConfig._set_cudagraph_sizes and vllm/v1/cudagraph_dispatcher.py initialize_cudagraph_keys, same
wheel), computed exactly below: PIECEWISE captures every size, FULL (decode batches, the default mode
FULL_AND_PIECEWISE) the sizes up to max_num_seqs. What one capture costs is not computable from the
architecture; the row of catalog/data/engine_memory.yaml carries fitted costs (the first capture, a
PIECEWISE graph per model layer, since it is split into one piece per attention layer, and a FULL graph).
"""

from __future__ import annotations

from collections.abc import Mapping

MIB = 1024**2
GIB = 1024**3


def _number(terms: Mapping[str, object], key: str) -> float:
    value = terms[key]
    assert isinstance(value, int | float), f"engine_memory.yaml cuda_graph.{key} is not a number"
    return float(value)


def _table(terms: Mapping[str, object], key: str) -> Mapping[str, int]:
    value = terms.get(key) or {}
    assert isinstance(value, Mapping), f"engine_memory.yaml cuda_graph.{key} is not a mapping"
    return value


def capture_sizes(max_capture: int, decode_size: int | None, max_num_batched_tokens: int) -> list[int]:
    """The batch sizes vLLM captures: 1, 2, 4, then every 8 below 256, then every 16, up to the largest
    size capped by max_num_batched_tokens (which is captured itself when below it), plus `decode_size`
    (max_num_seqs, when vLLM picked the largest size itself and it reaches max_num_seqs)."""
    largest = min(max_capture, max_num_batched_tokens)
    sizes = {size for size in (1, 2, 4) if size <= largest}
    sizes.update(range(8, min(largest + 1, 256), 8))
    sizes.update(range(256, largest + 1, 16))
    if max_num_batched_tokens <= largest:
        sizes.add(max_num_batched_tokens)
    if decode_size is not None and decode_size <= max_num_batched_tokens:
        sizes.add(decode_size)
    return sorted(sizes)


def graph_counts(
    terms: Mapping[str, object], family: str, gpu_sku: str, max_num_seqs: int, max_num_batched_tokens: int
) -> tuple[int, int]:
    """(PIECEWISE graphs, FULL graphs) vLLM captures. The largest size is a model family's fixed override
    (gpt-oss: 1024), else 2 x max_num_seqs up to the platform ceiling (a GPU's own, or the default);
    FULL captures the sizes up to max_num_seqs."""
    override = _table(terms, "max_capture_size_by_family").get(family)
    if override is not None:
        sizes = capture_sizes(int(override), None, max_num_batched_tokens)
    else:
        ceiling = int(_table(terms, "max_capture_size_by_gpu").get(gpu_sku, _number(terms, "max_capture_size")))
        largest = min(2 * max_num_seqs, ceiling)
        sizes = capture_sizes(largest, max_num_seqs if max_num_seqs <= largest else None, max_num_batched_tokens)
    return len(sizes), sum(1 for size in sizes if size <= max_num_seqs)


def estimate_gib(terms: Mapping[str, object], counts: tuple[int, int], layers: int) -> float:
    """vLLM's estimate for these graph counts: the first capture, plus each further PIECEWISE graph at the
    per-layer cost times the model's layers and each further FULL graph at its cost."""
    piecewise, full = counts
    if not piecewise and not full:
        return 0.0
    further_piecewise = max(piecewise - 1, 0) * _number(terms, "piecewise_mib_per_graph_layer") * layers
    further_full = max(full - 1, 0) * _number(terms, "full_mib_per_graph")
    return (_number(terms, "first_capture_mib") + further_piecewise + further_full) * MIB / GIB
