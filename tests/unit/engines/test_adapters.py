"""Engine adapters: registry, images, arguments; vLLM's arguments checked by vLLM's own parser."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from inferstack.engines import REGISTRY, UnknownEngine, UnsupportedFeature, adapter_for
from inferstack.plan import plan
from inferstack.spec import load_spec
from inferstack.spec.models import LoraAdapter
from tests.conftest import EXAMPLE_SPECS, ROOT, SPECS, engine_variant, spec_variant

VLLM_PYTHON = ROOT / ".tools" / "vllm" / "bin" / "python"
LORAS = [
    LoraAdapter(name="sql", source="s3://acme/sql-lora"),
    LoraAdapter(name="chat", source="hf://acme/chat-lora@" + "c" * 40),
]


def test_registry_has_the_four_engines_and_no_fallback():
    assert sorted(REGISTRY) == ["sglang", "tgi", "trtllm", "vllm"]
    with pytest.raises(UnknownEngine, match="no engine adapter named 'vlm'; registered: sglang, tgi, trtllm, vllm"):
        adapter_for("vlm")


def test_image_defaults_to_the_release_tag_and_keeps_a_pinned_digest():
    quick = plan(load_spec(SPECS / "quickstart.yaml"))
    assert adapter_for("vllm").image(quick) == "vllm/vllm-openai:v0.32.0"
    pinned = plan(load_spec(SPECS / "aws-llama-8b-us.yaml"))
    assert adapter_for("vllm").image(pinned) == pinned.spec.engine.image


def test_vllm_args_carry_the_plan():
    result = plan(load_spec(SPECS / "quickstart.yaml"))
    args = adapter_for("vllm").args(result)
    value = dict(zip(args, [*args[1:], None], strict=True))
    assert value["--tensor-parallel-size"] == "1"
    assert value["--max-model-len"] == "8192"
    assert value["--kv-cache-memory-bytes"] == str(int(result.fit.kv_pool_bytes))
    assert value["--quantization"] == "fp8"
    assert value["--served-model-name"] == "quickstart"
    assert "--enable-prefix-caching" in args


def test_native_checkpoint_format_is_not_forced_by_a_flag():
    args = adapter_for("vllm").args(plan(load_spec(SPECS / "deepseek-v3-h200.yaml")))
    assert "--quantization" not in args


@pytest.mark.parametrize(
    "engine, flag, value",
    [
        ("sglang", "--tp-size", "1"),
        ("tgi", "--num-shard", "1"),
        ("trtllm", "--tp_size", "1"),
    ],
)
def test_every_engine_gets_the_tensor_parallel_size(engine, flag, value):
    args = adapter_for(engine).args(plan(engine_variant("quickstart", engine)))
    assert args[args.index(flag) + 1] == value


def test_trtllm_has_no_queue_metric_to_scale_on():
    with pytest.raises(UnsupportedFeature, match="trtllm does not support autoscaling on queue_depth; supported: none"):
        adapter_for("trtllm").scaling_query("queue_depth", "m")


def vllm_run(program: list[str], payload):
    """Runs `program` (arguments after the interpreter) with the vLLM environment's Python, `payload` as JSON on
    stdin, and returns the JSON its last output line holds. Skips without vLLM here; fails without it in CI."""
    if not VLLM_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("the vLLM environment is missing: .ci/run must run scripts/install-vllm.sh")
        pytest.skip("vLLM not installed here; run scripts/install-vllm.sh")
    out = subprocess.run(
        [str(VLLM_PYTHON), *program],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "VLLM_TARGET_DEVICE": "cpu"},
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _vllm_parse(arg_lists):
    return vllm_run([str(Path(__file__).with_name("vllm_parse.py"))], arg_lists)


def test_vllm_accepts_every_generated_argument_list():
    plans = [plan(load_spec(s)) for s in EXAMPLE_SPECS if load_spec(s).engine.name == "vllm"]
    assert len(plans) == len(EXAMPLE_SPECS)
    capped = spec_variant(
        EXAMPLE_SPECS[0],
        {
            "engine": {"max_concurrent_requests": 64, "speculative": {"num_tokens": 3}},
            "model": {"lora_adapters": [f"{a.name}={a.source}" for a in LORAS], "lora_max_rank": 64},
        },
    )
    vllm = adapter_for("vllm")
    # The rendered command is the `vllm` console script; everything after it goes through vLLM's CLI.
    assert vllm.command[0] == "vllm"

    def argv(p):
        return [*vllm.command[1:], *vllm.args(p)]

    bad_flag = [*argv(plans[0]), "--kv-cache-memroy", "1"]
    results = _vllm_parse([argv(p) for p in plans] + [argv(plan(capped)), bad_flag])
    assert results[-2]["ok"], results[-2]
    assert results[-2]["parsed"]["max_num_seqs"] == 64 and results[-2]["parsed"]["max_lora_rank"] == 64
    assert results[-2]["parsed"]["speculative_config"] == {
        "method": "ngram",
        "num_speculative_tokens": 3,
        "prompt_lookup_max": 4,
        "prompt_lookup_min": 2,
    }
    for p, result in zip(plans, results[: len(plans)], strict=True):
        assert result["ok"], (p.spec.name, result)
        parsed = result["parsed"]
        assert parsed["tensor_parallel_size"] == p.fit.tp
        assert parsed["max_model_len"] == p.spec.model.max_context
        assert parsed["kv_cache_memory_bytes"] == int(p.fit.kv_pool_bytes)
        assert parsed["served_model_name"] == [p.spec.served_name]
        assert parsed["model"] == vllm.model_path(p)
    # The check has teeth: a misspelled flag is rejected by vLLM and named in the error.
    assert results[-1]["ok"] is False
    assert "--kv-cache-memroy" in results[-1]["error"]


def test_adapters_are_served_by_name_from_where_the_prefetch_job_puts_them():
    from inferstack.kube import placement_objects

    spec = load_spec(SPECS / "quickstart.yaml")
    spec = spec.model_copy(update={"model": spec.model.model_copy(update={"lora_adapters": LORAS})})
    result = plan(spec)
    args = adapter_for("vllm").args(result)
    modules = args[args.index("--lora-modules") + 1 : args.index("--lora-modules") + 3]
    base = "/models/hf--meta-llama--Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659"
    assert modules == [f"sql={base}/adapters/sql", f"chat={base}/adapters/chat"]
    assert args[args.index("--max-loras") + 1] == "2" and args[args.index("--max-lora-rank") + 1] == "16"
    job = next(o for o in placement_objects(result, result.placements[0]) if o["kind"] == "Job")
    fetch_args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert fetch_args[fetch_args.index("--dest") + 1] == base
    assert [fetch_args[i + 1] for i, a in enumerate(fetch_args) if a == "--extra"] == [
        "sql=s3://acme/sql-lora",
        "chat=hf://acme/chat-lora@" + "c" * 40,
    ]
