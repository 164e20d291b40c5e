"""Every problem at once: cross-field rules run on the fields that did validate.

When some fields are invalid, pydantic never builds the spec, so its model validator (the cross-field
rules) never runs. Here the broken values are replaced by placeholders (or their defaults) so a spec
can be built without rules, and each rule then reads it through a `View` that raises `Broken` the
moment it touches a field that failed (or a placeholder). A rule is skipped from that point; what it
reported before it touched a broken field stands, since it depended on valid fields only.
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from inferstack.spec.values import Violation

#: Values that let a model build where a required field is broken (rules never read them: the View
#: refuses every path listed as broken). `[*]` stands for any list index.
_PLACEHOLDERS: dict[str, Any] = {
    "name": "placeholder",
    "model": {"source": "s3://placeholder/x"},
    "model.source": "s3://placeholder/x",
    "model.lora_adapters[*]": {"name": "placeholder", "source": "s3://placeholder/x"},
    "model.lora_adapters[*].name": "placeholder",
    "model.lora_adapters[*].source": "s3://placeholder/x",
    "engine": {"name": "vllm", "version": "0.0.0"},
    "engine.name": "vllm",
    "engine.version": "0.0.0",
    "resources": {"gpu": "H100"},
    "resources.gpu": "H100",
    "resources.gpu.sku": "H100",
    "placements": [{"name": "placeholder", "cloud": "gcp", "region": "us-central1"}],
    "placements[*]": {"name": "placeholder", "cloud": "gcp", "region": "us-central1"},
    "placements[*].name": "placeholder",
    "placements[*].cloud": "gcp",
    "placements[*].region": "us-central1",
    "workload": None,
    "workload.peak_requests_per_s": 1.0,
    "workload.prompt_tokens": 1,
    "workload.output_tokens": 1,
}
_ROUNDS = 6


class Broken(Exception):
    """A rule read a field that did not validate."""


def path_of(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pattern(loc: tuple[Any, ...]) -> str:
    """`loc` as a path with every list index written `[*]`."""
    out = ""
    for part in loc:
        out += "[*]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _inside(path: str, outer: str) -> bool:
    """True when `path` is `outer` or a field or item below it."""
    return path == outer or path.startswith(outer + ".") or path.startswith(outer + "[")


def _repair(data: Any, loc: tuple[Any, ...]) -> tuple[Any, str] | None:
    """Replace the value at `loc` (or the nearest container above it that cannot hold it) by a
    placeholder or its default; the new data and the path now broken, or None if nothing can be done."""
    if not loc:
        return None
    parent: Any = data
    for depth, part in enumerate(loc[:-1]):
        child = parent[part] if _has(parent, part) else None
        if not isinstance(child, dict | list):
            return _replace(data, loc[: depth + 1])
        parent = child
    return _replace(data, loc)


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container)


def _replace(data: Any, loc: tuple[Any, ...]) -> tuple[Any, str] | None:
    parent: Any = data
    for part in loc[:-1]:
        parent = parent[part]
    key, pattern = loc[-1], _pattern(loc)
    if pattern in _PLACEHOLDERS:
        value = copy.deepcopy(_PLACEHOLDERS[pattern])
        if value is None and isinstance(parent, dict):
            parent.pop(key, None)
        elif isinstance(parent, dict) or _has(parent, key):
            parent[key] = value
        else:
            return None
        return data, path_of(loc)
    if isinstance(parent, dict) and key in parent:
        del parent[key]  # its default
        return data, path_of(loc)
    if len(loc) > 1:
        return _replace(data, loc[:-1])
    return None


def build_without_rules(model: type[BaseModel], data: dict, errors: Sequence[Any]) -> tuple[BaseModel, set[str]] | None:
    """The spec built with every failing field replaced, and the paths that failed; None when it
    cannot be built (then only the field errors are reported)."""
    data = copy.deepcopy(data)
    broken: set[str] = set()
    for _ in range(_ROUNDS):
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden":
                repaired = _drop(data, loc)
            else:
                repaired = _repair(data, loc)
                if repaired is not None:
                    broken.add(repaired[1])
            if repaired is None:
                return None
            data = repaired[0]
        try:
            return model.model_validate(data, context={"rules": False}), broken
        except ValidationError as exc:
            errors = exc.errors()
        except (TypeError, ValueError, KeyError, IndexError):
            return None
    return None


def _drop(data: Any, loc: tuple[Any, ...]) -> tuple[Any, str] | None:
    parent: Any = data
    for part in loc[:-1]:
        if not _has(parent, part):
            return data, path_of(loc)
        parent = parent[part]
    if isinstance(parent, dict):
        parent.pop(loc[-1], None)
    return data, path_of(loc)


class View:
    """Read-only stand-in for a spec model that raises `Broken` on a field that failed validation;
    properties and methods run against the view, so their reads are checked too."""

    __slots__ = ("_broken", "_obj", "_path")

    def __init__(self, obj: BaseModel, path: str, broken: frozenset[str]):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_broken", broken)

    def __getattr__(self, name: str) -> Any:
        obj, path, broken = self._obj, self._path, self._broken
        static = inspect.getattr_static(type(obj), name, None)
        if isinstance(static, property):
            return static.fget(self)  # type: ignore[misc]
        if inspect.isfunction(static):
            return types.MethodType(static, self)
        return _wrap(getattr(obj, name), f"{path}.{name}" if path else name, broken)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("spec views are read-only")


class _ListView:
    __slots__ = ("_broken", "_items", "_path")

    def __init__(self, items: list, path: str, broken: frozenset[str]):
        self._items, self._path, self._broken = items, path, broken

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __getitem__(self, index: int) -> Any:
        return _wrap(self._items[index], f"{self._path}[{index % len(self._items)}]", self._broken)

    def __iter__(self) -> Iterator[Any]:
        for index, item in enumerate(self._items):
            yield _wrap(item, f"{self._path}[{index}]", self._broken)


def _wrap(value: Any, path: str, broken: frozenset[str]) -> Any:
    if any(_inside(path, b) for b in broken):
        raise Broken(path)
    if isinstance(value, BaseModel):
        return View(value, path, broken)
    if isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
        return _ListView(value, path, broken)
    if any(_inside(b, path) for b in broken):
        raise Broken(path)
    return value


def view(spec: BaseModel, broken: set[str]) -> Any:
    return View(spec, "", frozenset(broken))


def run_guarded(rule: Any, *args: Any) -> Iterator[Violation]:
    """The violations a rule reports until it reads a broken field."""
    try:
        yield from rule(*args)
    except Broken:
        return
