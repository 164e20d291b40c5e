"""MLA accounting as the engines do it: the latent per token replicated on every rank, the pre-MLA layout of old
vLLM, MLA block sizes by version and GPU, DeepSeek's skipped MTP layer and FP8 block scales, Kimi's INT4 experts.

Expected figures are worked by hand from the configs (catalog/data/models.yaml sources) in each test.
"""

import pytest

from benchmarks.planner_accuracy import admission, score
from benchmarks.reference import reference_points
from inferstack import catalog
from inferstack.plan.kv import kv_capacity, kv_groups, mla_block_tokens
from inferstack.plan.memory import GIB, engine_kv_layout, served_parameters, weight_bytes

POINTS = reference_points()


def _arch(name):
    return catalog.architectures()[name]


@pytest.mark.parametrize("tp", [1, 2, 8])
def test_the_mla_latent_is_the_same_on_every_rank(tp):
    # DeepSeek-V2-Lite: 27 layers x (512 + 64) x 2 B, whatever the TP size
    layout = engine_kv_layout(_arch("deepseek-v2-lite"), "auto", tp, "vllm", "0.19.0")
    assert layout.full_bytes == 31_104


def test_an_fp8_kv_cache_halves_the_mla_latent():
    # 27 x 576 x 1 B
    assert engine_kv_layout(_arch("deepseek-v2-lite"), "fp8", 2, "vllm", "0.19.0").full_bytes == 15_552


@pytest.mark.parametrize(
    ("engine", "version", "tp", "per_token"),
    [
        # vLLM before 0.7.1: K and V of all 16 heads padded to 256: 2 x 27 x 16 x 256 x 2 B (the 442,368 bytes
        # vllm-project/vllm#10927 logs), split across ranks
        ("vllm", "0.6.4.post1", 1, 442_368),
        ("vllm", "0.6.4.post1", 2, 221_184),
        # from 0.7.1 the latent: 27 x 576 x 2 B
        ("vllm", "0.7.1", 1, 31_104),
        # SGLang names no pre-MLA version: always the latent
        ("sglang", "0.3.0", 1, 31_104),
    ],
)
def test_vllm_cached_full_heads_before_mla(engine, version, tp, per_token):
    assert engine_kv_layout(_arch("deepseek-v2-lite"), "auto", tp, engine, version).full_bytes == per_token


@pytest.mark.parametrize(
    ("engine", "version", "gpu", "block"),
    [
        ("vllm", "0.32.0", "H100", 16),  # FLASH_ATTN_MLA takes the default 16
        ("vllm", "0.32.0", "B200", 32),  # FLASHINFER_MLA takes 32 or 64: the smallest
        ("vllm", "0.32.0", "L4", 16),  # TRITON_MLA
        ("vllm", "0.11.0", "H200", 64),  # FlashMLA forced 64-token blocks
        ("vllm", "0.11.0", "A100-80GB", 16),  # no FlashMLA before Hopper: TRITON_MLA
        ("sglang", "0.5.23", "H100", 1),  # token-granular pages
        ("tgi", "0.0.0", "H100", 16),  # one block size for every model
    ],
)
def test_mla_block_size_follows_the_backend_the_engine_picks(engine, version, gpu, block):
    assert mla_block_tokens(engine, version, gpu) == block


def test_the_logged_token_figure_of_kimi_k2_on_eight_h200():
    # vllm-project/recipes Kimi-K2-Think.md: 46.80 GiB -> 715,072 tokens. 61 x 576 x 2 B = 70,272 B a token on
    # every rank; 64-token blocks of 4,497,408 B: floor(46.80 GiB / 4,497,408 B) = 11,173 blocks x 64 tokens.
    layout = engine_kv_layout(_arch("kimi-k2-thinking"), "auto", 8, "vllm", "0.11.0")
    groups = kv_groups(layout, mla_block_tokens("vllm", "0.11.0", "H200"), hybrid_allocator=True)
    capacity = kv_capacity(groups, 46.80 * GIB, 262_144, 8192, "blocks_per_group")
    assert (capacity.blocks, capacity.reported_tokens) == (11_173, 715_072)


def test_the_mtp_layer_is_not_served():
    # DeepSeek-V3: 685B on the Hub = 671B main model + 14B MTP module (its README)
    assert served_parameters(_arch("deepseek-v3")) == 671e9


def test_a_checkpoint_without_an_mtp_layer_serves_all_its_parameters():
    assert served_parameters(_arch("llama-3.1-8b")) == _arch("llama-3.1-8b").parameters


def test_deepseek_fp8_weights_carry_one_fp32_scale_per_128x128_block():
    # 671e9 served; embeddings 2 x 129,280 x 7,168 = 1,853,358,080 and router 61 x 7,168 x 256 = 111,935,488
    # stay 16-bit; the other 669,034,706,432 are FP8 plus 4 B per 16,384 weights
    expected = 669_034_706_432 * (1 + 4 / 16_384) + (1_853_358_080 + 111_935_488) * 2
    assert weight_bytes(_arch("deepseek-v3"), "fp8") == pytest.approx(expected)
    assert expected == pytest.approx(673_128_632_119.375)


def test_block_scales_belong_to_the_checkpoint_format_only():
    # served 16-bit there are no FP8 scales: 671e9 x 2 B
    assert weight_bytes(_arch("deepseek-v3"), "none") == pytest.approx(1_342e9)


def test_kimi_k2_thinking_quantizes_only_its_routed_experts():
    # 1,014.69e9 routed-expert parameters at 0.5 + 2/32 B, the other 11.72e9 at 2 B
    assert weight_bytes(_arch("kimi-k2-thinking"), "w4a16_g32") == pytest.approx(594_203_125_000)


def test_kimi_k2_served_in_another_format_is_quantized_by_tensor_group():
    # FP8 at load: embeddings 2 x 163,840 x 7,168 = 2,348,810,240 and router 61 x 7,168 x 384 = 167,903,232 stay
    # 16-bit; the other 1,023,893,286,528 parameters take 1 B
    expected = 1_023_893_286_528 + (2_348_810_240 + 167_903_232) * 2
    assert weight_bytes(_arch("kimi-k2-thinking"), "fp8") == pytest.approx(expected)


def test_the_kimi_k2_point_is_within_its_targets():
    # MLA-KIMI-TP8 (held back), logged 46.80 GiB and 715,072 tokens. By hand: 0.9 x 140.4 GiB, less the weights
    # (594,203,125,000 B / 8), the sampler peak of the 0.8.0 row (38.41 B x 1024 x 163,840 + 2 x 8192 x 7168 B)
    # and non-torch memory at TP8 (0.13 + 7 x 0.42 GiB); tokens: whole 64-token blocks of 64 x 70,272 B
    pool = 0.9 * 140.4 * GIB - 594_203_125_000 / 8 - (38.41 * 1024 * 163_840 + 2 * 8192 * 7168) - 3.07 * GIB
    (scored,) = score({"MLA-KIMI-TP8": POINTS["MLA-KIMI-TP8"]})
    assert scored.pool_gib == pytest.approx(pool / GIB)
    assert scored.result.fit.kv_tokens == pool // (64 * 70_272) * 64 == 733_440
    assert scored.misses() == []


@pytest.mark.parametrize(
    ("pid", "reason"),
    [
        (
            "MLA-V2L-PP",
            "ran with --pipeline-parallel-size=2 (pipeline stages on one node), which the spec cannot express",
        ),
        (
            "MLA-V2L-V0-FI",
            "ran with VLLM_ATTENTION_BACKEND=FLASHINFER (a non-default attention backend, on an unreleased "
            "pull-request branch), which the spec cannot express",
        ),
    ],
)
def test_mla_points_run_with_settings_the_spec_cannot_say_are_not_admitted(pid, reason):
    assert admission(POINTS[pid]) == reason
