"""Property-based tests over the spec: any generated spec either loads, plans and renders manifests
that pass strict Kubernetes schema validation with valid names and labels, or is refused with a
SpecError (exit 2) -- never another exception."""

from __future__ import annotations

import copy
import json
import re

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferstack.cli import app
from inferstack.kube import placement_objects
from inferstack.monitoring import placement_monitoring
from inferstack.plan import plan
from inferstack.spec import SpecError, parse_spec, parse_spec_text
from tests.conftest import SPECS

BASES = {
    name: yaml.safe_load((SPECS / f"{name}.yaml").read_text())
    for name in ("quickstart", "existing-cluster", "aws-llama-8b-us", "multi-cloud-qwen", "gcp-llama-70b-eu-strict")
}
#: Custom resources kubernetes-validate has no schema for (their fields are asserted elsewhere).
CRD_KINDS = {"ScaledObject", "PodMonitor", "PrometheusRule", "ServiceMonitor"}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")

_valid_name = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?", fullmatch=True)
#: Each strategy leans to valid values (three branches in four) so that many specs get rendered.
names = st.one_of(
    _valid_name,
    _valid_name,
    _valid_name,
    st.sampled_from(["dashboards", "rules", "a" * 40, "x\n", "[/]", "Q", ""]),
    st.text(max_size=45),
)
numbers = st.one_of(
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(-3, 40),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["1", "yes", None]),
)
flags = st.one_of(
    st.sampled_from(["--enforce-eager", "--max-model-len", "--port=1", "--tp-size", "--max_num_seqs=4", "8"]),
    st.text(max_size=20),
)
zones = st.one_of(
    st.sampled_from(["us-central1-a", "us-central1-b", "us-central1-z", "us-east-1a", "us-east-1b", "europe-west4-a"]),
    st.text(max_size=15),
)
images = st.one_of(
    st.sampled_from(["vllm/vllm-openai:v0.32.0", "registry.example:5000/team/vllm:v1@sha256:" + "a" * 64]),
    st.text(max_size=40),
)


@st.composite
def specs(draw):
    data = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    placement = data["placements"][0]
    maybe = lambda: draw(st.sampled_from([False, False, False, True]))  # noqa: E731
    if maybe():
        data["name"] = draw(names)
    if maybe():
        placement["name"] = draw(names)
    if maybe():
        placement["replicas"] = {"min": draw(numbers), "max": draw(numbers)}
    if maybe():
        placement["zones"] = draw(st.lists(zones, max_size=4))
    if maybe():
        data["engine"]["extra_args"] = draw(st.lists(flags, max_size=3))
    if maybe():
        data["model"]["served_name"] = draw(st.one_of(names, st.sampled_from(["meta-llama/Llama-3.1-8B", "a:b"])))
    if maybe():
        data["slo"] = {"ttft_p95_ms": draw(numbers), "e2e_p95_ms": draw(numbers)}
    if maybe():
        data["engine"]["prefix_caching"] = draw(st.one_of(st.booleans(), st.integers(0, 1), st.sampled_from(["no"])))
    if maybe():
        data["autoscaling"] = {"target": draw(numbers), "scale_down_delay_seconds": draw(numbers)}
    if maybe():
        data["resources"]["gpu"] = draw(st.sampled_from(["L4:1", "L4:2", "H100:8", "L40S", "A100-80GB:4", "L4:0", "X"]))
    if maybe():
        data["engine"]["max_concurrent_requests"] = draw(numbers)
    if maybe():
        data["model"]["max_context"] = draw(st.one_of(numbers, st.sampled_from([4096, 16384, 131072])))
    if maybe():
        data["engine"]["image"] = draw(images)
    if maybe():
        data.setdefault("cache", {})["size_gib"] = draw(numbers)
    if maybe():
        data["model"]["revision"] = draw(st.one_of(st.text(max_size=42), st.just("a" * 40)))
    return data


def _check_names(obj: dict) -> None:
    meta = obj["metadata"]
    pattern = DNS_LABEL if obj["kind"] in ("Namespace", "Service") else DNS_SUBDOMAIN
    assert pattern.fullmatch(meta["name"]), (obj["kind"], meta["name"])
    if "namespace" in meta:
        assert DNS_LABEL.fullmatch(meta["namespace"]), meta["namespace"]
    for key, value in (meta.get("labels") or {}).items():
        assert LABEL_VALUE.fullmatch(value), (obj["kind"], key, value)


def refused_or_rendered(data) -> str:
    """What happens to one spec: refused (SpecError), not deployable (exit 1), or rendered and valid."""
    try:
        spec = parse_spec(copy.deepcopy(data), "spec.yaml")
    except SpecError as exc:
        assert exc.violations
        assert len(exc.render().encode()) <= 10_000
        return "refused"
    result = plan(spec)
    if not result.deployable:
        return "not deployable"  # exit 1 with the plan: nothing is rendered
    for placement in result.placements:
        for obj in placement_objects(result, placement) + placement_monitoring(result, placement.name):
            obj = json.loads(json.dumps(obj))
            _check_names(obj)
            if obj["kind"] not in CRD_KINDS:
                kubernetes_validate.validate(obj, "1.29.0", strict=True)
    return "rendered"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_a_generated_spec_is_refused_or_renders_valid_manifests(data):
    event(refused_or_rendered(data))


runner = CliRunner()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(specs())
def test_the_cli_answers_every_generated_spec_with_0_1_or_2(tmp_path, data):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", sorted(BASES))
def test_the_bases_render(name):
    assert refused_or_rendered(BASES[name]) == "rendered"


yaml_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "name: x\n",
                "a: &a [1]\n",
                "b: *a\n",
                "<<: *a\n",
                "? [k]\n: v\n",
                "---\n",
                "- 1\n",
                "{",
                "}",
                "[",
                "]",
                "!!binary aGk=\n",
                "x: !t 1\n",
                "\t",
                "\x00",
                "\u202e",
                "  c: d\n",
                "e: 'f\n",
                "1: 2\n",
                "yes: no\n",
            ]
        ),
        max_size=12,
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(yaml_text)
def test_any_text_is_a_spec_or_a_spec_error(text):
    try:
        parse_spec_text(text, "specYaml")
    except SpecError as exc:
        assert exc.violations
        assert len(exc.render().encode()) <= 10_000
