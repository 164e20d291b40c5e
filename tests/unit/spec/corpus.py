"""The bad-input corpus: cases in tests/unit/spec/corpus/*.yaml, one file per category.

A case names a base spec from specs/ (`base`, default quickstart) and changes to it, or gives the whole
file. Keys:

* `set`: {path: value}, where a path is dotted, list indexes too (`placements.0.zones`); an index one
  past the end appends. `raw`: {path: "yes"} sets a plain (unquoted) YAML scalar. `delete`: [path, ...].
* `text`: the spec file's text instead of a base (`repeat: {marker: n}` expands `marker` n times);
  `hex`: its bytes, hex-encoded.
* `config` (or `config_hex`, its bytes): text of `config.json`, written beside the spec (the spec names it as model.config).
* `policy`: text of `policy.yaml`; the command becomes `check spec.yaml --policy policy.yaml`.
* `special`: a file the test makes (see `test_corpus.SPECIAL`); `path`: the path argument to use.
* `args`: the command line (default `plan spec.yaml`).
* `first`: the exact first line of the output; `line`: the exact problem line (without "  - ").
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import SPECS

CORPUS = Path(__file__).parent / "corpus"
#: Special files that stand in place of spec.yaml itself.
SPEC_SPECIALS = {"fifo", "dir", "symlink-loop", "through-file", "big"}
_STEP = re.compile(r"[^.]+")


def cases() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            found.append((f"{path.stem}/{case['id']}", case))
    return found


def _steps(path: str) -> list[str | int]:
    return [int(step) if step.isdigit() else step for step in _STEP.findall(path)]


def _set(data: Any, path: str, value: Any) -> None:
    steps = _steps(path)
    for step in steps[:-1]:
        if isinstance(data, dict) and step not in data:
            data[step] = {}
        data = data[step]
    last = steps[-1]
    if isinstance(data, list) and last == len(data):
        data.append(value)
    else:
        data[last] = value


def _delete(data: Any, path: str) -> None:
    steps = _steps(path)
    for step in steps[:-1]:
        data = data[step]
    del data[steps[-1]]


def _repeated(case: dict[str, Any], text: str) -> str:
    for marker, count in (case.get("repeat") or {}).items():
        text = text.replace(marker, marker * count)
    return text


def spec_data(case: dict[str, Any]) -> Any:
    """The spec document of a case that changes a base spec (None for raw-text cases)."""
    if "text" in case or "hex" in case or case.get("special") in SPEC_SPECIALS:
        return None
    data = yaml.safe_load((SPECS / f"{case.get('base', 'quickstart')}.yaml").read_text())
    for path in case.get("delete", []):
        _delete(data, path)
    for path, value in (case.get("set") or {}).items():
        _set(data, path, _repeated(case, value) if isinstance(value, str) else copy.deepcopy(value))
    return data


def spec_bytes(case: dict[str, Any]) -> bytes | None:
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    if "text" in case:
        return _repeated(case, case["text"]).encode()
    data = spec_data(case)
    if data is None:
        return None
    raw = dict(case.get("raw") or {})
    for n, path in enumerate(raw):
        _set(data, path, f"@@RAW{n}@@")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
    for n, value in enumerate(raw.values()):
        text = text.replace(f"'@@RAW{n}@@'", value).replace(f"@@RAW{n}@@", value)
    return text.encode()


def write_files(case: dict[str, Any], folder: Path) -> list[str]:
    """Write the case's files into `folder` (the working directory) and return the CLI arguments."""
    content = spec_bytes(case)
    if content is not None:
        (folder / "spec.yaml").write_bytes(content)
    if "config" in case:
        (folder / "config.json").write_text(_repeated(case, case["config"]))
    if "config_hex" in case:
        (folder / "config.json").write_bytes(bytes.fromhex(case["config_hex"]))
    if "policy" in case:
        (folder / "policy.yaml").write_text(case["policy"])
        return ["check", "spec.yaml", "--policy", "policy.yaml"]
    return list(case.get("args", ["plan", case.get("path", "spec.yaml")]))
