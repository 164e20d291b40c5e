"""The logged reference corpus (benchmarks/reference_points.yaml) and how planner_accuracy scores it."""

import pytest

from benchmarks.planner_accuracy import coverage, score
from benchmarks.reference import reference_points

POINTS = reference_points()


def test_every_point_names_its_source_split_and_start():
    for pid, point in POINTS.items():
        assert point["split"] in ("fitted", "held_back"), pid
        assert point["source"] and point["what"], pid
        assert point["fits"] in (True, False, None), pid


def test_the_corpus_spans_what_issue_15_asks_for():
    scored = score(POINTS)
    lines = coverage(scored)
    assert lines[0] == "points: 32 (7 fitted, 25 held back)"
    assert lines[1] == "GPU types: A100-40GB, A100-80GB, H100, L4"
    assert lines[2] == (
        "engines: sglang, vllm; vLLM releases before 0.17.0: 0.5.3, 0.6.5, 0.6.6, 0.9.2, 0.10.1, 0.11.0, 0.15.0, "
        "0.16.0; from 0.17.0: 0.17.0, 0.18.0, 0.19.0"
    )
    assert lines[3] == "weight formats: fp8, mxfp4, none; KV cache dtypes: auto, fp8"
    assert lines[4] == "tensor-parallel sizes: 1, 2, 4, 8"


@pytest.mark.parametrize(
    ("pid", "misses"),
    [
        # gpt-oss-120b refused at 131,072 tokens with 1.71 GiB left: the plan keeps 0.18 GiB more
        ("G2", ["KV pool +10.8% (+0.18 GiB of 1.71; target 10%)"]),
        # Llama-3.1-8B on vLLM 0.19.0 with an FP8 KV cache: 952,304 tokens planned, 952,032 logged
        ("R19-L8-FP8KV", []),
    ],
)
def test_a_point_lists_the_targets_it_misses_with_gib(pid, misses):
    (scored,) = score({pid: POINTS[pid]})
    assert scored.misses() == misses
