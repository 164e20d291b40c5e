"""Small values shared by the spec models and the rules over them: problems found, and the two
pinning predicates (commit hashes, image digests)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from inferstack.spec import patterns

_SHA1 = re.compile(patterns.COMMIT)
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}\Z")
#: Weight formats that need FP8 tensor cores.
FP8_WEIGHT_FORMATS = frozenset({"fp8", "nvfp4"})


def is_commit(revision: object) -> bool:
    """True for a full 40-hex commit hash."""
    return isinstance(revision, str) and _SHA1.fullmatch(revision) is not None


def is_pinned(image: str | None) -> bool:
    """True for an image reference that ends in a sha256 digest."""
    return bool(image) and _DIGEST.search(image) is not None


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, what was found, what is allowed, the nearest valid value, how to fix it."""

    path: str
    value: object
    problem: str
    allowed: str = ""
    hint: str = ""
    suggestion: str | None = None
    #: The cross-field rule that found it (empty for field and input problems).
    rule: str = ""


class FieldProblem(ValueError):
    """Raised by field validators; the loader turns it into a Violation at the field's path."""

    def __init__(self, problem: str, allowed: str = "", hint: str = "", suggestion: str | None = None):
        super().__init__(problem)
        self.problem, self.allowed, self.hint, self.suggestion = problem, allowed, hint, suggestion


class RuleViolations(ValueError):
    """Raised by a model validator to hand several cross-field violations to the loader."""

    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(f"{v.path}: {v.problem}" for v in violations))
        self.violations = violations


#: Longest user value shown in a message; longer ones are cut and their length given.
SHOWN_CHARS = 200


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`repr(value)` for a message, cut to `limit` characters with the full length appended."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
