"""`inferstack check`: the compliance gate that needs no cloud account and no Pulumi CLI.

The spec is planned, the Pulumi program is run under the SDK's mocks, and every rule is evaluated on
every registered resource with the engine's own property names, as the policy pack would see them.

The policy is the spec's `compliance` section, or an organisation's policy file (`--policy`, the same
fields). A spec whose only problems are compliance violations is still built, with its compliance
rules set aside, so that every violation is reported against the resource that carries it; a spec
with any other problem is rejected as `inferstack plan` rejects it.
"""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pydantic import ValidationError

from inferstack import contract
from inferstack.compliance.model import Finding, Resource, evaluate
from inferstack.offline import Run, deploy_folder_offline, deploy_offline
from inferstack.plan import Plan, plan
from inferstack.plan.fleet import plan_fleet
from inferstack.spec import DeploymentSpec, SpecError, Violation, parse_spec
from inferstack.spec.fleet import load_fleet
from inferstack.spec.loader import read_spec_data, violations_from
from inferstack.spec.models import Compliance, Endpoint

#: Compliance fields that shape what is built (not only what is allowed); kept when set aside.
BUILD_SETTINGS = ("private_networking", "encryption")


class NotDeployable(Exception):
    """The plan (or a fleet's plan, whose blocking `messages` are given) cannot be built (no fit, no
    offering); there is nothing to check."""

    def __init__(self, plan: Plan | None, messages: list[str] | None = None):
        if messages is None:
            messages = [f.message for f in plan.findings if f.blocking] if plan is not None else []
        super().__init__("; ".join(messages))
        self.plan = plan


@dataclass(frozen=True)
class CheckResult:
    source: str
    findings: list[Finding]
    resources_checked: int

    @property
    def passed(self) -> bool:
        return not any(f.severity == "mandatory" for f in self.findings)


def load_policy(path: str | Path) -> Compliance:
    """An organisation's policy file: YAML with the fields of the spec's compliance section."""
    data = read_spec_data(path)
    if not isinstance(data, dict):
        raise SpecError(
            str(path),
            [
                Violation(
                    "(top level)",
                    None,
                    "the policy is not a mapping",
                    hint="write the fields of a spec's compliance section at the top level (residency, allowed_gpus, ...)",
                )
            ],
        )
    try:
        return Compliance.model_validate(data)
    except ValidationError as exc:
        raise SpecError(str(path), violations_from(exc, Compliance)) from None


def spec_and_policy(path: str | Path) -> tuple[DeploymentSpec, Compliance]:
    """The spec to build and the policy to judge it by (see the module docstring)."""
    path = Path(path)
    data = read_spec_data(path)
    try:
        spec = parse_spec(copy.deepcopy(data), str(path), path.parent)
        return spec, spec.compliance
    except SpecError as strict:
        if not isinstance(data, dict):
            raise
        lenient = copy.deepcopy(data)
        rules = lenient.get("compliance") or {}
        lenient["compliance"] = {k: rules[k] for k in BUILD_SETTINGS if k in rules}
        try:
            spec = parse_spec(lenient, str(path), path.parent)
            policy = Compliance.model_validate(rules)
        except (SpecError, ValueError):
            raise strict from None
        return spec, policy


def registered_resources(deployment_plan: Plan) -> list[Resource]:
    """Every resource the Pulumi program registers for a plan, with its provider's inputs."""
    _throwaway_api_keys([deployment_plan.spec.endpoint])
    return _with_providers(deploy_offline([deployment_plan]))


def _throwaway_api_keys(endpoints: list[Endpoint | None]) -> None:
    """Under mocks nothing is deployed, but the program refuses an endpoint client without a key: each
    client gets a random key here (replacing any earlier check's), which only ever reaches the mocks."""
    clients = {c.name for endpoint in endpoints if endpoint is not None for c in endpoint.clients}
    if clients:
        pulumi.runtime.set_config(
            contract.API_KEYS_CONFIG, json.dumps({c: secrets.token_urlsafe(24) for c in sorted(clients)})
        )


def _with_providers(run: Run) -> list[Resource]:
    """The resources of an offline run, each with its provider's inputs."""
    providers = {(r.typ, r.name): r.inputs for r in run.resources if r.typ.startswith("pulumi:providers:")}

    def provider_inputs(registered) -> dict:
        if not registered.provider:
            return {}
        provider_type = registered.provider.rsplit("::", 1)[0].rsplit("::", 2)[-2]
        return providers.get((provider_type, registered.provider_name), {})

    return [Resource(r.typ, r.name, r.inputs, provider_inputs(r)) for r in run.resources]


def check(path: str | Path, policy_path: str | Path | None = None) -> CheckResult:
    spec, policy = spec_and_policy(path)
    if policy_path is not None:
        policy = load_policy(policy_path)
    # The budget is judged by rule INF012 on the resources, so it must not stop the build here.
    unbudgeted = spec.model_copy(update={"compliance": spec.compliance.model_copy(update={"monthly_budget": None})})
    deployment_plan = plan(unbudgeted)
    if not deployment_plan.deployable:
        raise NotDeployable(deployment_plan)
    resources = registered_resources(deployment_plan)
    return CheckResult(str(path), evaluate(resources, policy), len(resources))


def check_fleet(path: str | Path, policy_path: str | Path | None = None) -> CheckResult:
    """`check` for a fleet folder: the platform document and every model are loaded and bound (the
    platform's own rules, each model's rules under its inherited compliance, no widening) and the fleet
    is planned (pools, quotas, team and model budgets); then the stack's program deploys the folder
    under mocks and every resource is judged by the platform's baseline (or `--policy`), a GPU
    allowing its MIG slices."""
    fleet = load_fleet(path)
    result = plan_fleet(fleet)
    blocking = [f.message for f in result.findings if f.blocking] + [
        f"{m.spec.name}: {f.message}" for m in result.models for f in m.findings if f.blocking
    ]
    if blocking:
        raise NotDeployable(None, blocking)
    policy = load_policy(policy_path) if policy_path is not None else None
    if policy is None:
        policy = fleet.platform.compliance if fleet.platform is not None else Compliance()
    platform_endpoints = [p.endpoint for p in fleet.platform.placements] if fleet.platform is not None else []
    _throwaway_api_keys([m.spec.endpoint for m in result.models] + platform_endpoints)
    resources = _with_providers(deploy_folder_offline(path))
    return CheckResult(str(path), evaluate(resources, policy), len(resources))
