"""Compliance rules written once, as pure functions over resources, used in three places: spec
validation (the rules judged from the spec alone, in `inferstack.spec.rules`), `inferstack check`
(the Pulumi program run under mocks, every registered resource evaluated) and the CrossGuard policy
pack in `policies/` (the same functions on the engine's resource arguments)."""

from inferstack.compliance import rules as _rules  # noqa: F401  (registers the rules)
from inferstack.compliance.model import (
    RESOURCE_RULES,
    STACK_RULES,
    UNKNOWN_SENTINEL,
    Finding,
    Resource,
    Rule,
    StackRule,
    evaluate,
    is_unknown,
)

__all__ = [
    "RESOURCE_RULES",
    "STACK_RULES",
    "UNKNOWN_SENTINEL",
    "Finding",
    "Resource",
    "Rule",
    "StackRule",
    "evaluate",
    "is_unknown",
]
