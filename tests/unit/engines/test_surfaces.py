"""Arguments generated for SGLang, TGI and TensorRT-LLM checked against each engine's command-line
surface (SGLang's generated from its own parser; TGI's and TensorRT-LLM's transcribed from their
sources, named in each snapshot)."""

import pytest

from inferstack.engines import adapter_for
from inferstack.engines.surface import argument_problems, load_surface
from inferstack.plan import plan
from inferstack.spec import SpecError, load_spec
from inferstack.spec.models import LoraAdapter, Speculative
from tests.conftest import EXAMPLE_SPECS

ENGINES = {"sglang": "0.5.23", "tgi": "3.3.6", "trtllm": "1.0.0"}


def _as_engine(spec, engine):
    """The spec served by another engine, where that engine can serve it at all."""
    update = {
        "name": engine,
        "version": ENGINES[engine],
        "image": None,
        "max_concurrent_requests": 64,
        "speculative": Speculative(num_tokens=3) if engine != "trtllm" else None,
    }
    if engine == "trtllm":
        update["quantization"] = None
    try:
        loras = [LoraAdapter(name="sql", source="s3://acme/sql-lora")] if engine != "trtllm" else []
        model = spec.model.model_copy(update={"lora_adapters": loras}) if spec.model.scheme != "pvc" else spec.model
        changed = spec.model_copy(
            update={
                "engine": spec.engine.model_copy(update=update),
                "model": model,
                "autoscaling": spec.autoscaling.model_copy(update={"enabled": engine != "trtllm"}),
            }
        )
        return type(spec).model_validate(changed.model_dump())
    except (SpecError, ValueError):
        return None


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_generated_arguments_fit_the_engine_surface(engine):
    surface = load_surface(engine)
    checked = 0
    for path in EXAMPLE_SPECS:
        spec = _as_engine(load_spec(path), engine)
        if spec is None:
            continue
        adapter = adapter_for(engine)
        args = adapter.args(plan(spec))
        assert argument_problems(surface, args) == [], (path.name, args)
        assert args[args.index(adapter.concurrency_flag) + 1] == "64"
        checked += 1
    assert checked >= 4


def test_surface_checker_names_what_the_engine_would_reject():
    surface = load_surface("sglang")
    assert argument_problems(surface, ["--tp-sise", "2", "--kv-cache-dtype", "fp9", "--model-path"]) == [
        "unknown flag --tp-sise; did you mean --tp-size?",
        "--kv-cache-dtype 'fp9' is not one of auto, bf16, bfloat16, fp4_mx_block16, fp8_e4m3, fp8_e5m2, mxfp8, nvfp4",
        "--model-path needs a value",
    ]


def test_snapshots_name_their_source_and_version():
    for engine in ENGINES:
        surface = load_surface(engine)
        assert surface.engine == engine and surface.version and surface.source
    assert load_surface("trtllm").positionals == ("model",)
