"""vLLM V0 (releases before 0.8.0): the scheduler defaults by context and the profile run's activation peak.

Figures are worked by hand from the V0 source (catalog/data/engine_memory.yaml, the V0 rows):
sampler = 38 B x max_num_seqs x vocab + 2 B x max_num_batched_tokens x hidden,
forward = 6 B x max_num_batched_tokens x (hidden + intermediate), or 24 B x tokens x hidden without intermediate.
"""

from benchmarks.reference import reference_points, reference_spec
from inferstack import catalog
from inferstack.plan import plan
from inferstack.plan.memory import GIB, activation_gib, engine_settings, memory_row, v0_batch_defaults

H100 = catalog.gpus()["H100"]
LLAMA_3_8B = catalog.architecture_for_hf_id("meta-llama/Meta-Llama-3-8B")
QWQ_32B = catalog.architecture_for_hf_id("Qwen/QwQ-32B")
V0_DEFAULTS = memory_row("vllm", "0.6.5").scheduler_defaults


def _v0_activation(arch, version="0.6.5", context=8192):
    assert arch is not None
    settings = engine_settings("vllm", version, H100, max_context=context)
    return activation_gib(memory_row("vllm", version), arch, settings) * GIB


def test_v0_batches_the_whole_context_without_chunked_prefill():
    # SchedulerConfig: max(max_model_len, 2048) tokens, 256 sequences
    assert v0_batch_defaults(V0_DEFAULTS, 8192) == {"max_num_seqs": 256, "max_num_batched_tokens": 8192}
    assert v0_batch_defaults(V0_DEFAULTS, 32768) == {"max_num_seqs": 256, "max_num_batched_tokens": 32768}
    assert v0_batch_defaults(V0_DEFAULTS, 1024) == {"max_num_seqs": 256, "max_num_batched_tokens": 2048}


def test_v0_above_32k_turns_chunked_prefill_on_with_512_tokens():
    assert v0_batch_defaults(V0_DEFAULTS, 32769) == {"max_num_seqs": 256, "max_num_batched_tokens": 512}


def test_v0_defaults_replace_v1_defaults_but_not_the_spec():
    v0 = engine_settings("vllm", "0.6.5", H100, max_context=8192)
    assert (v0.max_num_seqs, v0.max_num_batched_tokens) == (256, 8192)
    # V1 on an H100 (> 70 GiB, not an A100): 1024 sequences, 8192 tokens whatever the context
    v1 = engine_settings("vllm", "0.10.1", H100, max_context=16000)
    assert (v1.max_num_seqs, v1.max_num_batched_tokens) == (1024, 8192)
    chosen = engine_settings("vllm", "0.6.5", H100, max_num_seqs=64, max_num_batched_tokens=4096, max_context=8192)
    assert (chosen.max_num_seqs, chosen.max_num_batched_tokens) == (64, 4096)


def test_v0_activation_of_meta_llama_3_8b_at_8192_tokens_is_the_sampler_peak():
    # 38 x 256 x 128,256 = 1,247,674,368 B of sampler + 2 x 8192 x 4096 = 67,108,864 B of hidden states;
    # the forward, 24 x 8192 x 4096 = 805,306,368 B, is smaller. V0H logs 1.26 GiB.
    assert _v0_activation(LLAMA_3_8B) == 1_314_783_232


def test_v0_activation_of_meta_llama_3_8b_at_32768_tokens_is_the_forward_peak():
    # forward 24 x 32,768 x 4096 = 3,221,225,472 B (3 GiB) against a sampler of
    # 1,247,674,368 + 2 x 32,768 x 4096 = 1,516,109,824 B
    assert _v0_activation(LLAMA_3_8B, context=32768) == 3_221_225_472


def test_v0_forward_uses_the_intermediate_width_where_the_catalog_has_it():
    # QwQ-32B: 6 x 8192 x (5120 + 27,648) = 1,610,612,736 B, above its sampler
    # 38 x 256 x 152,064 + 2 x 8192 x 5120 = 1,563,164,672 B
    assert _v0_activation(QWQ_32B) == 1_610_612_736


def test_v0_non_torch_by_version_range():
    assert memory_row("vllm", "0.6.5").non_torch["first_gpu_gib"] == 0.35
    assert memory_row("vllm", "0.7.1").non_torch["first_gpu_gib"] == 0.16
    assert "fixed_gib" not in memory_row("vllm", "0.7.3").activation


def test_v0h_plans_with_v0_defaults_and_blocks():
    result = plan(reference_spec(reference_points()["V0H"]))
    assert (result.fit.settings.max_num_seqs, result.fit.settings.max_num_batched_tokens) == (256, 8192)
    assert result.fit.kv_tokens % 16 == 0  # whole V0 blocks of 16 tokens
