"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLE_SPECS = sorted(SPECS.glob("*.yaml"))


def spec_variant(source: str | Path, changes: dict[str, Any]):
    """A spec built through the validating loader: the example `source` (a name in specs/ or a path)
    with `changes` merged into its YAML document (nested dicts merge; lists and values replace;
    `placements` may be given as {index: {...}} to change single placements). Never `model_copy`,
    which skips validation."""
    from inferstack.spec import parse_spec

    path = Path(source) if Path(source).suffix else SPECS / f"{source}.yaml"
    data = yaml.safe_load(path.read_text())
    _merge(data, copy.deepcopy(changes))
    return parse_spec(data, str(path), path.parent)


def engine_variant(source: str | Path, engine: str):
    """The example served by another engine, with what that engine cannot do turned off (load-time
    quantization, autoscaling on a signal it does not export), built through the validating loader."""
    from inferstack import catalog

    capabilities = catalog.engine_capabilities()[engine]
    base = spec_variant(source, {})
    changes: dict[str, Any] = {"engine": {"name": engine}}
    if base.engine.quantization not in (None, *capabilities.quantizations):
        changes["engine"]["quantization"] = None
    if base.autoscaling.signal not in capabilities.scaling_signals:
        changes["autoscaling"] = {"enabled": False}
    return spec_variant(source, changes)


def _merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        current = into.get(key)
        if isinstance(current, list) and isinstance(value, dict):
            for index, change in value.items():
                _merge(current[index], change)
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        else:
            into[key] = value
