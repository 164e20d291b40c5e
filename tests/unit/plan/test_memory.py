"""The engine memory model: weights by tensor group, the spec's engine settings, version ranges."""

import pytest

from benchmarks.reference import reference_points, reference_spec
from inferstack import catalog
from inferstack.plan import plan
from inferstack.plan.memory import (
    GIB,
    allocator_rounding_bytes,
    engine_settings,
    expert_bias_correction,
    load_extra_bytes,
    memory_row,
    version_key,
    weight_bytes,
    weight_groups,
)
from inferstack.plan.memory import non_torch_gib as non_torch_gib_of
from tests.conftest import spec_variant

#: quickstart: Llama-3.1-8B (vocab 128,256, hidden 4,096) on one L4 (22.03 GiB as the engine sees it),
#: vLLM 0.32.0, whose defaults below 70 GiB of device memory are max_num_batched_tokens 2048 and
#: max_num_seqs 256 (vllm/engine/arg_utils.py).
L4_GIB = 22.03


def _fit(engine=None, **changes):
    return plan(spec_variant("quickstart", {"engine": engine or {}, **changes})).fit


def test_memory_fraction_moves_the_pool_by_that_share_of_the_gpu():
    default, high = _fit().kv_pool_bytes, _fit({"gpu_memory_utilization": 0.95}).kv_pool_bytes
    assert (high - default) / GIB == pytest.approx(0.05 * L4_GIB, abs=1e-9)
    assert _fit({"gpu_memory_utilization": 0.95}).settings.memory_fraction == 0.95


@pytest.mark.parametrize(
    ("batched", "activation_gib"),
    [
        # sampler peak since vLLM 0.17: 14.94 B x min(256 seqs, batched tokens) x 128,256 vocab, plus the
        # dummy forward's BF16 hidden states (2 B x batched tokens x 4,096 hidden) still held
        (None, (14.94 * 256 * 128_256 + 2 * 2048 * 4096) / 2**30),  # 0.4725 GiB at the default 2048 tokens
        (128, (14.94 * 128 * 128_256 + 2 * 128 * 4096) / 2**30),  # fewer rows than max_num_seqs reach the sampler
        # forward peak: 24 B x tokens x 4,096 hidden = 6.0 GiB, above the sampler's 0.46 + 0.5 held
        (65_536, 6.0),
    ],
)
def test_batched_tokens_set_the_activation_peak(batched, activation_gib):
    fit = _fit({"max_num_batched_tokens": batched} if batched else {})
    assert fit.overhead.activation_gib == pytest.approx(activation_gib, rel=1e-9)
    assert fit.settings.max_num_batched_tokens == (batched or 2048)


def test_h100_defaults_follow_vllm_device_memory_rule():
    h100 = _fit(resources={"gpu": "H100:1"}, compliance={"monthly_budget": None})
    assert (h100.settings.max_num_batched_tokens, h100.settings.max_num_seqs) == (8192, 1024)
    a100 = _fit({"quantization": None}, resources={"gpu": "A100-80GB:1"}, compliance={"monthly_budget": None})
    assert (a100.settings.max_num_batched_tokens, a100.settings.max_num_seqs) == (2048, 256)


def test_cuda_graphs_off_frees_graph_memory_only_where_the_version_counts_it():
    # 0.32.0 on the L4 (max_num_seqs 256): 51 PIECEWISE + 35 FULL graphs, 260 MiB first capture + 50 x 0.1875 MiB
    # x 32 layers + 34 x 6 MiB = 764 MiB (catalog/data/engine_memory.yaml)
    for version, freed_gib in (("0.32.0", 764 / 1024), ("0.10.1", 0.0)):
        on = _fit({"version": version})
        off = _fit({"version": version, "cuda_graphs": False})
        assert off.overhead.cuda_graph_gib == 0.0
        assert (off.kv_pool_bytes - on.kv_pool_bytes) / GIB == pytest.approx(freed_gib, abs=1e-9)
    assert _fit().overhead.cuda_graph_in_budget and not _fit({"version": "0.10.1"}).overhead.cuda_graph_in_budget


@pytest.mark.parametrize(
    ("version", "since"),
    [
        ("0.32.0", "0.32.0"),
        ("0.40.1", "0.32.0"),
        ("0.25.3", "0.21.0"),
        ("0.19.0", "0.18.0"),
        ("0.17.1", "0.17.0"),
        ("0.16.0", "0.8.0"),
        ("0.10.1", "0.8.0"),
        ("0.6.6", "0.0.0"),
    ],
)
def test_version_ranges_pick_their_row(version, since):
    assert memory_row("vllm", version).since == since


@pytest.mark.parametrize(
    ("version", "key"),
    [("0.10.1", (0, 10, 1)), ("0.8.3rc1", (0, 8, 3)), ("0.8.3.dev172+g2b93162f", (0, 8, 3, 0)), ("1.x", (1, 0))],
)
def test_release_suffixes_do_not_change_the_number(version, key):
    assert version_key(version) == key


def test_non_torch_memory_grows_with_tensor_parallel_peers():
    seventy = spec_variant(
        "quickstart",
        {
            "model": {"source": "hf://meta-llama/Llama-3.1-70B-Instruct", "max_context": 4096},
            "resources": {"gpu": "H100:8"},
            "compliance": {"monthly_budget": None},
        },
    )
    # vLLM 0.19.0 on H100: 0.25 GiB at TP1, 2.07 at TP2, 2.13 at TP4; at TP8: 0.25 + 1.79 + 7 x 0.03
    assert plan(seventy).fit.overhead.non_torch_gib == pytest.approx(2.25, abs=1e-9)


@pytest.mark.parametrize(("tp", "non_torch_gib"), [(1, 0.25), (2, 2.07), (4, 2.13)])
def test_the_tp_group_workspace_is_charged_once_a_group_exists(tp, non_torch_gib):
    # The logged 'non-torch forward increase memory' of Llama-3.1-8B on H100, vLLM 0.19.0 (llm-d-planner).
    assert non_torch_gib_of(memory_row("vllm", "0.19.0"), tp) == pytest.approx(non_torch_gib, abs=1e-9)


def test_the_sampler_peak_includes_the_hidden_states_it_is_fed():
    # vLLM 0.19.0 on H100 (llm-d-planner): Llama-3.1-8B logs 1.89 GiB, Llama-3.3-70B (hidden 8,192, same
    # vocabulary) 1.96: the 8,192 dummy tokens' hidden states differ by 2 B x 8,192 x 4,096 = 0.0625 GiB.
    eight = plan(spec_variant("quickstart", {"resources": {"gpu": "H100:1"}, "compliance": {"monthly_budget": None}}))
    seventy = plan(
        spec_variant(
            "quickstart",
            {
                "model": {"source": "hf://meta-llama/Llama-3.1-70B-Instruct", "max_context": 4096},
                "resources": {"gpu": "H100:2"},
                "compliance": {"monthly_budget": None},
            },
        )
    )
    difference = seventy.fit.overhead.activation_gib - eight.fit.overhead.activation_gib
    assert difference == pytest.approx(2 * 8192 * 4096 / 2**30, abs=1e-9)


def test_versions_before_the_tp_group_workspace_grow_per_peer_only():
    # llm-d on vLLM 0.10.1: 0.13 GiB at TP1, 0.55 at TP2 (no 1.79 GiB workspace step)
    assert non_torch_gib_of(memory_row("vllm", "0.10.1"), 2) == pytest.approx(0.55, abs=1e-9)


def test_sglang_keeps_activations_outside_its_static_fraction():
    fit = _fit({"name": "sglang", "version": "0.5.23"})
    assert (fit.overhead.activation_gib, fit.overhead.cuda_graph_in_budget) == (0.0, False)


def test_mxfp4_keeps_attention_router_and_embeddings_16_bit():
    arch = catalog.architectures()["gpt-oss-120b"]
    groups = weight_groups(arch)
    # 36 layers x 2,880 hidden x 64 head_dim x 2 x (64 + 8) heads; router 36 x 2,880 x 128 experts
    assert groups["attention"] == 36 * 2880 * 64 * 2 * 72 == 955_514_880
    assert groups["router"] == 36 * 2880 * 128
    sixteen_bit = (groups["embeddings"] + groups["attention"] + groups["router"]) * 2
    assert weight_bytes(arch, "mxfp4") == pytest.approx(sixteen_bit + groups["body"] * 4.25 / 8, rel=1e-12)


def test_mxfp4_experts_are_padded_as_the_marlin_kernel_pads_them():
    arch = catalog.architectures()["gpt-oss-120b"]
    padded = weight_bytes(arch, "mxfp4", 1, {"hidden": 256, "intermediate": 128})
    # vllm-project/vllm#23278: "Model loading took 65.9651 GiB" for gpt-oss-120b on one H100 (Marlin)
    assert padded / GIB == pytest.approx(65.9651, rel=0.005)
    # hidden 2,880 -> 3,072 and intermediate 2,880 -> 2,944: experts 1.0904x the checkpoint's
    groups = weight_groups(arch)
    assert padded - weight_bytes(arch, "mxfp4") == pytest.approx(
        groups["body"] * 4.25 / 8 * (3072 * 2944 / 2880**2 - 1), rel=1e-12
    )


def test_fp8_weights_keep_16_bit_embeddings():
    arch = catalog.architectures()["llama-3.1-70b"]
    # llm-d measured 67.72 GiB for Llama-3.3-70B FP8-dynamic (body FP8, embeddings and LM head BF16).
    assert weight_bytes(arch, "fp8") / GIB == pytest.approx(67.72, rel=0.005)


@pytest.mark.parametrize(
    ("gpu", "tp", "startup_gib"),
    [
        ("L4", 1, 0.40),  # no TP group, no custom all-reduce
        ("L4", 2, 3.11),  # two PCIe GPUs still get SGLang's custom all-reduce
        ("L4", 4, 0.40),  # 'not supported on more than two PCIe-only GPUs' (SG-L4: 22.03 - 21.63 GiB)
        ("H100", 4, 3.11),  # NVLink: custom all-reduce at any TP (sglang#11716: 140.40 - 137.29 GiB on H200)
    ],
)
def test_sglang_startup_cost_follows_the_custom_all_reduce(gpu, tp, startup_gib):
    settings = engine_settings("sglang", "0.4.9", catalog.gpus()[gpu])
    assert non_torch_gib_of(memory_row("sglang", "0.4.9"), tp, settings.nvlink) == pytest.approx(startup_gib, abs=1e-9)


def test_sglang_pool_is_its_fraction_of_the_memory_free_after_startup():
    # SG-L4: QwQ-32B on 4x L4 with fraction 0.85: 0.85 x (22.03 - 0.40) GiB for weights and pool.
    fit = plan(reference_spec(reference_points()["SG-L4"])).fit
    assert fit.kv_pool_bytes == pytest.approx(0.85 * (22.03 - 0.40) * GIB - fit.weights_per_gpu_bytes, abs=1)


def test_sglang_weights_include_the_rotary_cache_and_the_allocators_rounding():
    arch = catalog.architectures()["qwq-32b"]
    extra = load_extra_bytes(memory_row("sglang", "0.4.3.post4"), arch, "none", 4)
    # QwQ-32B TP4 per rank, in MiB: QKV 17.5 -> 18, O 12.5 -> 14, gate-up 135 -> 136, down 67.5 -> 68 (3.5 x 64
    # layers), embedding and LM head 371.25 -> 372 each, rotary cache 131,072 x 128 x 2 B = 32 MiB
    assert extra == (3.5 * 64 + 2 * 0.75 + 32) * 1024**2


def test_vllm_rows_count_the_weights_tensors_only():
    arch = catalog.architectures()["qwq-32b"]
    assert load_extra_bytes(memory_row("vllm", "0.10.1"), arch, "none", 4) == 0.0


def test_the_allocator_rounds_large_tensors_only():
    mib = 1024**2
    # 12.5 MiB -> 14 MiB; 10 MiB exactly is already a 2 MiB multiple; 9 MiB is below the 10 MiB large-alloc floor
    assert allocator_rounding_bytes([int(12.5 * mib), 10 * mib, 9 * mib]) == int(1.5 * mib)


def test_sglang_plans_qwq_32b_on_four_l4_as_its_log_says():
    fit = plan(reference_spec(reference_points()["SG-L4"])).fit
    # SG-L4: 'Load weight end ... mem usage=15.54 GB', 'KV Cache is allocated. #tokens: 46611, K size: 1.42 GB'
    assert fit.weights_per_gpu_bytes / GIB == pytest.approx(15.54, abs=0.05)
    assert fit.kv_pool_bytes / GIB == pytest.approx(2 * 1.42, rel=0.05)


def test_gpt_oss_expert_biases_load_16_bit_at_the_marlin_padded_widths():
    arch = catalog.architectures()["gpt-oss-120b"]
    padding = {"hidden": 256, "intermediate": 128}
    # vllm/model_executor/layers/quantization/mxfp4.py create_weights: w13_bias (128, 2 x 2,944) and w2_bias
    # (128, 3,072), BF16, in each of 36 layers; weight_bytes counted the checkpoint's 128 x (2 x 2,880 + 2,880)
    # bias values per layer at 4.25 bits, padded by 3,072 x 2,944 / 2,880^2
    allocated = 36 * 128 * (2 * 2944 + 3072) * 2
    counted = 36 * 128 * 8640 * (3072 * 2944 / 2880**2) * 4.25 / 8
    assert expert_bias_correction(arch, "mxfp4", 1, padding) == pytest.approx(allocated - counted, rel=1e-12)
    # vllm-project/vllm#23278 (Marlin, vLLM 0.10.1): 'Model loading took 65.9651 GiB'
    total = weight_bytes(arch, "mxfp4", 1, padding) + expert_bias_correction(arch, "mxfp4", 1, padding)
    assert total / GIB == pytest.approx(65.9651, abs=0.1)


def test_models_without_expert_biases_get_no_bias_term():
    arch = catalog.architectures()["qwq-32b"]
    assert expert_bias_correction(arch, "none", 1, None) == 0.0
