"""Fleet folders for tests: the example `specs/fleet/` copied to a temporary folder with changes
merged into its documents (as `tests.conftest.spec_variant` does for one spec)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import SPECS, _merge

FLEET = SPECS / "fleet"


def fleet_folder(where: Path, changes: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """`specs/fleet` written to `where`, each file's document merged with `changes[file name]`
    (a dict; None removes the file; a file not in the example is added), files in `drop` left out."""
    changes = copy.deepcopy(changes or {})
    where.mkdir(parents=True, exist_ok=True)
    for source in sorted(FLEET.glob("*.yaml")):
        if source.name in drop:
            continue
        data = yaml.safe_load(source.read_text())
        if source.name in changes:
            change = changes.pop(source.name)
            if change is None:
                continue
            _merge(data, change)
        (where / source.name).write_text(yaml.safe_dump(data, sort_keys=False))
    for name, data in changes.items():
        (where / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return where


def example(name: str) -> dict[str, Any]:
    """One document of the example folder, parsed."""
    return yaml.safe_load((FLEET / name).read_text())
