"""The provenance record is written by the Kubernetes builders and read by the compliance rules through
one type (`contract.Provenance`): one spelling of every key, and rules that fail closed on what it lacks."""

from __future__ import annotations

import pytest

from inferstack.compliance import Resource, evaluate
from inferstack.contract import Provenance
from inferstack.spec.models import Compliance

SHORT = "0e9e39f"
FULL = "0e9e39f249a16976918f6564b8830bc894c89659"


def _serving(record: Provenance) -> Resource:
    container = {"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    return Resource(
        "kubernetes:apps/v1:Deployment",
        "serving",
        {
            "metadata": {"annotations": record.annotations()},
            "spec": {"template": {"spec": {"containers": [container]}}},
        },
    )


def _messages(resource: Resource, rule: str) -> list[str]:
    return [f.message for f in evaluate([resource], Compliance()) if f.rule == rule]


def test_the_record_round_trips_under_its_keys():
    record = Provenance(engine="vllm", model_source="hf://org/m", model_revision=FULL, gpus_per_replica="2")
    annotations = record.annotations()
    assert annotations == {
        "inferstack.dev/engine": "vllm",
        "inferstack.dev/model-source": "hf://org/m",
        "inferstack.dev/model-revision": FULL,
        "inferstack.dev/gpus-per-replica": "2",
    }
    assert Provenance.from_annotations(annotations) == record


def test_non_string_values_and_bad_numbers_count_as_absent():
    record = Provenance.from_annotations({"inferstack.dev/engine": 7, "inferstack.dev/replicas-max": "many"})
    assert record.engine is None
    assert record.number("replicas_max") is None


def test_a_full_commit_passes_the_pinned_revision_rule():
    assert _messages(_serving(Provenance(model_source="hf://org/m", model_revision=FULL)), "INF009") == []


@pytest.mark.parametrize("revision", [SHORT, "main", FULL.upper()])
def test_anything_but_a_full_lowercase_commit_fails_it(revision):
    assert _messages(_serving(Provenance(model_source="hf://org/m", model_revision=revision)), "INF009") == [
        f"model revision {revision!r} is not a commit; allowed: a 40-hex commit. Fix: pin model.revision"
    ]
