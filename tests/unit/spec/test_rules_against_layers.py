"""Data the spec rules judge by, checked against the layers that produce what it describes: the
planned flags of each engine against the arguments its adapter emits, the reserved placement names
against what render writes, and the generated names against the contract."""

from __future__ import annotations

import pytest

from inferstack import catalog
from inferstack.engines import adapter_for
from inferstack.plan import plan
from inferstack.render import contents
from inferstack.spec import SpecError, load_spec
from inferstack.spec.rules import RENDER_TOP_LEVEL, _flag_key
from tests.conftest import SPECS, spec_variant

ENGINES = {
    "vllm": {"version": "0.32.0"},
    "sglang": {"version": "0.5.2"},
    "tgi": {"version": "3.3.4"},
    "trtllm": {"version": "1.0.0"},
}


def _variants(engine: str):
    """Specs that switch on every option an adapter turns into a flag."""
    base = {"name": engine, **ENGINES[engine], "quantization": None, "image": None}
    caps = catalog.engine_capabilities()[engine]
    options = [{}, {"max_concurrent_requests": 64}]
    if "kv_cache_dtype" in caps.configurable:
        options.append({"kv_cache_dtype": "fp8"})
    if "prefix_caching" in caps.configurable:
        options.append({"prefix_caching": False})
    if "fp8" in caps.quantizations:
        options.append({"quantization": "fp8"})
    if caps.speculative_methods:
        options.append({"speculative": {"num_tokens": 4}})
    changes = {"autoscaling": {"enabled": bool(caps.scaling_signals)}}
    for option in options:
        yield {**changes, "engine": {**base, **option}}
    if caps.serves_lora:
        yield {**changes, "engine": base, "model": {"lora_adapters": ["chat=s3://acme-models/lora"]}}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_planned_flags_cover_every_flag_the_adapter_emits(engine):
    planned = {_flag_key(flag) for flag in catalog.engine_capabilities()[engine].planned_flags}
    emitted: set[str] = set()
    for changes in _variants(engine):
        result = plan(spec_variant("quickstart", changes))
        emitted |= {arg for arg in adapter_for(engine).args(result) if arg.startswith("--")}
    missing = sorted(flag for flag in emitted if _flag_key(flag) not in planned)
    assert not missing, f"add to engines.yaml planned_flags of {engine}: {missing}"
    assert len(emitted) >= 6


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_planned_flag_is_refused_in_extra_args(engine):
    for flag in catalog.engine_capabilities()[engine].planned_flags:
        with pytest.raises(SpecError) as caught:
            spec_variant("quickstart", next(iter(_with_extra(engine, [f"{flag}=1"]))))
        assert [v.path for v in caught.value.violations] == ["engine.extra_args[0]"], flag


def _with_extra(engine, extra):
    for changes in _variants(engine):
        changes["engine"] = {**changes["engine"], "extra_args": extra}
        yield changes


def test_flags_inferstack_does_not_plan_stay_allowed():
    spec = spec_variant("quickstart", {"engine": {"extra_args": ["--disable-log-stats", "--seed", "7"]}})
    assert spec.engine.extra_args == ["--disable-log-stats", "--seed", "7"]


def test_reserved_placement_names_are_what_render_writes_at_the_top_level():
    written = {path.split("/", 1)[0] for path in contents(plan(load_spec(SPECS / "quickstart.yaml")))}
    placements = {"us-central"}
    assert written - placements == set(RENDER_TOP_LEVEL)


def _edge(name_length: int, placement_length: int) -> dict:
    import copy

    import yaml

    data = copy.deepcopy(yaml.safe_load((SPECS / "existing-cluster.yaml").read_text()))
    data["name"] = "n" * name_length
    data["placements"][0]["name"] = "p" * placement_length
    return data


def test_the_longest_accepted_names_render_objects_kubernetes_accepts():
    from tests.unit.spec.test_properties import refused_or_rendered

    assert refused_or_rendered(_edge(40, 22)) == "rendered"  # instance label exactly 63 characters


def test_one_character_more_is_refused_with_the_generated_label():
    from inferstack.spec import parse_spec

    with pytest.raises(SpecError) as caught:
        parse_spec(_edge(40, 23), "spec.yaml")
    (violation,) = caught.value.violations
    assert violation.path == "placements[0].name"
    assert "would be 64 characters, more than Kubernetes' 63" in violation.problem
