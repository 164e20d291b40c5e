"""Catalog data: exact KV bytes per model, consistent offerings, config.json reading."""

import json

import pytest

from inferstack import catalog
from inferstack.plan.memory import kv_bytes_per_token, kv_layout

#: Whole-model KV bytes per token at BF16, from research/performance-anchors.md section 2.5
#: (2 x layers x kv_heads x head_dim x 2 B; MLA: layers x (kv_lora_rank + rope) x 2 B).
KV_BYTES_BF16 = {
    "llama-3.2-1b": 32_768,
    "llama-3.2-3b": 114_688,
    "llama-3-8b": 131_072,
    "llama-3.1-8b": 131_072,
    "llama-3.1-70b": 327_680,
    "llama-3.3-70b-fp8-dynamic": 327_680,
    "llama-3.1-70b-w8a8": 327_680,
    "llama-3.1-405b": 516_096,
    "llama-3.1-405b-fp8": 1_032_192,
    "qwen2.5-7b": 57_344,
    "qwen2.5-72b": 327_680,
    "qwen3-0.6b": 114_688,
    "qwen3-8b": 147_456,
    "qwen3-32b": 262_144,
    "qwen3-30b-a3b": 98_304,
    "qwen3-235b-a22b": 192_512,
    "qwen3-235b-a22b-fp8": 192_512,
    "mistral-7b-v0.3": 131_072,
    "mixtral-8x7b": 131_072,
    "deepseek-v3": 70_272,
    "deepseek-r1-bf16": 70_272,
    "gpt-oss-20b": 49_152,
    "gpt-oss-120b": 73_728,
    "gemma-2-9b": 344_064,
    "gemma-2-27b": 376_832,
    "gemma-3-27b": 507_904,
    "qwen3-14b": 163_840,  # 2 x 40 layers x 8 KV heads x 128 x 2 bytes
    "qwq-32b": 262_144,  # 2 x 64 layers x 8 KV heads x 128 x 2 bytes
    "llama-3-70b-instruct-awq": 327_680,  # 2 x 80 layers x 8 KV heads x 128 x 2 bytes
    "qwen2.5-7b-instruct-awq": 57_344,  # 2 x 28 layers x 4 KV heads x 128 x 2 bytes
    "qwen2.5-7b-instruct-gptq-int4": 57_344,
    "deepseek-v2-lite": 31_104,  # MLA: 27 layers x (512 + 64) x 2 bytes
    "kimi-k2-thinking": 70_272,  # MLA: 61 layers x (512 + 64) x 2 bytes
}
#: Bytes per token in full-attention layers only (what grows with context), where the model has
#: sliding-window layers.
GROWING_BYTES = {"gpt-oss-20b": 24_576, "gpt-oss-120b": 36_864, "gemma-3-27b": 81_920}


def test_every_catalog_model_has_an_expected_kv_size():
    assert set(KV_BYTES_BF16) == set(catalog.architectures())
    assert len(KV_BYTES_BF16) >= 15


@pytest.mark.parametrize("name", sorted(KV_BYTES_BF16))
def test_kv_bytes_per_token_exact(name):
    arch = catalog.architectures()[name]
    assert kv_bytes_per_token(arch) == KV_BYTES_BF16[name]
    assert kv_bytes_per_token(arch, "fp8") == KV_BYTES_BF16[name] // 2


@pytest.mark.parametrize("name", sorted(GROWING_BYTES))
def test_sliding_window_models_grow_only_in_full_layers(name):
    layout = kv_layout(catalog.architectures()[name], "auto", tp=1)
    assert layout.full_bytes == GROWING_BYTES[name]
    assert layout.full_bytes + layout.window_bytes == KV_BYTES_BF16[name]


def test_kv_heads_shard_under_tp_then_replicate():
    qwen = catalog.architectures()["qwen3-235b-a22b"]  # 4 KV heads
    assert kv_layout(qwen, "auto", 4).full_bytes == KV_BYTES_BF16["qwen3-235b-a22b"] // 4
    # TP8 cannot split 4 heads further: each rank keeps one head, so per-GPU KV does not halve.
    assert kv_layout(qwen, "auto", 8).full_bytes == kv_layout(qwen, "auto", 4).full_bytes


def test_mla_latent_is_replicated_on_every_rank():
    deepseek = catalog.architectures()["deepseek-v3"]
    assert kv_layout(deepseek, "auto", 8).full_bytes == 70_272


def test_gpu_names_resolve_through_aliases():
    assert catalog.resolve_gpu("h100") == "H100"
    assert catalog.resolve_gpu("nvidia-tesla-a100") == "A100-40GB"
    assert catalog.resolve_gpu("nvidia-l4") == "L4"
    assert catalog.resolve_gpu("H1000") is None


def test_offerings_name_known_gpus_and_regions_with_a_price_source():
    known_regions = catalog.regions()
    for offer in catalog.offerings():
        assert offer.gpu in catalog.gpus(), offer
        assert offer.price_per_hour > 0 and offer.price_source, offer
        assert set(offer.regions) <= set(known_regions[offer.cloud]), offer
        assert offer.price_region in offer.regions, offer
        if offer.cloud == "gcp":
            assert offer.accelerator and catalog.resolve_gpu(offer.accelerator) == offer.gpu, offer


def test_every_region_has_a_residency_group():
    assert catalog.region_group("eu-west-1") == "eu"
    assert catalog.region_group("europe-west4") == "eu"
    assert catalog.region_group("us-central1") == "us"
    assert catalog.region_group("mars-north1") is None


def test_config_json_is_read_and_parameters_computed(tmp_path):
    config = {
        "model_type": "llama",
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "hidden_size": 128,
        "intermediate_size": 256,
        "vocab_size": 1000,
        "max_position_embeddings": 512,
        "tie_word_embeddings": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    arch = catalog.architecture_from_config(path)
    assert (arch.layers, arch.kv_heads, arch.head_dim, arch.max_position) == (2, 1, 64, 512)
    attention = 128 * 2 * 64 * 2 + 128 * 1 * 64 * 2
    mlp = 3 * 128 * 256
    assert arch.parameters == 2 * (attention + mlp + 2 * 128) + 2 * 1000 * 128 + 128
    assert kv_bytes_per_token(arch) == 512  # the tiny model vLLM logs as 2,097,152 tokens per GiB


def test_config_json_problems_are_named(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"num_hidden_layers": 2}')
    with pytest.raises(catalog.ConfigProblem) as caught:
        catalog.architecture_from_config(path)
    assert caught.value.reason == ("missing keys: num_attention_heads, hidden_size, vocab_size, intermediate_size")


@pytest.mark.parametrize(
    "content, reason",
    [
        (
            '{"num_hidden_layers": "32", "num_attention_heads": 2, "hidden_size": 128, "vocab_size": 10, "intermediate_size": 8}',
            "not positive whole numbers: num_hidden_layers='32'",
        ),
        (
            '{"num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 0, "hidden_size": 128, "vocab_size": 10, '
            '"intermediate_size": 8}',
            "not positive whole numbers: num_key_value_heads=0",
        ),
        ("[1, 2]", "is not a JSON object"),
    ],
)
def test_config_json_values_are_checked(tmp_path, content, reason):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(catalog.ConfigProblem) as caught:
        catalog.architecture_from_config(path)
    assert caught.value.reason == reason


def test_config_path_that_is_a_folder(tmp_path):
    with pytest.raises(catalog.ConfigProblem) as caught:
        catalog.architecture_from_config(tmp_path)
    assert caught.value.reason == "is a folder; name the config.json inside it"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Qwen2.5-7B config.json: 28 attention heads, 4 KV heads. TP 7 divides the heads but neither splits
        # the 4 KV heads evenly nor replicates them evenly, so vLLM refuses it.
        ("qwen2.5-7b", [1, 2, 4]),
        # Llama 3.1 8B: 32 heads, 8 KV heads; every power of two up to 8 works.
        ("llama-3.1-8b", [1, 2, 4, 8]),
    ],
)
def test_tensor_parallel_sizes_respect_attention_and_kv_heads(name, expected):
    assert catalog.architectures()[name].tp_choices() == expected
