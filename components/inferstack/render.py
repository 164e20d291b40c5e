"""Write a plan's objects to files: one folder per placement, one YAML file per object, plus the
plan report. Output is deterministic: the same spec gives byte-identical files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from inferstack.kube import placement_objects
from inferstack.monitoring import engine_dashboard, fleet_dashboard, gpu_dashboard, placement_monitoring, rules_file
from inferstack.plan import Plan


class _Dumper(yaml.SafeDumper):
    """Block-style YAML, no anchors or aliases, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(obj: object) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def file_name(index: int, obj: dict) -> str:
    return f"{index:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


MANIFEST = ".inferstack-render.json"


def _remove_stale(out: Path, written: list[Path]) -> None:
    """Delete what the previous render into `out` wrote and this one did not (renamed or removed
    objects and placements), so `kubectl apply -R` never re-applies them. Other files are kept."""
    manifest = out / MANIFEST
    previous = json.loads(manifest.read_text()) if manifest.is_file() else []
    current = {str(p.relative_to(out)) for p in written}
    for relative in sorted(set(previous) - current):
        stale = out / relative
        if stale.is_file():
            stale.unlink()
        folder = stale.parent
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    manifest.write_text(json.dumps(sorted(current), indent=1) + "\n")


def render(plan: Plan, out: Path, progress: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Write every object of every placement under `out`, then the dashboards as JSON, the alert rules
    as a plain Prometheus rule file (for promtool), and the plan report; returns the files written.
    Files an earlier render wrote that this one does not are removed (see `_remove_stale`)."""
    from inferstack.report import plan_text

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for placement in plan.placements:
        progress(placement.name)
        folder = out / placement.name
        folder.mkdir(exist_ok=True)
        objects = placement_objects(plan, placement) + placement_monitoring(plan, placement.name)
        for index, obj in enumerate(objects, start=1):
            path = folder / file_name(index, obj)
            path.write_text(to_yaml(obj))
            written.append(path)
    extras = {
        f"dashboards/{plan.spec.name}-engine.json": json.dumps(engine_dashboard(plan), indent=2, sort_keys=True) + "\n",
        "dashboards/gpu.json": json.dumps(gpu_dashboard(), indent=2, sort_keys=True) + "\n",
        "dashboards/fleet.json": json.dumps(fleet_dashboard([plan]), indent=2, sort_keys=True) + "\n",
        f"rules/{plan.spec.name}.rules.yaml": to_yaml(rules_file(plan)),
    }
    for relative, text in extras.items():
        path = out / relative
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        written.append(path)
    report_json = out / "plan.json"
    report_json.write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    report_text = out / "plan.txt"
    report_text.write_text(plan_text(plan))
    written += [report_json, report_text]
    _remove_stale(out, written)
    return written
