"""The `inferstack` command: exit codes, JSON output, schema, and every example spec."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from inferstack.cli import app
from tests.conftest import EXAMPLE_SPECS, SPECS

runner = CliRunner()


def test_plan_prints_a_readable_report():
    result = runner.invoke(app, ["plan", str(SPECS / "quickstart.yaml")])
    assert result.exit_code == 0, result.output
    assert "quickstart: deployable" in result.output
    assert "1x L4 (tensor parallel 1)" in result.output
    assert "g2-standard-4" in result.output


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_every_example_spec_plans_as_deployable(spec):
    result = runner.invoke(app, ["plan", str(spec), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["deployable"] is True
    assert data["fit"]["fits"] is True
    assert all(p["problem"] is None for p in data["placements"])


def test_example_specs_cover_the_promised_scenarios():
    names = {p.name for p in EXAMPLE_SPECS}
    assert {
        "quickstart.yaml",
        "aws-llama-8b-us.yaml",
        "gcp-llama-70b-eu-strict.yaml",
        "deepseek-v3-h200.yaml",
        "multi-cloud-qwen.yaml",
        "existing-cluster.yaml",
    } <= names


def test_not_deployable_exits_1_with_the_reason(tmp_path):
    text = (SPECS / "quickstart.yaml").read_text().replace("monthly_budget: 5000", "monthly_budget: 100")
    spec = tmp_path / "over.yaml"
    spec.write_text(text)
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 1
    assert "over-budget" in result.output


def test_bad_spec_exits_2_without_a_traceback(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text((SPECS / "quickstart.yaml").read_text().replace("name: vllm", "name: vlm"))
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 2
    assert "engine.name = 'vlm': not an allowed value. Did you mean 'vllm'?" in result.output
    assert "Traceback" not in result.output


def test_schema_is_json_schema_with_descriptions():
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "DeploymentSpec"
    placement = schema["$defs"]["Placement"]
    assert placement["additionalProperties"] is False
    assert all("description" in field for field in placement["properties"].values())


def test_plan_path_imports_no_cloud_sdk():
    code = (
        "import sys; from inferstack.cli import app; from typer.testing import CliRunner; "
        f"CliRunner().invoke(app, ['plan', {str(SPECS / 'quickstart.yaml')!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith(('pulumi', 'boto3', 'google.cloud', 'kubernetes'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_package_exports_components_lazily():
    code = (
        "import sys, inferstack; before = any(m.startswith('pulumi') for m in sys.modules); "
        "from inferstack import ModelDeployment, load_spec; "
        "print(before, ModelDeployment.__name__, callable(load_spec))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "ModelDeployment", "True"]


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["render", str(SPECS / "quickstart.yaml"), "-o", str(blocker)])
    assert result.exit_code == 2
    assert f"Cannot write {blocker}: File exists" in result.output
    result = runner.invoke(app, ["check", str(SPECS / "quickstart.yaml"), "-o", str(tmp_path / "no" / "r.txt")])
    assert result.exit_code == 2
    assert "No such file or directory" in result.output


def test_readme_commands_and_spec_stay_true():
    import re

    import yaml

    from inferstack.plan import plan
    from inferstack.spec import load_spec, parse_spec

    readme = (SPECS.parent / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert first_block == [
        "scripts/setup.sh && .venv/bin/inferstack plan specs/quickstart.yaml && "
        ".venv/bin/inferstack render specs/quickstart.yaml -o build/quickstart",
        "scripts/test.sh",
    ]
    assert (SPECS.parent / ".ci" / "run").read_text().rstrip().endswith("scripts/test.sh")
    inline = yaml.safe_load(re.search(r"```yaml\n(.*?)```", readme, re.S).group(1))
    assert plan(parse_spec(inline)).to_dict() == plan(load_spec(SPECS / "quickstart.yaml")).to_dict()


def test_markup_in_user_text_is_printed_literally(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(
        (SPECS / "quickstart.yaml").read_text().replace("name: quickstart", "name: '[/]'")
    )
    result = runner.invoke(app, ["plan", "spec.yaml"])
    assert result.exit_code == 2
    assert result.output.splitlines()[:2] == [
        "Invalid spec spec.yaml: 1 problem",
        "  - name = '[/]': deployment name is not a DNS label. Allowed: 1-40 characters of a-z, 0-9 and '-', "
        "starting and ending with a letter or digit. Fix: use lower-case letters, digits and '-'.",
    ]
    result = runner.invoke(app, ["plan", "[bold]missing[/].yaml"])
    assert result.output.splitlines()[0] == "Invalid spec [bold]missing[/].yaml: 1 problem"


def test_plan_report_escapes_what_it_prints():
    import io

    from rich.console import Console

    from inferstack.plan import plan
    from inferstack.report import print_plan
    from inferstack.spec import load_spec

    result = plan(load_spec(SPECS / "quickstart.yaml"))
    result.assumptions.append("a [bold]literal[/bold] note [/]")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_plan(result, console)
    assert "a [bold]literal[/bold] note [/]" in console.file.getvalue()


def test_readme_two_problem_example_prints_both(tmp_path):
    text = (SPECS / "quickstart.yaml").read_text().replace("name: vllm", "name: vlm")
    text = text.replace("region: us-central1", "region: europe-west4")
    spec = tmp_path / "two.yaml"
    spec.write_text(text)
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0].endswith("two.yaml: 2 problems")
    assert lines[1].startswith("  - engine.name = 'vlm': not an allowed value.")
    assert lines[2].startswith("  - placements[0].region = 'europe-west4': outside the compliance region lock.")


def test_schema_accepts_every_example_spec():
    import yaml
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(runner.invoke(app, ["schema"]).output))
    for spec in EXAMPLE_SPECS:
        assert not list(validator.iter_errors(yaml.safe_load(spec.read_text()))), spec.name
