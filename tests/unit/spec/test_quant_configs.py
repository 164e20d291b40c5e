"""Pre-quantized checkpoints described by their config.json (tests/unit/spec/quant_configs, sources in
SOURCES.yaml) are planned as the format their quantization_config names, with its group size, exactly as the
catalog entry for the same checkpoint."""

import json
from pathlib import Path

import pytest
import yaml

from inferstack import catalog
from inferstack.plan import plan
from tests.conftest import spec_variant

CONFIGS = Path(__file__).parent / "quant_configs"
SOURCES = yaml.safe_load((CONFIGS / "SOURCES.yaml").read_text())
FORMATS = {"qwen2.5-7b-instruct-awq": "awq", "qwen2.5-7b-instruct-gptq-int4": "gptq"}


def _spec(model: dict[str, object], gpu: str = "L40S:1"):
    changes = {
        "model": {"max_context": 4096, **model},
        "engine": {"quantization": None},
        "resources": {"gpu": gpu},
        "compliance": {"monthly_budget": None},
    }
    return spec_variant("quickstart", changes)


def test_every_config_names_its_source():
    assert sorted(SOURCES) == sorted(p.stem for p in CONFIGS.glob("*.json")) == sorted(FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_config_is_the_catalog_entry_in_its_own_format(name):
    arch = catalog.architecture_from_config(CONFIGS / f"{name}.json")
    assert arch == catalog.architectures()[name]
    assert (arch.native_quantization, arch.quant_group_size) == (FORMATS[name], 128)


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("gpu", ["L40S:1", "H100:1"])
def test_config_and_catalog_name_plan_the_same_weights_pool_and_tokens(name, gpu):
    by_config = plan(_spec({"config": str(CONFIGS / f"{name}.json")}, gpu))
    by_name = plan(_spec({"architecture": name}, gpu))
    assert by_config.quantization == by_name.quantization == FORMATS[name]
    assert by_config.fit.weights_per_gpu_bytes == by_name.fit.weights_per_gpu_bytes
    assert by_config.fit.kv_pool_bytes == by_name.fit.kv_pool_bytes
    assert by_config.fit.kv_tokens == by_name.fit.kv_tokens
    assert by_config.to_dict() == by_name.to_dict()


def test_the_awq_config_plans_its_4_bit_weights_not_16_bit_ones():
    awq = plan(_spec({"config": str(CONFIGS / "qwen2.5-7b-instruct-awq.json")}))
    # embeddings and LM head (2 x 152,064 x 3,584) at 2 bytes, the other 7.62e9 parameters at 0.5 + 2.5/128
    embeddings = 2 * 152_064 * 3_584
    assert awq.fit.weights_bytes == pytest.approx(embeddings * 2 + (7.62e9 - embeddings) * (0.5 + 2.5 / 128))
    assert "quantized-at-load" not in {f.code for f in awq.findings}


def test_a_config_in_groups_of_64_is_not_the_catalogs_group_128_checkpoint(tmp_path):
    cfg = json.loads((CONFIGS / "qwen2.5-7b-instruct-gptq-int4.json").read_text())
    cfg["quantization_config"]["group_size"] = 64
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    arch = catalog.architecture_from_config(path)
    assert arch.name == str(path)
    assert (arch.native_quantization, arch.quant_group_size) == ("gptq", 64)
    grouped_64 = plan(_spec({"config": str(path)}))
    grouped_128 = plan(_spec({"architecture": "qwen2.5-7b-instruct-gptq-int4"}))
    # from the shapes: 28 layers x 233,053,184 + 3,584 = 6,525,492,736 quantized parameters (the catalog
    # entry's 7.62e9 total rounds the same checkpoint), each carrying 2 more bytes per 64 than per 128
    quantized_64 = 28 * 233_053_184 + 3_584
    quantized_128 = 7.62e9 - 2 * 152_064 * 3_584
    assert grouped_64.fit.weights_bytes - grouped_128.fit.weights_bytes == pytest.approx(
        quantized_64 * (0.5 + 2 / 64) - quantized_128 * (0.5 + 2 / 128)
    )
