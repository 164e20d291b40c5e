"""Engines carry every planned setting. TensorRT-LLM: the served name, the planned KV pool as the fraction of
free memory trtllm-serve gives its cache, and refuses (at load) the settings it cannot change."""

from __future__ import annotations

import pytest

from inferstack.engines import adapter_for
from inferstack.engines.surface import argument_problems, load_surface
from inferstack.plan import plan
from inferstack.spec import SpecError
from tests.conftest import spec_variant
from tests.unit.engines.test_adapters import _vllm_parse

TRTLLM = {
    "engine": {"name": "trtllm", "version": "1.0.0", "quantization": None, "image": None},
    "autoscaling": {"enabled": False},
    "compliance": {"allowed_engines": [], "pin_images": False},
}


def _plan(changes: dict):
    return plan(spec_variant("aws-llama-8b-us", {**TRTLLM, **changes}))


def test_trtllm_serves_under_the_spec_served_name():
    args = adapter_for("trtllm").args(_plan({"model": {"served_name": "chat-large"}}))
    assert args[args.index("--served_model_name") + 1] == "chat-large"


def test_trtllm_kv_fraction_is_the_planned_pool_over_free_memory():
    result = _plan({})
    args = adapter_for("trtllm").args(result)
    fraction = float(args[args.index("--kv_cache_free_gpu_memory_fraction") + 1])
    # L40S: 44.39 GiB as the engine sees it (catalog), weights and overhead from the plan; the planner
    # models trtllm's pool as 0.9 of what is free after them, so the flag must say 0.9 of free memory.
    free = 44.39 * 2**30 - result.fit.weights_per_gpu_bytes - result.fit.overhead.total_bytes
    assert fraction == pytest.approx(result.fit.kv_pool_bytes / free, abs=0.001)
    assert fraction == pytest.approx(0.9, abs=0.001)


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            {"engine": {"kv_cache_dtype": "fp8"}},
            "  - engine.kv_cache_dtype = 'fp8': trtllm always runs with kv_cache_dtype 'auto' and cannot be told "
            "otherwise. Allowed: 'auto'. Fix: remove engine.kv_cache_dtype, or choose an engine that sets it: "
            "sglang, tgi, vllm.",
        ),
        (
            {"engine": {"prefix_caching": False}},
            "  - engine.prefix_caching = False: trtllm always runs with prefix_caching True and cannot be told "
            "otherwise. Allowed: True. Fix: remove engine.prefix_caching, or choose an engine that sets it: "
            "sglang, vllm.",
        ),
        (
            {"engine": {"cuda_graphs": False}},
            "  - engine.cuda_graphs = False: trtllm always runs with cuda_graphs True and cannot be told "
            "otherwise. Allowed: True. Fix: remove engine.cuda_graphs, or choose an engine that sets it: "
            "sglang, tgi, vllm.",
        ),
    ],
)
def test_settings_trtllm_cannot_change_are_refused(change, line):
    with pytest.raises(SpecError) as err:
        spec_variant("aws-llama-8b-us", {**TRTLLM, "engine": {**TRTLLM["engine"], **change["engine"]}})
    assert line in err.value.render().splitlines()


def test_settings_an_engine_can_change_are_accepted():
    spec = spec_variant(
        "aws-llama-8b-us", {"engine": {"kv_cache_dtype": "fp8", "prefix_caching": False, "cuda_graphs": False}}
    )
    assert (spec.engine.kv_cache_dtype, spec.engine.prefix_caching, spec.engine.cuda_graphs) == ("fp8", False, False)


def test_vllm_turns_prefix_caching_off_explicitly():
    # vLLM V1 enables prefix caching by default, so leaving the flag out would ignore `prefix_caching: false`.
    vllm = adapter_for("vllm")
    args = vllm.args(plan(spec_variant("quickstart", {"engine": {"prefix_caching": False}})))
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args
    (result,) = _vllm_parse([[*vllm.command[1:], *args]])
    assert result["ok"], result
    assert result["parsed"]["enable_prefix_caching"] is False


MEMORY = {"gpu_memory_utilization": 0.95, "max_num_batched_tokens": 4096, "cuda_graphs": False}


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("vllm", ["--gpu-memory-utilization", "0.95", "--max-num-batched-tokens", "4096", "--enforce-eager"]),
        ("sglang", ["--chunked-prefill-size", "4096", "--disable-cuda-graph"]),
        ("tgi", ["--cuda-memory-fraction", "0.95", "--max-batch-prefill-tokens", "4096", "--cuda-graphs", "0"]),
    ],
)
def test_memory_settings_reach_the_engine_flags(engine, expected):
    allowed = {"compliance": {"allowed_engines": []}}
    changes = {
        **allowed,
        "engine": {**MEMORY, "name": engine, "version": {"vllm": "0.32.0", "sglang": "0.5.23", "tgi": "3.3.6"}[engine]},
    }
    result = plan(spec_variant("aws-llama-8b-us", changes))
    args = adapter_for(engine).args(result)
    start = args.index(expected[0])
    assert args[start : start + len(expected)] == expected
    default_args = adapter_for(engine).args(
        plan(spec_variant("aws-llama-8b-us", {**allowed, "engine": {"name": engine}}))
    )
    assert not {flag for flag in expected if flag.startswith("--")} & set(default_args)
    if engine != "vllm":
        assert argument_problems(load_surface(engine), args) == []


def test_sglang_static_fraction_carries_the_spec_fraction():
    # SGLang's static fraction covers weights and KV pool; a higher spec fraction raises it by the same share.
    allowed = {"compliance": {"allowed_engines": []}}
    low = plan(spec_variant("aws-llama-8b-us", {**allowed, "engine": {"name": "sglang"}}))
    high = plan(
        spec_variant("aws-llama-8b-us", {**allowed, "engine": {"name": "sglang", "gpu_memory_utilization": 0.95}})
    )
    flag = [
        float(adapter_for("sglang").args(p)[adapter_for("sglang").args(p).index("--mem-fraction-static") + 1])
        for p in (low, high)
    ]
    assert flag[1] - flag[0] == pytest.approx(0.05, abs=0.0015)


def test_trtllm_carries_the_batched_tokens_and_its_fraction_follows_the_spec():
    result = _plan({"engine": {**TRTLLM["engine"], "max_num_batched_tokens": 4096, "gpu_memory_utilization": 0.8}})
    args = adapter_for("trtllm").args(result)
    assert args[args.index("--max_num_tokens") + 1] == "4096"
    assert args[args.index("--kv_cache_free_gpu_memory_fraction") + 1] == "0.800"
    assert argument_problems(load_surface("trtllm"), args) == []


def test_vllm_parses_the_memory_flags():
    vllm = adapter_for("vllm")
    args = vllm.args(plan(spec_variant("quickstart", {"engine": MEMORY})))
    (result,) = _vllm_parse([[*vllm.command[1:], *args]])
    assert result["ok"], result
    parsed = result["parsed"]
    assert (parsed["gpu_memory_utilization"], parsed["max_num_batched_tokens"], parsed["enforce_eager"]) == (
        0.95,
        4096,
        True,
    )


def test_sglang_static_fraction_renders_the_planned_pool():
    # Llama-3.1-8B BF16 on one L40S (44.39 GiB). At TP1 SGLang has no custom all-reduce, so 0.40 GiB are gone
    # before the weights load and it budgets 0.87 x (44.39 - 0.40) GiB for weights and KV pool: the plan's pool
    # is that minus the weights, and the flag carries 0.87 back unchanged.
    allowed = {"compliance": {"allowed_engines": []}}
    spec = spec_variant("aws-llama-8b-us", {**allowed, "engine": {"name": "sglang", "gpu_memory_utilization": 0.87}})
    result = plan(spec)
    budget = 0.87 * (44.39 - 0.40) * 2**30
    assert result.fit.kv_pool_bytes == pytest.approx(budget - result.fit.weights_per_gpu_bytes, abs=1)
    args = adapter_for("sglang").args(result)
    assert args[args.index("--mem-fraction-static") + 1] == "0.870"
