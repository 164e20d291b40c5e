"""One model, one answer: a checkpoint named from the catalog and the same checkpoint described by its
public config.json (tests/unit/catalog/configs, sources in SOURCES.yaml) plan identically; pre-quantized
checkpoints are recognised from their quantization_config."""

import json
from pathlib import Path

import pytest
import yaml

from inferstack import catalog
from inferstack.plan import plan
from tests.conftest import spec_variant

CONFIGS = Path(__file__).parent / "configs"
SOURCES = yaml.safe_load((CONFIGS / "SOURCES.yaml").read_text())


def test_every_config_names_its_source():
    assert sorted(SOURCES) == sorted(p.stem for p in CONFIGS.glob("*.json"))
    assert len(SOURCES) == 9


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_public_config_is_the_catalog_entry(name):
    assert catalog.architecture_from_config(CONFIGS / f"{name}.json") == catalog.architectures()[name]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_catalog_name_and_config_json_plan_identically(name):
    base = {"model": {"max_context": 4096}, "engine": {"quantization": None}, "resources": {"gpu": "H100:1"}}
    base["compliance"] = {"monthly_budget": None}
    by_name = spec_variant("quickstart", {**base, "model": {**base["model"], "architecture": name}})
    by_config = spec_variant(
        "quickstart", {**base, "model": {**base["model"], "config": str(CONFIGS / f"{name}.json")}}
    )
    assert plan(by_config).to_dict() == plan(by_name).to_dict()


def test_no_two_catalog_entries_share_their_identifying_facts():
    keys = [tuple(getattr(a, f) for f in catalog.IDENTITY) for a in catalog.architectures().values()]
    assert len(set(keys)) == len(keys)


def _config(tmp_path, **changes):
    cfg = json.loads((CONFIGS / "llama-3.1-8b.json").read_text())
    cfg.update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize(
    ("quantization_config", "expected"),
    [
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}}},
            },
            "fp8",
        ),
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "int"}}},
            },
            "int8",
        ),
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int"}}},
            },
            "gptq",
        ),
        ({"quant_method": "fbgemm_fp8", "modules_to_not_convert": ["lm_head"]}, "fp8"),
        ({"quant_method": "awq", "bits": 4, "group_size": 128}, "awq"),
        ({"quant_method": "bitsandbytes"}, None),
    ],
)
def test_pre_quantized_checkpoints_are_recognised_from_their_config(tmp_path, quantization_config, expected):
    arch = catalog.architecture_from_config(_config(tmp_path, quantization_config=quantization_config))
    assert arch.native_quantization == expected


def test_a_pre_quantized_config_serves_its_own_format_without_a_load_time_finding(tmp_path):
    fp8 = {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}}}}
    path = _config(tmp_path, quantization_config=fp8)
    result = plan(spec_variant("quickstart", {"model": {"config": str(path)}, "engine": {"quantization": None}}))
    assert result.quantization == "fp8"
    assert "quantized-at-load" not in {f.code for f in result.findings}
    # no catalog entry is this FP8 checkpoint, so its shapes count: 8,030,261,248 parameters, of which
    # 1,050,673,152 in the 16-bit embeddings and LM head and the rest at 1 byte
    assert result.architecture.parameters == 8_030_261_248
    assert result.fit.weights_bytes == (8_030_261_248 - 1_050_673_152) + 1_050_673_152 * 2


@pytest.mark.parametrize(
    ("changes", "window_layers"),
    [
        ({"sliding_window": 4096, "model_type": "gemma2", "num_hidden_layers": 42}, 21),
        ({"sliding_window": 1024, "sliding_window_pattern": 6, "num_hidden_layers": 62}, 52),
        ({"sliding_window": 4096}, 32),
        ({"sliding_window": 131072, "use_sliding_window": False}, 0),
        ({"sliding_window": 128, "layer_types": ["sliding_attention", "full_attention"] * 16}, 16),
    ],
)
def test_sliding_window_layers_are_read_as_transformers_lays_them_out(tmp_path, changes, window_layers):
    assert catalog.architecture_from_config(_config(tmp_path, **changes)).sliding_window_layers == window_layers
