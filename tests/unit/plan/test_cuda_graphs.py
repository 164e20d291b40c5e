"""vLLM's CUDA-graph memory estimate: the graphs it captures and what it charges for them.

The graph counts are checked against the 'Profiling CUDA graph memory: PIECEWISE=N (largest=S), FULL=M'
lines of real startup logs; the estimate against the 'Estimated CUDA graph memory: X GiB total' lines.
"""

import pytest

from inferstack.plan.cuda_graphs import capture_sizes, graph_counts

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
