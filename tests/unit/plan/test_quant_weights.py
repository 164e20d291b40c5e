"""4-bit AWQ/GPTQ weights as vLLM holds them after loading (catalog/data/weight_formats.yaml packing): packed
4-bit weights, one 16-bit scale per group of input rows, zero points as the kernel keeps them, and the tensor
groups the formats leave 16-bit. Figures are hand arithmetic on the checkpoints' shapes."""

from dataclasses import replace

import pytest

from inferstack import catalog
from inferstack.plan.memory import GIB, packed_bytes_per_parameter, weight_bytes

ARCH = catalog.architectures()
LLAMA_70B_AWQ = ARCH["llama-3-70b-instruct-awq"]
QWEN_7B_AWQ = ARCH["qwen2.5-7b-instruct-awq"]
QWEN_7B_GPTQ = ARCH["qwen2.5-7b-instruct-gptq-int4"]

#: Llama-3-70B: input embedding and LM head, 128,256 x 8,192 each (16-bit in every AWQ checkpoint).
LLAMA_70B_EMBEDDINGS = 2 * 128_256 * 8_192
#: Qwen2.5-7B: untied embedding and LM head, 152,064 x 3,584 each.
QWEN_7B_EMBEDDINGS = 2 * 152_064 * 3_584


def _awq() -> catalog.WeightFormat:
    return catalog.weight_formats()["awq"]


def _gptq() -> catalog.WeightFormat:
    return catalog.weight_formats()["gptq"]


def test_awq_on_marlin_holds_4_bits_a_16_bit_scale_and_a_4_bit_zero_per_group_of_128():
    # 4 bits = 0.5 byte; per group of 128 input rows: 2-byte scale + 0.5-byte packed zero
    assert packed_bytes_per_parameter(_awq(), 128, 8_192, "L40S") == 0.5 + 2.5 / 128


def test_awq_on_machete_hopper_holds_zero_points_as_16_bit_values():
    # Machete stores -scale x zero in the scales' dtype: 2 bytes per group instead of 0.5
    assert packed_bytes_per_parameter(_awq(), 128, 8_192, "H100") == 0.5 + 4 / 128
    assert packed_bytes_per_parameter(_awq(), 128, 8_192, "H200") == 0.5 + 4 / 128


def test_b200_is_not_hopper_and_keeps_marlins_packed_zeros():
    assert packed_bytes_per_parameter(_awq(), 128, 8_192, "B200") == 0.5 + 2.5 / 128


def test_gptq_on_marlin_drops_the_symmetric_zero_points():
    assert packed_bytes_per_parameter(_gptq(), 128, 3_584, "A100-80GB") == 0.5 + 2 / 128


def test_gptq_on_machete_keeps_the_loaded_zero_points_allocated():
    assert packed_bytes_per_parameter(_gptq(), 128, 3_584, "H100") == 0.5 + 2.5 / 128


def test_the_checkpoints_own_group_size_sets_the_scale_overhead():
    assert packed_bytes_per_parameter(_awq(), 32, 8_192, "L40S") == 0.5 + 2.5 / 32


def test_without_a_group_size_the_formats_default_of_128_is_used():
    assert packed_bytes_per_parameter(_awq(), None, 8_192, "L40S") == 0.5 + 2.5 / 128


def test_one_group_per_input_row_spreads_the_scale_over_the_hidden_width():
    assert packed_bytes_per_parameter(_gptq(), -1, 4_096, "L4") == 0.5 + 2 / 4_096


def test_formats_without_packing_keep_their_fixed_bytes():
    fp8 = catalog.weight_formats()["fp8"]
    assert packed_bytes_per_parameter(fp8, 64, 8_192, "H100") == 1.0


def test_the_default_group_bytes_are_the_formats_listed_bytes_per_parameter():
    for fmt in (_awq(), _gptq()):
        assert packed_bytes_per_parameter(fmt, None, 8_192, "L40S") == fmt.bytes_per_parameter


def test_llama_3_70b_awq_on_two_l40s_keeps_embeddings_16_bit_and_packs_the_rest():
    # 70.6e9 parameters; embeddings + LM head 2,101,346,304 at 2 bytes, the other 68,498,653,696 at
    # 0.51953125 bytes: 39,789,883,786 bytes over both GPUs, 18.53 GiB per GPU (the engine logged 18.55 GiB)
    expected = LLAMA_70B_EMBEDDINGS * 2 + (70.6e9 - LLAMA_70B_EMBEDDINGS) * (0.5 + 2.5 / 128)
    total = weight_bytes(LLAMA_70B_AWQ, "awq", tp=2, gpu="L40S")
    assert total == pytest.approx(expected, rel=1e-12)
    assert round(total / 2 / GIB, 2) == 18.53


def test_the_same_checkpoint_on_h200_is_heavier_by_the_16_bit_zero_points():
    on_hopper = weight_bytes(QWEN_7B_AWQ, "awq", gpu="H200")
    on_ada = weight_bytes(QWEN_7B_AWQ, "awq", gpu="L40S")
    # 7.62e9 - 1,089,994,752 embedding parameters carry 1.5 more bytes per group of 128
    assert on_hopper - on_ada == pytest.approx((7.62e9 - QWEN_7B_EMBEDDINGS) * 1.5 / 128, rel=1e-12)
    assert round(on_hopper / GIB, 2) == 5.26


def test_gptq_weighs_less_than_awq_on_marlin_by_the_dropped_zero_points():
    difference = weight_bytes(QWEN_7B_AWQ, "awq", gpu="L4") - weight_bytes(QWEN_7B_GPTQ, "gptq", gpu="L4")
    assert difference == pytest.approx((7.62e9 - QWEN_7B_EMBEDDINGS) * 0.5 / 128, rel=1e-12)


def test_a_checkpoint_in_groups_of_64_carries_twice_the_scale_bytes_of_one_in_groups_of_128():
    grouped_64 = replace(QWEN_7B_GPTQ, quant_group_size=64)
    difference = weight_bytes(grouped_64, "gptq", gpu="L4") - weight_bytes(QWEN_7B_GPTQ, "gptq", gpu="L4")
    assert difference == pytest.approx((7.62e9 - QWEN_7B_EMBEDDINGS) * (2 / 64 - 2 / 128), rel=1e-12)


def test_a_format_the_checkpoint_is_not_in_uses_the_formats_default_group():
    # the GPTQ checkpoint's group size (here 64) describes its own tensors, not an AWQ layout
    grouped_64 = replace(QWEN_7B_GPTQ, quant_group_size=64)
    assert weight_bytes(grouped_64, "awq", gpu="L4") == weight_bytes(QWEN_7B_AWQ, "awq", gpu="L4")
