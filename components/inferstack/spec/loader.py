"""`load_spec(path)`: the one entry point from a YAML file to a validated `DeploymentSpec`.

Files and YAML text go through the input boundary (`spec.inputs`: regular files only, size, depth and
alias limits, one document, string keys, UTF-8). Every problem (unreadable file, YAML, unknown
fields, bad values, cross-field rules) becomes a `Violation`; all of them are raised together in one
`SpecError` whose text a user can act on. Cross-field rules run even when some fields are invalid,
on the fields that did validate (`spec.partial`), so one run reports every problem it can.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from inferstack.spec import inputs
from inferstack.spec.inputs import InputProblem
from inferstack.spec.models import DeploymentSpec
from inferstack.spec.partial import build_without_rules, view
from inferstack.spec.platform import PlatformSpec
from inferstack.spec.rules import spec_violations
from inferstack.spec.suggest import closest
from inferstack.spec.values import FieldProblem, RuleViolations, Violation, shown

#: Most problems printed; the rest are counted (a list of 10,000 bad zones is one mistake).
MAX_SHOWN_PROBLEMS = 20
#: Longest `Allowed:` text printed.
MAX_ALLOWED_CHARS = 600


class SpecError(Exception):
    """A spec that cannot be used, with every violation found."""

    def __init__(self, source: str, violations: list[Violation]):
        self.source = source
        self.violations = violations
        super().__init__(self.render())

    def render(self) -> str:
        """Plain text (never markup): the source, then one line per problem, at most
        `MAX_SHOWN_PROBLEMS` of them, each user value cut to a readable length."""
        count = len(self.violations)
        lines = [f"{_cut(self.source)}: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  - {format_violation(v)}" for v in self.violations[:MAX_SHOWN_PROBLEMS]]
        if count > MAX_SHOWN_PROBLEMS:
            lines.append(f"  ... and {count - MAX_SHOWN_PROBLEMS} more problems: fix these first")
        return "\n".join(lines)


def _cut(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters; quoted with escapes when it holds a control character, so a
    file name or key can never start a new line of the message."""
    if not text.isprintable():
        return shown(text, limit)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def format_violation(v: Violation) -> str:
    """`path = value: problem. Did you mean 'x'? Allowed: ... Fix: ...` (parts only when known);
    user values longer than 200 characters are cut and their length given."""
    head = _cut(v.path) if v.value is None else f"{_cut(v.path)} = {shown(v.value)}"
    text = f"{head}: {_cut(v.problem, 400)}."
    if v.suggestion:
        text += f" Did you mean {shown(v.suggestion)}?"
    if v.allowed:
        text += f" Allowed: {_cut(v.allowed, MAX_ALLOWED_CHARS)}."
    if v.hint:
        text += f" Fix: {_cut(v.hint, 400)}."
    return text


def _path(loc: tuple[Any, ...]) -> str:
    loc = tuple(_cut(p, 80) if isinstance(p, str) else p for p in loc)
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
    return [v for error in exc.errors() for v in _from_pydantic(dict(error), root)]


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
                f"unknown field {shown(loc[-1], 80)}",
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
        shown_bound = f"{bound:,}" if isinstance(bound, int) and abs(bound) >= 10_000 else f"{bound:g}"
        return [Violation(_path(loc), error["input"], "out of range", f"{word} {shown_bound}")]
    if kind == "finite_number":
        return [
            Violation(_path(loc), error["input"], "not a finite number", hint="write a decimal number, not nan or inf")
        ]
    if kind == "too_short":
        return [Violation(_path(loc), error["input"], f"needs at least {ctx['min_length']} item(s)")]
    if kind == "too_long":
        return [Violation(_path(loc), error["input"], f"more than {ctx['max_length']} items")]
    if kind == "bool_type":
        return [
            Violation(_path(loc), error.get("input"), "not a boolean", "true or false", "write true or false, unquoted")
        ]
    if kind in ("int_type", "int_from_float") and isinstance(error.get("input"), bool):
        return [
            Violation(
                _path(loc), error["input"], "input should be a valid integer", hint="write a number, not true or false"
            )
        ]
    if kind == "float_type" and isinstance(error.get("input"), bool):
        return [
            Violation(
                _path(loc), error["input"], "input should be a valid number", hint="write a number, not true or false"
            )
        ]
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
        # absolute without touching the file system: resolving a symbolic-link loop would raise here,
        # before the input boundary can report it
        model["config"] = os.path.abspath(os.path.join(base, model["config"]))


def parse_spec(data: object, source: str = "<spec>", base: Path | None = None) -> DeploymentSpec:
    """Validate already-parsed YAML/JSON data; raises SpecError."""
    if not isinstance(data, dict):
        kinds = {str: "text", bool: "a boolean", int: "a number", float: "a number", list: "a list"}
        kind = "empty" if data is None else kinds.get(type(data), f"a {type(data).__name__}")
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
        raise SpecError(source, validation_violations(exc, data)) from None


def validation_violations(exc: ValidationError, data: dict) -> list[Violation]:
    """The field errors of a failed validation, then every cross-field rule that does not read a
    failed field (when the fields were valid, the errors are already the rules' violations)."""
    errors = exc.errors()
    found = violations_from(exc)
    if any(isinstance((e.get("ctx") or {}).get("error"), RuleViolations) for e in errors):
        return found
    built = build_without_rules(DeploymentSpec, data, errors)
    if built is None:
        return found
    spec, broken = built
    return found + spec_violations(view(spec, broken))


def _source(path: str | Path) -> str:
    return str(path)  # cut once, when rendered


def _input_error(source: str, path: str | Path | None, problem: InputProblem) -> SpecError:
    value = None if path is None or problem.where != "(file)" else str(path)
    return SpecError(source, [Violation(problem.where, value, problem.problem, hint=problem.hint)])


def read_spec_data(path: str | Path, limit: int = inputs.MAX_SPEC_BYTES) -> object:
    """The parsed YAML of a spec (or policy) file, not yet validated; raises SpecError for unreadable
    files and invalid or ambiguous YAML (see `spec.inputs`)."""
    try:
        return inputs.parse_yaml(inputs.read_text(path, limit))
    except InputProblem as problem:
        raise _input_error(_source(path), path, problem) from None


def parse_spec_text(text: str, source: str = "<spec>", base: Path | None = None) -> DeploymentSpec:
    """Validate a spec given as YAML text (the component's `specYaml`) through the same bounded
    parser as files; raises SpecError."""
    if len(text.encode("utf-8", "surrogatepass")) > inputs.MAX_SPEC_BYTES:
        raise SpecError(
            source,
            [Violation("(text)", None, f"the spec is more than the {inputs.MAX_SPEC_BYTES // 1048576} MiB limit")],
        )
    try:
        data = inputs.parse_yaml(text)
    except InputProblem as problem:
        raise _input_error(source, None, problem) from None
    return parse_spec(data, source, base)


def load_spec(path: str | Path) -> DeploymentSpec:
    """Read and validate a spec file; raises SpecError listing every problem found."""
    path = Path(path)
    return parse_spec(read_spec_data(path), _source(path), path.parent)


def parse_platform(data: object, source: str = "<platform>") -> PlatformSpec:
    """Validate an already-parsed platform document (`kind: Platform`); raises SpecError."""
    if not isinstance(data, dict):
        raise SpecError(
            source,
            [
                Violation(
                    "(top level)",
                    None,
                    "the platform document is not a mapping",
                    hint="start from specs/fleet/platform.yaml: the top level holds kind, name, teams, placements",
                )
            ],
        )
    try:
        return PlatformSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, violations_from(exc, PlatformSpec)) from None
