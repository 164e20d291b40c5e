"""What compliance rules see and say: a resource (type token, name, inputs, its provider's inputs),
a finding, and the rule registry. Inputs use the engine's camelCase property names, as both Pulumi
mocks and CrossGuard policies receive them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from inferstack.spec.models import Compliance

Severity = Literal["mandatory", "advisory"]
#: How the Pulumi engine marks a value that is not known until apply.
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    provider_inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]

    def get(self, *path: str | int) -> Any:
        """A nested input by path; None when any step is missing."""
        value: Any = self.inputs
        for step in path:
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and len(value) > step else None
            else:
                value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                return None
        return value


def is_unknown(value: Any) -> bool:
    """Missing, empty, or not computed until apply: rules treat all of these as violations."""
    return value is None or value == UNKNOWN_SENTINEL or value == ""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    resource_type: str
    resource_name: str
    message: str


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    description: str
    severity: Severity
    types: tuple[str, ...]
    check: Callable[[Resource, Compliance], Iterable[str]]

    def applies_to(self, resource: Resource) -> bool:
        return any(resource.type == t or (t.endswith("*") and resource.type.startswith(t[:-1])) for t in self.types)

    def evaluate(self, resource: Resource, policy: Compliance) -> Iterator[Finding]:
        if not self.applies_to(resource):
            return
        for message in self.check(resource, policy):
            yield Finding(self.id, self.severity, resource.type, resource.name, message)


@dataclass(frozen=True)
class StackRule:
    id: str
    name: str
    description: str
    severity: Severity
    check: Callable[[list[Resource], Compliance], Iterable[tuple[Resource | None, str]]]

    def evaluate(self, resources: list[Resource], policy: Compliance) -> Iterator[Finding]:
        for resource, message in self.check(resources, policy):
            yield Finding(
                self.id,
                self.severity,
                resource.type if resource else "stack",
                resource.name if resource else "stack",
                message,
            )


RESOURCE_RULES: list[Rule] = []
STACK_RULES: list[StackRule] = []


def resource_rule(
    id: str,
    name: str,
    description: str,
    types: tuple[str, ...],
    severity: Severity = "mandatory",
):
    def register(fn: Callable[[Resource, Compliance], Iterable[str]]) -> Rule:
        rule = Rule(id, name, description, severity, types, fn)
        RESOURCE_RULES.append(rule)
        return rule

    return register


def stack_rule(id: str, name: str, description: str, severity: Severity = "mandatory"):
    def register(fn) -> StackRule:
        rule = StackRule(id, name, description, severity, fn)
        STACK_RULES.append(rule)
        return rule

    return register


def evaluate(resources: list[Resource], policy: Compliance) -> list[Finding]:
    """Every rule on every resource, then the stack rules; in a stable order."""
    findings = [f for r in resources for rule in RESOURCE_RULES for f in rule.evaluate(r, policy)]
    findings += [f for rule in STACK_RULES for f in rule.evaluate(resources, policy)]
    return findings
