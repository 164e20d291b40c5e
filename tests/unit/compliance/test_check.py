"""`inferstack check`: the violating corpus is caught naming rule, resource and value; every example
spec passes; the CI report formats are well formed."""

import json
from xml.etree import ElementTree

import pytest
import yaml
from typer.testing import CliRunner

from inferstack.cli import app
from tests.conftest import EXAMPLE_SPECS, ROOT

CORPUS = ROOT / "tests" / "unit" / "compliance" / "corpus"
POLICY = CORPUS / "org-policy.yaml"
runner = CliRunner()

#: corpus spec -> (rule, a resource it must name, the offending value it must show)
EXPECTED = {
    "region-aws": (
        "INF001",
        "aws:eks/cluster:Cluster 'corpus-west-cluster-eks'",
        "region 'eu-central-1' is outside the region lock",
    ),
    "region-gcp": (
        "INF001",
        "gcp:container/cluster:Cluster 'corpus-europe-cluster-gke'",
        "region 'europe-west4' is outside the region lock",
    ),
    "public-endpoint": (
        "INF003",
        "aws:eks/cluster:Cluster 'corpus-east-cluster-eks'",
        "EKS endpointPublicAccess is True",
    ),
    "unencrypted-secrets": (
        "INF004",
        "aws:eks/cluster:Cluster 'corpus-east-cluster-eks'",
        "EKS secrets encryption is not configured",
    ),
    "disallowed-gpu": (
        "INF006",
        "aws:eks/nodeGroup:NodeGroup 'corpus-east-gpu'",
        "instanceTypes[0]='p4de.24xlarge': GPU 'A100-80GB' is not allowed",
    ),
    "disallowed-engine": (
        "INF007",
        "kubernetes:apps/v1:Deployment 'corpus-east-serving-deployment-corpus'",
        "engine 'tgi' is not allowed",
    ),
    "disallowed-quantization": (
        "INF007",
        "kubernetes:apps/v1:Deployment 'corpus-east-serving-deployment-corpus'",
        "quantization 'gptq' is not allowed",
    ),
    "unpinned-image": (
        "INF008",
        "kubernetes:apps/v1:Deployment 'corpus-east-serving-deployment-corpus'",
        "image 'vllm/vllm-openai:v0.32.0' is not pinned",
    ),
    "unpinned-fetcher": (
        "INF008",
        "kubernetes:batch/v1:Job 'corpus-east-serving-job-corpus-prefetch'",
        "image 'ghcr.io/inferstack/weights-fetcher:0.1.0' is not pinned",
    ),
    "unpinned-revision": (
        "INF009",
        "kubernetes:apps/v1:Deployment 'corpus-east-serving-deployment-corpus'",
        "model revision 'main' is not a commit",
    ),
    "public-gateway": (
        "INF013",
        "kubernetes:core/v1:Service 'corpus-east-serving-service-corpus-endpoint'",
        "endpoint Service 'corpus-endpoint' of type 'LoadBalancer' is public",
    ),
    "over-budget": ("INF012", "stack 'stack'", "costs 160,717 USD/month, over the budget of 20,000 USD"),
    "unknown-price": (
        "INF012",
        "kubernetes:apps/v1:Deployment 'corpus-east-serving-deployment-corpus'",
        "has no GPU-hour price",
    ),
}


def test_corpus_is_complete():
    assert sorted(p.stem for p in CORPUS.glob("*.yaml") if p != POLICY) == sorted(EXPECTED)
    assert len(EXPECTED) >= 12


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_violating_spec_is_caught_naming_rule_resource_and_value(name):
    rule, resource, value = EXPECTED[name]
    result = runner.invoke(app, ["check", str(CORPUS / f"{name}.yaml"), "--policy", str(POLICY)])
    assert result.exit_code == 1, result.output
    section = result.output.split(f"FAIL {rule} ", 1)[1].split("\n", 1)[1]
    lines = [line.strip() for line in section.splitlines() if line.startswith("       ")]
    assert any(line.startswith(resource) and value in line for line in lines), result.output


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_every_example_spec_passes(spec):
    result = runner.invoke(app, ["check", str(spec)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("0 mandatory violation(s), 0 advisory")


def test_sarif_and_junit_reports(tmp_path):
    spec = str(CORPUS / "unpinned-revision.yaml")
    sarif = runner.invoke(app, ["check", spec, "--policy", str(POLICY), "--format", "sarif"])
    log = json.loads(sarif.output)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"INF001", "INF012"}
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("INF009", "error")]
    junit = runner.invoke(
        app, ["check", spec, "--policy", str(POLICY), "--format", "junit", "-o", str(tmp_path / "r.xml")]
    )
    assert junit.exit_code == 1
    suite = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert suite.get("failures") == "1"
    failed = [case.get("name") for case in suite if case.find("failure") is not None]
    assert failed == ["INF009 pinned-model-revisions"]


def test_bad_format_and_bad_spec_exit_2(tmp_path):
    assert runner.invoke(app, ["check", str(EXAMPLE_SPECS[0]), "--format", "xml"]).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2 and "model: required field is missing" in result.output


def test_policy_file_problems_name_the_field(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("residencyy: eu\nallowed_gpus: [X1]\n")
    result = runner.invoke(app, ["check", str(EXAMPLE_SPECS[0]), "--policy", str(policy)])
    assert result.exit_code == 2
    assert "residencyy: unknown field 'residencyy'. Did you mean 'residency'?" in result.output
    assert "allowed_gpus = ['X1']: unknown GPU." in result.output


def test_a_spec_over_its_own_budget_is_reported_by_the_budget_rule(tmp_path):
    spec = tmp_path / "over.yaml"
    spec.write_text(
        (ROOT / "specs" / "quickstart.yaml").read_text().replace("monthly_budget: 5000", "monthly_budget: 100")
    )
    result = runner.invoke(app, ["check", str(spec)])
    assert result.exit_code == 1
    assert "GPU capacity at max size costs 1,032 USD/month, over the budget of 100 USD" in result.output


def test_check_gives_each_endpoint_client_a_throwaway_key_whatever_ran_before(tmp_path):
    """Keys only reach the mocks; a second spec with other clients is checked as the first was."""
    spec = yaml.safe_load((CORPUS / "public-gateway.yaml").read_text())
    spec["compliance"]["private_networking"] = True
    spec["endpoint"] = {"tls": {"source": "none"}, "clients": [{"name": "first", "requests_per_minute": 1}]}
    for name in ("first", "second"):
        spec["endpoint"]["clients"] = [{"name": name, "requests_per_minute": 1}]
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec))
        result = runner.invoke(app, ["check", str(path)])
        assert "INF013 private-endpoint" in result.output and "have no API key" not in result.output, result.output
