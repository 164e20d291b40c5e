"""KV groups, blocks, concurrency and the logged token figure, as vLLM's hybrid allocator computes them.

Expected figures are worked by hand from the model configs (catalog) and vLLM's rules (plan/kv.py docstring).
"""

import pytest

from inferstack import catalog
from inferstack.plan import plan
from inferstack.plan.kv import kv_capacity, kv_groups
from inferstack.plan.memory import kv_layout
from tests.conftest import spec_variant


def _groups(name, tp=1, dtype="auto", block=16, hybrid=True):
    return kv_groups(kv_layout(catalog.architectures()[name], dtype, tp), block, hybrid)


@pytest.mark.parametrize(
    ("name", "size", "full", "window", "block_bytes"),
    [
        # plain GQA: one group of 32 layers, 16 tokens x 2 x 8 heads x 128 x 2 B per layer
        ("llama-3.1-8b", 32, 1, 0, 32 * 16 * 4096),
        # gpt-oss-120b: 18 full + 18 window-128 layers -> two groups of 18; 16 x 2 x 8 x 64 x 2 B = 32 KiB pages
        ("gpt-oss-120b", 18, 1, 1, 18 * 32_768),
        ("gpt-oss-20b", 12, 1, 1, 12 * 32_768),
        # Gemma 2: alternating 21 + 21 -> two groups of 21; 16 x 2 x 8 x 256 x 2 B pages
        ("gemma-2-9b", 21, 1, 1, 21 * 131_072),
        # Gemma 3: 10 global + 52 local (5:1) -> groups of 10: 1 full, ceil(52/10) = 6 window (8 padding)
        ("gemma-3-27b", 10, 1, 6, 10 * 16 * 2 * 16 * 128 * 2),
    ],
)
def test_layers_group_as_vllm_groups_them(name, size, full, window, block_bytes):
    groups = _groups(name)
    assert (groups.group_size, groups.full_groups, groups.window_groups, groups.block_bytes) == (
        size,
        full,
        window,
        block_bytes,
    )


def test_mla_is_one_group_of_whole_latents_in_64_token_blocks():
    # DeepSeek-V3: 61 layers x (512 + 64) latent x 2 B, not split by TP; FlashMLA's 64-token blocks
    groups = _groups("deepseek-v3", tp=8, block=64)
    assert (groups.count, groups.group_size, groups.page_bytes) == (1, 61, 64 * 576 * 2)


def test_window_groups_reserve_the_window_plus_the_in_flight_chunk():
    groups = _groups("gpt-oss-120b")
    # full: ceil(8192 / 16) = 512; window: ceil(min(127 + 2 x 2048, 8192) / 16) + 1 = 265
    assert groups.blocks_per_request(8192, 2 * 2048) == 512 + 265
    # the window reservation never exceeds the context: ceil(min(127 + 16384, 8192) / 16) + 1 = 513
    assert groups.blocks_per_request(8192, 2 * 8192) == 512 + 513
    # without a hybrid allocator every layer holds the whole context: one group of 36
    assert _groups("gpt-oss-120b", hybrid=False).blocks_per_request(8192, 0) == 512


@pytest.mark.parametrize(
    ("report", "tokens"),
    [
        # 10,000 blocks; 777 per 8,192-token request -> 12.8700x
        ("concurrency_x_context", int(10_000 / 777 * 8192)),
        ("blocks_per_group", 10_000 // 2 * 16),
        ("blocks", 10_000 * 16),
    ],
)
def test_logged_tokens_follow_the_version(report, tokens):
    groups = _groups("gpt-oss-120b")
    capacity = kv_capacity(groups, 10_000 * groups.block_bytes + 5, 8192, 2 * 2048, report)
    assert (capacity.blocks, capacity.blocks_per_request, capacity.reported_tokens) == (10_000, 777, tokens)
    assert capacity.concurrency == pytest.approx(10_000 / 777, rel=1e-12)


def _gpt_oss(version, batched):
    return spec_variant(
        "quickstart",
        {
            "model": {"source": "hf://openai/gpt-oss-120b", "max_context": 8192},
            "engine": {
                "version": version,
                "quantization": None,
                "max_num_batched_tokens": batched,
                "gpu_memory_utilization": 0.95,
            },
            "resources": {"gpu": "H100:1"},
            "compliance": {"monthly_budget": None},
        },
    )


def test_gpt_oss_plan_counts_concurrency_over_both_groups():
    fit = plan(_gpt_oss("0.32.0", 2048)).fit
    assert fit.fits
    per_request = 512 + 265  # two in-flight batches of 2,048 with async scheduling
    assert fit.capacity.blocks == int(fit.kv_pool_bytes // (18 * 32_768))
    assert fit.capacity.blocks_per_request == per_request
    assert fit.kv_tokens == int(fit.capacity.blocks / per_request * 8192)
    older = plan(_gpt_oss("0.25.0", 2048)).fit
    assert older.capacity.blocks_per_request == 512 + 137  # one batch: ceil(2175 / 16) + 1
    assert older.kv_tokens == older.capacity.blocks // 2 * 16


def test_plain_gqa_tokens_are_whole_blocks_of_the_pool():
    fit = plan(spec_variant("quickstart", {})).fit
    block = 32 * 16 * 8 * 128 * 2 * 2  # 32 layers x 16 tokens x K and V x 8 heads x 128 x 2 B
    assert fit.capacity.blocks == int(fit.kv_pool_bytes // block)
    assert fit.concurrency == int(fit.capacity.blocks / 512 * 100) / 100  # 8,192 tokens = 512 blocks
