"""`load_spec(path)`: the one entry point from a YAML file to a validated `DeploymentSpec`.

Every problem (YAML syntax, duplicate keys, unknown fields, bad values, cross-field rules) becomes a
`Violation`; all of them are raised together in one `SpecError` whose text a user can act on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from inferstack.spec.models import DeploymentSpec
from inferstack.spec.values import FieldProblem, RuleViolations, Violation
from inferstack.spec.suggest import closest


class SpecError(Exception):
    """A spec that cannot be used, with every violation found."""

    def __init__(self, source: str, violations: list[Violation]):
        self.source = source
        self.violations = violations
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.violations)
        lines = [f"{self.source}: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  - {format_violation(v)}" for v in self.violations]
        return "\n".join(lines)


def format_violation(v: Violation) -> str:
    """`path = value: problem. Did you mean 'x'? Allowed: ... Fix: ...` (parts only when known)."""
    head = v.path if v.value is None else f"{v.path} = {v.value!r}"
    text = f"{head}: {v.problem}."
    if v.suggestion:
        text += f" Did you mean {v.suggestion!r}?"
    if v.allowed:
        text += f" Allowed: {v.allowed}."
    if v.hint:
        text += f" Fix: {v.hint}."
    return text


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice in one mapping instead of keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.MarkedYAMLError(
                problem=f"key {key!r} appears twice in one mapping (first on line {seen[key] + 1})",
                problem_mark=key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that owns the field at `loc` below `root`, walking nested models and lists."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = _inner_model(annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def violations_from(exc: ValidationError, root: type[BaseModel] = DeploymentSpec) -> list[Violation]:
    """Every error of a pydantic validation of `root` as user-facing violations."""
    return [v for error in exc.errors() for v in _from_pydantic(error, root)]


def _from_pydantic(error: dict[str, Any], root: type[BaseModel]) -> list[Violation]:
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, RuleViolations):
        return original.violations
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1], root)
        fields = sorted(owner.model_fields) if owner else []
        return [
            Violation(
                _path(loc),
                None,
                f"unknown field {loc[-1]!r}",
                ", ".join(fields),
                "remove it or correct its name",
                closest(loc[-1], fields),
            )
        ]
    if kind == "missing":
        return [Violation(_path(loc), None, "required field is missing", hint=f"add {loc[-1]!r}")]
    if kind in ("literal_error", "enum"):
        expected = [s.strip().strip("'") for s in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        return [
            Violation(
                _path(loc),
                error["input"],
                "not an allowed value",
                ", ".join(expected),
                suggestion=closest(error["input"], expected),
            )
        ]
    if isinstance(original, FieldProblem):
        return [
            Violation(
                _path(loc),
                error["input"],
                original.problem,
                original.allowed,
                original.hint,
                original.suggestion,
            )
        ]
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        bound = ctx[key]
        return [Violation(_path(loc), error["input"], "out of range", f"{word} {bound:g}")]
    if kind == "too_short":
        return [Violation(_path(loc), error["input"], f"needs at least {ctx['min_length']} item(s)")]
    return [Violation(_path(loc), error.get("input"), error["msg"][0].lower() + error["msg"][1:])]


_BOUNDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> None:
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("config"), str):
        config = Path(model["config"])
        model["config"] = str(config if config.is_absolute() else (base / config).resolve())


def parse_spec(data: object, source: str = "<spec>", base: Path | None = None) -> DeploymentSpec:
    """Validate already-parsed YAML/JSON data; raises SpecError."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SpecError(
            source,
            [
                Violation(
                    "(top level)",
                    None,
                    f"the spec is {kind}, not a mapping",
                    hint="start from specs/quickstart.yaml: the top level holds name, model, engine, resources, placements",
                )
            ],
        )
    _resolve_relative_paths(data, base or Path.cwd())
    try:
        return DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, violations_from(exc)) from None


def read_spec_data(path: str | Path) -> object:
    """The parsed YAML of a spec file (not yet validated); raises SpecError for unreadable files and
    invalid or ambiguous YAML."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(str(path), [Violation("(file)", str(path), "file not found", hint="check the path")]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError(
            str(path), [Violation("(file)", str(path), f"cannot read the file ({exc.__class__.__name__})")]
        ) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        raise SpecError(str(path), [Violation(where, None, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError(str(path), [Violation("(file)", None, f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError(str(path), [Violation("(file)", None, "the YAML is nested too deeply to be a spec")]) from None


def load_spec(path: str | Path) -> DeploymentSpec:
    """Read and validate a spec file; raises SpecError listing every problem found."""
    path = Path(path)
    return parse_spec(read_spec_data(path), str(path), path.parent)
