"""Load the logged reference points as specs, for the accuracy benchmark and its test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferstack.spec import DeploymentSpec, parse_spec

POINTS = Path(__file__).with_name("reference_points.yaml")
REVISION = "0" * 40  # reference points name no revision; any pinned commit serves for planning


def reference_points() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(POINTS.read_text())


def reference_spec(point: dict[str, Any]) -> DeploymentSpec:
    """A minimal spec reproducing a logged startup: same model, engine version, GPU and context."""
    return parse_spec(
        {
            "name": "reference",
            "model": {**point["model"], "revision": REVISION},
            "engine": point["engine"],
            "resources": {"gpu": point["gpu"]},
            "placements": [
                {"name": "ref", "cloud": "aws", "region": "us-east-1", "cluster": {"access": "from-inside"}}
            ],
        },
        "reference point",
    )
