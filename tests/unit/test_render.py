"""`inferstack render`: golden files per example spec, byte-identical reruns, and the rendered
manifests checked by real tools: kubernetes-validate (strict, 1.29 and 1.37) and checkov."""

import filecmp
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from inferstack.plan import plan
from inferstack.render import RECORD_DIR, render
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
    "LeaderWorkerSet": "LWS CRD, not bundled; tests/unit/kube/test_lws.py validates it against the vendored upstream CRD",
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
    """The rendered files under `root`, without render's own record folder."""
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and RECORD_DIR not in p.relative_to(root).parts
    )


UPDATED = "goldens updated, review the diff and re-run without INFERSTACK_UPDATE_GOLDEN"


def compare_with_golden(produced: Path, golden: Path, update: bool) -> None:
    """Fail unless `produced` holds exactly the files of `golden`, byte for byte. A missing golden is a
    failure, never written here; in update mode the goldens are rewritten and the test fails, so the
    change is reviewed (git diff) before a normal run passes."""
    if update:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(produced, golden, ignore=shutil.ignore_patterns(RECORD_DIR))
        pytest.fail(UPDATED)
    if not golden.is_dir():
        pytest.fail(f"no golden files in {golden}: run with INFERSTACK_UPDATE_GOLDEN=1, review and commit them")
    assert _tree(produced) == _tree(golden)
    for name in _tree(golden):
        assert (produced / name).read_bytes() == (golden / name).read_bytes(), f"{golden.name}/{name} differs"


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_rendered_output_matches_golden_files(spec, rendered):
    compare_with_golden(rendered / spec.stem, GOLDEN / spec.stem, UPDATE)


def test_a_missing_golden_fails_and_is_not_written(tmp_path, rendered):
    golden = tmp_path / "golden" / "quickstart"
    with pytest.raises(pytest.fail.Exception, match="no golden files in"):
        compare_with_golden(rendered / "quickstart", golden, update=False)
    assert not golden.exists()
    shutil.copytree(GOLDEN / "quickstart", golden)
    (golden / "plan.txt").unlink()
    with pytest.raises(AssertionError):
        compare_with_golden(rendered / "quickstart", golden, update=False)
    assert not (golden / "plan.txt").exists()


def test_update_mode_writes_the_goldens_then_fails_for_review(tmp_path, rendered):
    golden = tmp_path / "golden" / "quickstart"
    golden.mkdir(parents=True)
    (golden / "stale.yaml").write_text("old")
    with pytest.raises(pytest.fail.Exception) as failed:
        compare_with_golden(rendered / "quickstart", golden, update=True)
    assert str(failed.value) == UPDATED
    assert _tree(golden) == _tree(rendered / "quickstart") and not (golden / RECORD_DIR).exists()
    compare_with_golden(rendered / "quickstart", golden, update=False)
    (golden / "plan.txt").write_text("edited")
    with pytest.raises(AssertionError, match=r"quickstart/plan\.txt differs"):
        compare_with_golden(rendered / "quickstart", golden, update=False)


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


def checkov_report(directory) -> dict:
    """checkov's kubernetes report on every manifest under `directory` (one framework: one report)."""
    result = subprocess.run(
        [
            _checkov(),
            "-d",
            str(directory),
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
    return report if isinstance(report, dict) else report[0]


def test_checkov_reports_no_failed_check(rendered):
    report = checkov_report(rendered)
    summary, failed = report["summary"], report["results"]["failed_checks"]
    assert [(f["check_id"], f["resource"]) for f in failed] == []
    assert summary["failed"] == 0 and summary["passed"] > 1000


def test_rerender_removes_what_the_last_render_wrote_and_keeps_other_files(tmp_path):
    """A placement dropped from the spec: its folder goes, the user's own files stay."""
    out = tmp_path / "out"
    _render(ROOT / "specs" / "multi-cloud-qwen.yaml", out)
    (out / "notes.txt").write_text("mine")
    (out / "aws-us-east" / "kustomization.yaml").write_text("mine")
    data = yaml.safe_load((ROOT / "specs" / "multi-cloud-qwen.yaml").read_text())
    data["placements"] = [p for p in data["placements"] if p["name"] == "gcp-us-central"]
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(data))
    files = _render(tmp_path / "one.yaml", out)
    assert sorted(p.name for p in out.iterdir()) == [
        RECORD_DIR,
        "aws-us-east",
        "dashboards",
        "gcp-us-central",
        "notes.txt",
        "plan.json",
        "plan.txt",
        "rules",
    ]
    assert [p.name for p in (out / "aws-us-east").iterdir()] == ["kustomization.yaml"]
    assert _tree(out) == sorted(
        [str(p.relative_to(out)) for p in files] + ["notes.txt", "aws-us-east/kustomization.yaml"]
    )
    record = json.loads((out / RECORD_DIR / "qwen3-32b.json").read_text())
    assert record["format"] == 1 and record["spec"] == "qwen3-32b" and "previous" not in record
    assert sorted(record["files"]) == sorted(str(p.relative_to(out)) for p in files)
    assert record["files"]["plan.json"] == hashlib.sha256((out / "plan.json").read_bytes()).hexdigest()
