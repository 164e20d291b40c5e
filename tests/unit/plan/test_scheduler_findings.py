"""Scheduler settings the engine refuses at startup are blocking findings of the plan."""

import copy

import pytest
import yaml

from inferstack.plan import plan
from inferstack.spec import parse_spec
from tests.conftest import SPECS
from tests.unit.engines.test_adapters import vllm_run

QUICKSTART = yaml.safe_load((SPECS / "quickstart.yaml").read_text())


def _plan(**engine):
    data = copy.deepcopy(QUICKSTART)
    data["engine"].update(engine)
    return plan(parse_spec(data))


def _codes(result):
    return {f.code: f for f in result.findings}


def test_batched_tokens_below_the_l4_default_of_256_sequences_is_blocking():
    finding = _codes(_plan(max_num_batched_tokens=255))["engine-refuses-settings"]
    assert finding.blocking
    assert finding.message == (
        "engine.max_num_batched_tokens 255 is below max_num_seqs 256 (the engine's default for L4): vllm refuses to "
        "start ('max_num_batched_tokens (255) must be greater than or equal to max_num_seqs (256)'); set "
        "engine.max_num_batched_tokens to at least 256, or engine.max_concurrent_requests to at most 255"
    )


def test_batched_tokens_below_the_spec_concurrency_names_the_spec_field():
    finding = _codes(_plan(max_num_batched_tokens=1000, max_concurrent_requests=1200))["engine-refuses-settings"]
    assert "max_num_seqs 1,200 (engine.max_concurrent_requests)" in finding.message


@pytest.mark.parametrize(
    "engine", [{"max_num_batched_tokens": 256}, {"max_num_batched_tokens": 64, "max_concurrent_requests": 64}, {}]
)
def test_batched_tokens_at_or_above_max_num_seqs_pass(engine):
    assert "engine-refuses-settings" not in _codes(_plan(**engine))


CHECK = """
import json, sys
from vllm.config.scheduler import SchedulerConfig
out = []
for tokens, seqs in json.load(sys.stdin):
    try:
        SchedulerConfig(max_num_batched_tokens=tokens, max_num_seqs=seqs, max_model_len=8192, is_encoder_decoder=False)
        out.append("ok")
    except Exception as exc:
        out.append(str(exc))
print(json.dumps(out))
"""


def test_vllm_itself_refuses_exactly_what_the_plan_blocks():
    refused, accepted = vllm_run(["-c", CHECK], [(255, 256), (256, 256)])
    assert "max_num_batched_tokens (255) must be greater than or equal to max_num_seqs (256)." in refused
    assert accepted == "ok"
    assert "engine-refuses-settings" in _codes(_plan(max_num_batched_tokens=255))
    assert "engine-refuses-settings" not in _codes(_plan(max_num_batched_tokens=256))
