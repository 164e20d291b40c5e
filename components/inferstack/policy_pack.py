"""CrossGuard wrappers: the compliance rules as Pulumi policies, configured through policy config.

`policies()` is what `policies/__main__.py` hands to `PolicyPack(...)`; this module never builds the
pack itself, so tests can import it and call each policy's `validate` with arguments they build.
Each policy takes the same config: the fields of the spec's `compliance` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from inferstack.compliance import RESOURCE_RULES, STACK_RULES, Resource, Rule, StackRule
from inferstack.spec.models import Compliance

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def config_schema() -> PolicyConfigSchema:
    """JSON schema of a policy's config: the spec's compliance fields (all optional)."""
    schema = Compliance.model_json_schema()
    properties = {name: {k: v for k, v in prop.items() if k != "title"} for name, prop in schema["properties"].items()}
    return PolicyConfigSchema(properties=properties)


def compliance_from_config(config: Mapping[str, Any] | None) -> Compliance:
    """The rule settings from policy config (Pulumi adds `enforcementLevel`; it is not ours)."""
    return Compliance.model_validate({k: v for k, v in (config or {}).items() if k != "enforcementLevel"})


def _provider_inputs(provider: Any) -> dict[str, Any]:
    return dict(provider.props) if provider is not None and getattr(provider, "props", None) else {}


def resource_from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(args.resource_type, args.name, dict(args.props), _provider_inputs(args.provider))


def _name(rule: Rule | StackRule) -> str:
    return f"{rule.id.lower()}-{rule.name}"


def resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation) -> None:
        for finding in rule.evaluate(resource_from_args(args), compliance_from_config(args.get_config())):
            report_violation(finding.message, None)

    return ResourceValidationPolicy(
        name=_name(rule),
        description=rule.description,
        validate=validate,
        enforcement_level=LEVELS[rule.severity],
        config_schema=config_schema(),
    )


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation) -> None:
        resources = [
            Resource(r.resource_type, r.name, dict(r.props), _provider_inputs(r.provider)) for r in args.resources
        ]
        for finding in rule.evaluate(resources, compliance_from_config(args.get_config())):
            report_violation(finding.message, None)

    return StackValidationPolicy(
        name=_name(rule),
        description=rule.description,
        validate=validate,
        enforcement_level=LEVELS[rule.severity],
        config_schema=config_schema(),
    )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [resource_policy(r) for r in RESOURCE_RULES] + [stack_policy(r) for r in STACK_RULES]
