"""`inferstack render`: golden files per example spec, byte-identical reruns, and the rendered
manifests checked by real tools: kubernetes-validate (strict, 1.29 and 1.37) and checkov."""

import filecmp
import json
import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from inferstack.plan import plan
from inferstack.render import render
from inferstack.spec import load_spec
from tests.conftest import EXAMPLE_SPECS, ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("INFERSTACK_UPDATE_GOLDEN") == "1"
#: Custom resources whose schemas kubernetes-validate does not bundle; their fields are asserted in
#: tests/unit/kube/test_objects.py instead.
CRD_KINDS = {
    "ScaledObject": "KEDA's CRD schema is not bundled with kubernetes-validate",
    "PodMonitor": "prometheus-operator CRD, not bundled; tests/unit/monitoring asserts its fields",
    "ServiceMonitor": "prometheus-operator CRD, not bundled; tests/unit/monitoring asserts its fields",
    "PrometheusRule": "prometheus-operator CRD, not bundled; promtool checks the rules it carries",
}


def _render(spec_path, out):
    return render(plan(load_spec(spec_path)), out)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    for spec in EXAMPLE_SPECS:
        _render(spec, out / spec.stem)
    return out


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_rendered_output_matches_golden_files(spec, rendered):
    produced, golden = rendered / spec.stem, GOLDEN / spec.stem
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(produced, golden)
    assert _tree(produced) == _tree(golden)
    for name in _tree(golden):
        assert (produced / name).read_text() == (golden / name).read_text(), f"{spec.stem}/{name} differs from golden"


def test_rendering_twice_is_byte_identical(tmp_path):
    spec = EXAMPLE_SPECS[0]
    _render(spec, tmp_path / "a")
    _render(spec, tmp_path / "b")
    comparison = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only


def test_render_writes_one_folder_per_placement_and_the_plan(tmp_path):
    files = _render(ROOT / "specs" / "multi-cloud-qwen.yaml", tmp_path)
    assert {p.parent.name for p in files if p.suffix == ".yaml"} == {"aws-us-east", "gcp-us-central", "rules"}
    assert (tmp_path / "dashboards" / "qwen3-32b-engine.json").is_file()
    assert json.loads((tmp_path / "plan.json").read_text())["name"] == "qwen3-32b"
    assert "qwen3-32b: deployable" in (tmp_path / "plan.txt").read_text()


@pytest.mark.parametrize("version", ["1.29.0", "1.37.0"])
def test_manifests_pass_strict_schema_validation(rendered, version):
    checked = 0
    manifests = [p for p in sorted(rendered.glob("*/*/*.yaml")) if p.parent.name != "rules"]
    for path in manifests:
        obj = yaml.safe_load(path.read_text())
        if obj["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 50


def _checkov() -> str | None:
    path = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    if path.exists():
        return str(path)
    if os.environ.get("CI"):
        pytest.fail("checkov is not installed: .ci/run must run scripts/install-checkov.sh")
    pytest.skip("checkov not installed here; run scripts/install-checkov.sh")


def test_checkov_reports_no_failed_check(rendered):
    result = subprocess.run(
        [
            _checkov(),
            "-d",
            str(rendered),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--quiet",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    report = json.loads(result.stdout)
    summary = report["summary"] if isinstance(report, dict) else report[0]["summary"]
    failed = report["results"]["failed_checks"] if isinstance(report, dict) else report[0]["results"]["failed_checks"]
    assert [(f["check_id"], f["resource"]) for f in failed] == []
    assert summary["failed"] == 0 and summary["passed"] > 1000


def test_rerender_removes_what_the_last_render_wrote_and_keeps_other_files(tmp_path):
    _render(ROOT / "specs" / "multi-cloud-qwen.yaml", tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    _render(ROOT / "specs" / "quickstart.yaml", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".inferstack-render.json",
        "dashboards",
        "notes.txt",
        "plan.json",
        "plan.txt",
        "rules",
        "us-central",
    ]
    assert sorted(p.name for p in (tmp_path / "dashboards").iterdir()) == [
        "fleet.json",
        "gpu.json",
        "quickstart-engine.json",
    ]
