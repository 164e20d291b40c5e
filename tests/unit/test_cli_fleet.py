"""The `inferstack` command over a fleet folder: plan, render, check and the platform schema, with the
same exit codes as for one spec (0 deployable, 1 not deployable, 2 invalid input)."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from inferstack.cli import app
from tests.fleet_folder import FLEET, fleet_folder

runner = CliRunner()


def test_plan_dir_reports_pools_costs_and_teams():
    result = runner.invoke(app, ["plan", str(FLEET)])
    assert result.exit_code == 0, result.output
    assert "prod: deployable (4 model(s) on 3 platform placement(s))" in result.output
    assert "Placement us-east: aws us-east-1, cluster prod-us-east" in result.output
    assert "Placement us-central: gcp us-central1, cluster prod-us-central" in result.output
    assert "a3-highgpu-8g" in result.output
    assert "$32,298.85" in result.output  # chat-8b-mig: half an a3-highgpu-8g for a month, 8/16 x 88.49 x 730
    assert "placement us-east: $5,434.12 per month" in result.output  # 4 g6e.xlarge: 4 x 1.861 x 730
    # 4 g2-standard-4 and 1 a3-highgpu-8g: (4 x 0.70683 + 88.49) x 730 = 66,661.6436
    assert "placement us-central: $66,661.64 per month" in result.output


def test_plan_dir_json():
    result = runner.invoke(app, ["plan", str(FLEET), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["platform"], data["deployable"]) == ("prod", True)
    assert [f["code"] for f in data["findings"]] == ["idle-at-min"]
    assert [p["name"] for p in data["placements"]] == ["us-east", "us-central", "onprem"]
    mig_pool = data["placements"][1]["pools"][1]
    assert (mig_pool["resource_name"], mig_pool["mig_profile"], mig_pool["slots_per_node"]) == (
        "gpu-h100-mig",
        "3g.40gb",
        16,
    )
    assert mig_pool["gpus"] == {"min": 1, "max": 4}
    assert mig_pool["models"] == [
        {"name": "chat-8b-mig", "team": "chat", "slots_per_replica": 1, "replicas": {"min": 2, "max": 8}}
    ]
    # chat: 8/16 x 88.49 x 730 + 4 x 1.861 x 730 = 32,298.85 + 5,434.12; search: 3 x 2.10 x 730 + 4 x 0.70683 x 730
    # = 4,599 + 2,063.9436, to the cent
    assert [(t["name"], t["monthly_cost_max"]) for t in data["teams"]] == [("chat", 37732.97), ("search", 6662.94)]
    assert data["models"][1]["placements"] == {"us-east": "l40s"}
    assert data["models"][1]["plan"]["fit"]["gpu"] == "L40S"


def test_plan_dir_over_budget_exits_1_with_the_reason(tmp_path):
    folder = fleet_folder(tmp_path / "fleet", {"platform.yaml": {"teams": {0: {"monthly_budget": 20000}}}})
    result = runner.invoke(app, ["plan", str(folder)])
    assert result.exit_code == 1
    assert "prod: NOT deployable" in result.output
    assert "BLOCKING fleet team-over-budget: team chat: its models cost 37,733 USD per month" in result.output


def test_plan_dir_widening_exits_2_naming_both_documents(tmp_path):
    folder = fleet_folder(tmp_path / "fleet", {"chat-8b.yaml": {"compliance": {"allowed_engines": ["tgi"]}}})
    result = runner.invoke(app, ["plan", str(folder)])
    assert result.exit_code == 2
    assert result.output.replace("\n", "") == (
        f"Invalid spec {folder}: 1 problem  - {folder}/chat-8b.yaml: compliance.allowed_engines = ['tgi']: widens the "
        f"platform baseline ({folder}/platform.yaml: compliance.allowed_engines = ['vllm', 'sglang']). Fix: list only "
        "values the baseline allows, or leave it out to inherit them."
    )


def test_hostile_files_in_a_folder_are_one_message_each(tmp_path):
    folder = fleet_folder(tmp_path / "fleet")
    (folder / "list.yaml").write_text("- a\n- b\n")
    (folder / "bad.yaml").write_bytes(b"name: [\xff\n")
    result = runner.invoke(app, ["plan", str(folder)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == f"Invalid spec {folder}: 2 problems"
    assert lines[1].startswith(f"  - {folder}/bad.yaml: ")
    assert lines[2].startswith(f"  - {folder}/list.yaml: (top level): the spec is a list, not a mapping.")
    assert "Traceback" not in result.output


def test_plan_one_spec_of_the_folder_binds_it_to_the_platform():
    result = runner.invoke(app, ["plan", str(FLEET / "chat-8b-mig.yaml")])
    assert result.exit_code == 0, result.output
    assert "chat-8b-mig: deployable" in result.output
    assert "1x H100-MIG-3g.40gb (tensor parallel 1)" in result.output


def test_plan_dir_imports_no_cloud_sdk():
    code = (
        "import sys; from inferstack.cli import app; from typer.testing import CliRunner; "
        f"CliRunner().invoke(app, ['plan', {str(FLEET)!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith(('pulumi', 'boto3', 'google.cloud', 'kubernetes'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_render_dir_writes_shared_objects_once_and_each_model_beside_them(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", str(FLEET), "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert sorted(p for p in written if p.startswith("us-east/_platform/")) == [
        "us-east/_platform/01-namespace-chat.yaml",
        "us-east/_platform/02-resourcequota-chat-gpus.yaml",
        "us-east/_platform/03-namespace-search.yaml",
        "us-east/_platform/04-resourcequota-search-gpus.yaml",
        "us-east/_platform/05-servicemonitor-nvidia-dcgm-exporter.yaml",
        "us-east/_platform/06-configmap-inferstack-platform.yaml",
    ]
    assert sorted(p for p in written if p.startswith("onprem/_platform/")) == [  # existing: no monitoring stack of ours
        "onprem/_platform/01-namespace-chat.yaml",
        "onprem/_platform/02-resourcequota-chat-gpus.yaml",
        "onprem/_platform/03-namespace-search.yaml",
        "onprem/_platform/04-resourcequota-search-gpus.yaml",
    ]
    assert not [p for p in written if "servicemonitor" in p and "/_platform/" not in p]
    assert not [p for p in written if "namespace-chat-8b" in p]  # team models use the team's namespace
    assert {p.split("/")[0] for p in written} == {
        ".inferstack-render",
        "dashboards",
        "fleet.json",
        "fleet.txt",
        "models",
        "onprem",
        "rules",
        "us-central",
        "us-east",
    }
    assert "us-central/chat-8b-mig/11-deployment-chat-8b-mig.yaml" in written
    assert "dashboards/platform.json" in written
    deployment = yaml.safe_load((out / "us-east/chat-8b/11-deployment-chat-8b.yaml").read_text())
    assert deployment["metadata"]["namespace"] == "chat"
    again = runner.invoke(app, ["render", str(FLEET), "-o", str(out)])
    assert again.exit_code == 0, again.output  # its own record: re-rendering replaces its files


def test_render_dir_refuses_a_users_file_in_the_way(tmp_path):
    out = tmp_path / "out"
    (out / "us-east" / "_platform").mkdir(parents=True)
    (out / "us-east" / "_platform" / "01-namespace-chat.yaml").write_text("mine\n")
    result = runner.invoke(app, ["render", str(FLEET), "-o", str(out)])
    assert result.exit_code == 2
    assert "was not written by inferstack render and would be overwritten" in result.output


def test_check_dir_judges_the_platform_and_every_model():
    result = runner.invoke(app, ["check", str(FLEET)])
    assert result.exit_code == 0, result.output
    assert "0 mandatory violation(s)" in result.output


def test_check_dir_with_a_team_over_quota_is_not_deployable(tmp_path):
    folder = fleet_folder(tmp_path / "fleet", {"platform.yaml": {"teams": {1: {"gpus": 2}}}})
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1
    assert result.output.replace("\n", "") == (
        "Not deployable, nothing to check: team search on placement us-central: its models hold 4 GPUs at max "
        "replicas but its quota is 2; lower replicas.max or raise the team's gpus; team search on placement onprem: "
        "its models hold 3 GPUs at max replicas but its quota is 2; lower replicas.max or raise the team's gpus"
    )


def test_platform_schema_accepts_the_example_and_refuses_a_model_spec():
    result = runner.invoke(app, ["schema", "--platform"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["title"] == "PlatformSpec"
    assert all("description" in f for f in schema["$defs"]["GpuPool"]["properties"].values())
    validator = Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load((FLEET / "platform.yaml").read_text())))
    assert list(validator.iter_errors(yaml.safe_load((FLEET / "chat-8b.yaml").read_text())))


def test_readme_platform_section_stays_true(tmp_path, monkeypatch):
    readme = (FLEET.parent.parent / "README.md").read_text()
    section = readme.split("## Platform and models\n", 1)[1].split("\n## ", 1)[0]
    model = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert model["placements"] == yaml.safe_load((FLEET / "chat-8b-mig.yaml").read_text())["placements"]
    shown = section.split("\n```\nspecs/fleet: 1 problem\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    fleet_folder(tmp_path / "specs" / "fleet", {"chat-8b.yaml": {"compliance": {"allowed_gpus": ["L40S", "B200"]}}})
    result = runner.invoke(app, ["plan", "specs/fleet"], env={"COLUMNS": "1000"})
    assert result.exit_code == 2
    assert result.output == f"Invalid spec specs/fleet: 1 problem\n{shown}"


def test_plan_of_the_platform_document_alone_shows_its_empty_pools():
    result = runner.invoke(app, ["plan", str(FLEET / "platform.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["models"] == []
    assert [f["code"] for f in data["findings"]] == ["pool-unused", "pool-unused", "pool-unused", "pool-unused"]
    assert (
        data["findings"][0]["message"]
        == "placement us-east pool l40s: no model runs on it; 1 node(s) kept running for nothing"
    )
