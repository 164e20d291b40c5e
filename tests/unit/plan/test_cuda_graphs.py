"""vLLM's CUDA-graph memory estimate: the graphs it captures and what it charges for them.

The graph counts are checked against the 'Profiling CUDA graph memory: PIECEWISE=N (largest=S), FULL=M'
lines of real startup logs; the estimate against the 'Estimated CUDA graph memory: X GiB total' lines.
"""

import pytest

from inferstack import catalog
from inferstack.plan.cuda_graphs import capture_sizes, graph_counts
from inferstack.plan.memory import cuda_graph_gib, engine_settings, memory_row

#: The capture-size rules of the vLLM 0.32.0 row (catalog/data/engine_memory.yaml).
SIZE_TERMS = {
    "max_capture_size": 512,
    "max_capture_size_by_gpu": {"B200": 1024},
    "max_capture_size_by_family": {"gpt-oss": 1024},
}


def test_default_sizes_are_1_2_4_then_steps_of_8_and_16_up_to_512():
    # the cudagraph_capture_sizes list vLLM 0.19.0 printed for Llama-3.1-8B on H100 (llm-d-planner
    # accuracy/results/v0.19.0/logs/meta-llama-llama-3-1-8b--h100-80gb--tp1pp1dp1--16384.log@d3121e05)
    logged = [1, 2, 4, *range(8, 256, 8), *range(256, 513, 16)]
    assert capture_sizes(512, 512, 8192) == logged
    assert len(logged) == 51


@pytest.mark.parametrize(
    ("family", "gpu", "max_num_seqs", "batched", "counts"),
    [
        # H100 defaults (max_num_seqs 1024, 8192 batched tokens): 'PIECEWISE=51 (largest=512), FULL=51
        # (largest=512)' in the llm-d-planner vLLM 0.19.0 Llama-3.1-8B and gemma-3-27b H100 logs
        ("llama", "H100", 1024, 8192, (51, 51)),
        # below 70 GiB vLLM defaults to max_num_seqs 256: FULL decode graphs only up to 256 requests
        # (vllm/v1/cudagraph_dispatcher.py initialize_cudagraph_keys): 1, 2, 4, 8..248 by 8, 256 = 35
        ("llama", "L4", 256, 8192, (51, 35)),
        # gpt-oss raises the largest size to 1024 'This will increase the number of CUDA graphs from 67 to
        # 83' (vllm/model_executor/models/config.py GptOssForCausalLMConfig, 0.32.0 wheel)
        ("gpt-oss", "H100", 1024, 8192, (83, 83)),
        # compute capability 10.0 (B200) has a 1024 ceiling (vllm/config/vllm.py, 0.32.0 wheel)
        ("llama", "B200", 1024, 16384, (83, 83)),
        # max_num_batched_tokens below the largest size caps it and is captured itself
        ("llama", "L4", 256, 100, (16, 16)),
    ],
)
def test_graph_counts_follow_the_engine_rules(family, gpu, max_num_seqs, batched, counts):
    assert graph_counts(SIZE_TERMS, family, gpu, max_num_seqs, batched) == counts


def _estimate(hf_id, gpu, version="0.32.0", **engine):
    """The plan's CUDA-graph term for a catalog model on one catalog GPU with vLLM's defaults there."""
    arch = catalog.architecture_for_hf_id(hf_id)
    assert arch is not None
    settings = engine_settings("vllm", version, catalog.gpus()[gpu], **engine)
    return cuda_graph_gib(memory_row("vllm", version), arch, settings)


def test_the_fitted_log_is_reproduced():
    # 'Estimated CUDA graph memory: 0.84 GiB total', Llama-3.1-8B-Instruct 1xH100, vLLM 0.19.0 (the fitted point)
    assert _estimate("meta-llama/Llama-3.1-8B-Instruct", "H100") == pytest.approx(0.84, abs=0.005)


def test_a_checked_log_is_within_seven_percent():
    # gemma-3-27b-it 1xH100, vLLM 0.19.0: 'Estimated CUDA graph memory: 1.05 GiB total' (llm-d-planner
    # accuracy/results/v0.19.0/logs/google-gemma-3-27b-it--h100-80gb--tp1pp1dp1--8192.log@d3121e05)
    logged = 1.05
    assert abs(_estimate("google/gemma-3-27b-it", "H100") - logged) / logged < 0.07


def test_a_tp2_log_is_undercounted_by_thirty_percent():
    # Llama-3.3-70B FP8 2xH100, vLLM 0.19.0 logs 'Estimated CUDA graph memory: 1.82 GiB' per rank; the model
    # has no TP term, so it charges 1.28 GiB (a known miss of this term, reported, not fitted away)
    logged = 1.82
    error = (_estimate("RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "H100") - logged) / logged
    assert round(error, 2) == -0.30


def test_graphs_off_charge_nothing_and_old_versions_keep_their_fixed_figure():
    assert _estimate("meta-llama/Llama-3.1-8B-Instruct", "H100", cuda_graphs=False) == 0.0
    # vLLM 0.8-0.16: 'graphs captured after the KV cache is sized' with the llm-d 0.45 GiB
    assert _estimate("meta-llama/Llama-3.1-8B-Instruct", "H100", version="0.10.1") == 0.45


def test_fewer_sequences_mean_fewer_graphs_and_less_memory():
    # max_num_seqs 64: sizes up to 128 (1, 2, 4, 8..128 by 8 = 19 PIECEWISE), FULL up to 64 (11):
    # 260 + 18 x 0.1875 x 32 + 10 x 6 = 428 MiB
    assert _estimate("meta-llama/Llama-3.1-8B-Instruct", "H100", max_num_seqs=64) == 428 / 1024
