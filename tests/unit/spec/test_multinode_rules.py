"""Spec rules for GPU counts above one node."""

import pytest

from inferstack.spec import SpecError
from tests.conftest import spec_variant


def _problems(changes):
    with pytest.raises(SpecError) as caught:
        spec_variant("llama-405b-bf16-h100", changes)
    return caught.value.render().splitlines()[1:]


def test_a_multi_node_count_must_be_a_layout_the_engine_launches():
    assert _problems({"resources": {"gpu": "H100:12"}}) == [
        "  - resources.gpu.count = 12: not a multi-node layout vllm can launch for this model on H100 nodes. "
        "Allowed: 1, 2, 4, 8, 16 (2 nodes x 8 GPUs, TP8 x PP2), 24 (3 nodes x 8 GPUs, TP8 x PP3), "
        "32 (4 nodes x 8 GPUs, TP8 x PP4), 40 (5 nodes x 8 GPUs, TP8 x PP5), 48 (6 nodes x 8 GPUs, TP8 x PP6), "
        "56 (7 nodes x 8 GPUs, TP8 x PP7), 64 (8 nodes x 8 GPUs, TP8 x PP8). "
        "Fix: pick a count from the allowed list, or omit it to let the planner choose."
    ]


def test_an_engine_that_cannot_span_nodes_is_refused_at_load():
    (problem,) = _problems({"engine": {"name": "trtllm"}, "autoscaling": {"enabled": False}})
    assert problem.startswith(
        "  - resources.gpu.count = 16: more GPUs than one node holds (8), and trtllm cannot spread a replica over "
        "nodes: trtllm-serve spans nodes only under an MPI launcher"
    )
    assert problem.endswith(
        "Allowed: 1 to 8 with trtllm. Fix: use vllm or sglang for a multi-node replica, or a larger GPU or smaller "
        "quantization on one node."
    )


def test_a_layout_the_engine_launches_loads():
    assert spec_variant("llama-405b-bf16-h100", {"resources": {"gpu": "H100:24"}}).resources.gpu.count == 24


def test_more_than_eight_nodes_is_refused_by_the_field():
    assert _problems({"resources": {"gpu": "H100:72"}}) == [
        "  - resources.gpu.count = 72: out of range. Allowed: at most 64."
    ]
