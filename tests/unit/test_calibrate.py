"""`inferstack calibrate`: real startup logs against the plan (goldens), calibration rows that plan uses,
and bad input refused with one message and exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from inferstack import calibrate
from inferstack.plan import plan
from inferstack.plan.calibration import parse_log
from inferstack.plan.memory import GIB
from inferstack.spec import load_spec

LOGS = Path(__file__).parent / "plan" / "logs"
UPDATE = os.environ.get("INFERSTACK_UPDATE_GOLDEN") == "1"
GOLDEN_LOGS = [
    "vllm-v1-dense-llama70b-w8a8",
    "vllm-moe-mxfp4-gpt-oss-120b",
    "sglang-qwen3-235b-fp8",
    "vllm-v1-019-tp2-llama70b-fp8",
]


def _app() -> typer.Typer:
    app = typer.Typer()
    calibrate.register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the app into `calibrate`
        """Unused."""

    return app


def _invoke(*args: str):
    return CliRunner().invoke(_app(), ["calibrate", *args])


@pytest.mark.parametrize("name", GOLDEN_LOGS)
def test_calibrate_golden(name):
    result = _invoke(str(LOGS / f"{name}.log"), "--spec", str(LOGS / f"{name}.spec.yaml"))
    assert result.exit_code == 0, result.output
    golden = LOGS / f"{name}.expected"
    if UPDATE:
        golden.write_text(result.output)
        pytest.fail(f"{golden} written; review the diff and re-run without INFERSTACK_UPDATE_GOLDEN")
    assert golden.exists(), f"no golden {golden}: run with INFERSTACK_UPDATE_GOLDEN=1, review and commit it"
    assert result.output == golden.read_text()


def test_logs_are_read_term_by_term():
    gpt_oss = parse_log((LOGS / "vllm-moe-mxfp4-gpt-oss-120b.log").read_text())
    assert (gpt_oss.engine, gpt_oss.terms) == ("vllm", {"weights_gib": 65.9651, "kv_pool_gib": -2.14})
    dense = parse_log((LOGS / "vllm-v1-dense-llama70b-w8a8.log").read_text())
    # 1,381 blocks of 16 tokens: the block count early V1 logged instead of tokens
    assert dense.terms == {"weights_gib": 67.7229, "kv_blocks": 1381, "kv_tokens": 22_096, "concurrency": 10.79}
    recent = parse_log((LOGS / "vllm-v1-019-tp2-llama70b-fp8.log").read_text())
    # vLLM 0.19's profiling line carries every term; 'Estimated CUDA graph memory' is the graphs' size
    assert recent.terms == {
        "weights_gib": 33.88,
        "activation_gib": 1.96,
        "non_torch_gib": 2.1,
        "kv_pool_gib": 37.28,
        "kv_tokens": 244_304,
        "concurrency": 29.82,
        "cuda_graph_gib": 1.82,
    }
    sglang = parse_log((LOGS / "sglang-qwen3-235b-fp8.log").read_text())
    assert (sglang.engine, sglang.terms) == ("sglang", {"kv_tokens": 367_404, "kv_pool_gib": 16.46})


def test_v0_profile_lines_give_every_term():
    # vllm-project/vllm#10511: "model weights take 14.96GiB ... non_torch_memory 1.79GiB ..." in the
    # one-line form vLLM 0.6.6 printed (vllm-project/vllm#12126)
    line = (
        "INFO 01-16 09:40:00 worker.py:238] model weights take 19.86GiB; non_torch_memory takes 0.16GiB; "
        "PyTorch activation peak memory takes 36.63GiB; the rest of the memory reserved for KV Cache is 14.65GiB."
    )
    assert parse_log(line).terms == {
        "weights_gib": 19.86,
        "activation_gib": 36.63,
        "non_torch_gib": 0.16,
        "kv_pool_gib": 14.65,
    }


def test_written_row_is_what_plan_then_uses(tmp_path):
    name = "vllm-moe-mxfp4-gpt-oss-120b"
    target = tmp_path / "calibration.yaml"
    result = _invoke(str(LOGS / f"{name}.log"), "--spec", str(LOGS / f"{name}.spec.yaml"), "--write", str(target))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"appended 1 calibration row(s) to {target}; plan reads it with INFERSTACK_CALIBRATION={target}"
    )
    (row,) = yaml.safe_load(target.read_text())
    assert {k: row[k] for k in ("engine", "version", "gpu", "architecture", "quantization")} == {
        "engine": "vllm",
        "version": "0.10.1",
        "gpu": "H100",
        "architecture": "gpt-oss-120b",
        "quantization": "mxfp4",
    }
    # overhead = 0.9 x 79.18 GiB - 65.9651 weights - (-2.14) pool
    assert row["terms"] == {"weights_gib": 65.9651, "overhead_gib": round(0.9 * 79.18 - 65.9651 + 2.14, 4)}
    assert row["source"].startswith(f"{name}.log sha256:")
    spec = load_spec(LOGS / f"{name}.spec.yaml")
    calibrated = plan(spec, calibration=calibrate.user_calibration({calibrate.CALIBRATION_ENV: str(target)}))
    assert calibrated.fit.kv_pool_bytes / GIB == pytest.approx(-2.14, abs=1e-3)
    assert any(a.startswith("measured weights and overhead from calibration:") for a in calibrated.assumptions)
    assert plan(spec, calibration=calibrate.user_calibration({})).fit.kv_pool_bytes == plan(spec).fit.kv_pool_bytes
    # a second run appends, it does not overwrite
    _invoke(str(LOGS / f"{name}.log"), "--spec", str(LOGS / f"{name}.spec.yaml"), "--write", str(target))
    assert len(yaml.safe_load(target.read_text())) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["missing.log", "--spec", str(LOGS / "sglang-qwen3-235b-fp8.spec.yaml")],
            "Cannot calibrate: log missing.log: file not found. Fix: check the path.",
        ),
        (
            [str(LOGS / "sglang-qwen3-235b-fp8.spec.yaml"), "--spec", str(LOGS / "sglang-qwen3-235b-fp8.spec.yaml")],
            f"Cannot calibrate: log {LOGS / 'sglang-qwen3-235b-fp8.spec.yaml'}: no vLLM or SGLang memory line found "
            "(e.g. 'Model loading took', 'KV Cache is allocated'). Fix: pass the engine's startup log (INFO level).",
        ),
        (
            [str(LOGS / "sglang-qwen3-235b-fp8.log"), "--spec", str(LOGS / "vllm-moe-fp8-qwen3-235b.spec.yaml")],
            f"Cannot calibrate: log {LOGS / 'sglang-qwen3-235b-fp8.log'} is a sglang log but the spec runs vllm. "
            "Fix: pass the spec the engine ran with.",
        ),
    ],
)
def test_bad_input_is_one_message_and_exit_2(args, message):
    result = _invoke(*args)
    assert result.exit_code == 2
    assert result.output.strip() == message


def test_a_broken_calibration_file_is_named(tmp_path):
    broken = tmp_path / "calibration.yaml"
    broken.write_text("engine: vllm\n")
    with pytest.raises(calibrate.CalibrationInputError) as caught:
        calibrate.user_calibration({calibrate.CALIBRATION_ENV: str(broken)})
    assert str(caught.value) == (
        f"{broken}: a calibration file is a list of rows. Fix: write it with `inferstack calibrate --write`"
    )
