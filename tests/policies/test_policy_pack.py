"""The CrossGuard wrappers, tested offline: validation arguments are built here and each policy's
validate function is called directly (the module that calls PolicyPack(...) is never imported)."""

import json

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from inferstack.compliance import RESOURCE_RULES, STACK_RULES
from inferstack.policy_pack import compliance_from_config, policies
from tests.components.harness import register_global_endpoints
from tests.conftest import ROOT
from tests.global_routes import AWS_TARGETS, aws_plan

EU = {"residency": "eu", "allowed_gpus": ["H100"], "monthly_budget": 50000}
BY_NAME = {p.name: p for p in policies()}


def _opts():
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _args(type_, props, config, provider_region=None):
    provider = (
        PolicyProviderResource("pulumi:providers:aws", {"region": provider_region}, "urn:p", "p")
        if provider_region
        else None
    )
    return ResourceValidationArgs(type_, props, f"urn:{type_}", "res", _opts(), provider, config)


def _violations(policy, args):
    found = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def test_one_policy_per_rule_with_its_enforcement_level():
    assert sorted(BY_NAME) == sorted(f"{r.id.lower()}-{r.name}" for r in RESOURCE_RULES + STACK_RULES)
    assert BY_NAME["inf001-region-lock"].enforcement_level == EnforcementLevel.MANDATORY


def test_region_lock_uses_the_provider_region_from_policy_config():
    policy = BY_NAME["inf001-region-lock"]
    efs = {"encrypted": True}
    assert _violations(policy, _args("aws:efs/fileSystem:FileSystem", efs, EU, "eu-west-1")) == []
    assert _violations(policy, _args("aws:efs/fileSystem:FileSystem", efs, EU, "us-east-1")) == [
        "region 'us-east-1' is outside the region lock; allowed: regions of residency group 'eu'. "
        "Fix: move the placement into the lock"
    ]


def test_missing_provider_region_fails_closed():
    violations = _violations(BY_NAME["inf001-region-lock"], _args("aws:efs/fileSystem:FileSystem", {}, EU))
    assert violations == [
        "region is unknown (not computed at preview); allowed: regions of residency group 'eu'. "
        "Fix: set the region explicitly on the resource or its provider"
    ]


def test_stack_policy_sums_node_groups_against_the_budget():
    node_group = PolicyResource(
        "aws:eks/nodeGroup:NodeGroup",
        {"instanceTypes": ["p5.48xlarge"], "scalingConfig": {"maxSize": 2}},
        "urn:ng",
        "ng",
        _opts(),
        None,
        None,
        [],
        {},
    )
    found = []
    BY_NAME["inf012-monthly-budget"].validate(
        StackValidationArgs([node_group], EU), lambda m, urn=None: found.append(m)
    )
    assert found == [
        "GPU capacity at max size costs 80,358 USD/month, over the budget of 50,000 USD. "
        "Fix: lower replicas.max or choose cheaper GPUs"
    ]


def test_pulumi_enforcement_level_in_config_is_ignored_by_the_rules():
    assert compliance_from_config({"enforcementLevel": "advisory", "residency": "us"}).residency == "us"


def test_config_schema_describes_the_compliance_fields():
    properties = BY_NAME["inf006-allowed-gpus"].config_schema.properties
    assert {"residency", "allowed_regions", "allowed_gpus", "monthly_budget"} <= set(properties)
    assert properties["allowed_gpus"]["type"] == "array"


def test_pack_files_and_example_config():
    assert yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["runtime"] == "python"
    example = json.loads((ROOT / "policies" / "config.example.json").read_text())
    assert set(example) == set(BY_NAME)
    assert all(compliance_from_config(c).residency == "eu" for c in example.values())


def _stack_resources(registered) -> list[PolicyResource]:
    return [PolicyResource(r.typ, r.inputs, f"urn:{r.name}", r.name, _opts(), None, None, [], {}) for r in registered]


def test_global_endpoint_residency_in_the_pack_passes_one_group_and_fails_two():
    policy = BY_NAME["inf014-global-endpoint-residency"]
    found: list[str] = []
    us = register_global_endpoints(aws_plan("weighted"), AWS_TARGETS)
    policy.validate(StackValidationArgs(_stack_resources(us), {}), lambda m, urn=None: found.append(m))
    assert found == []
    crossing = register_global_endpoints(aws_plan("failover", ("us-east", "eu")), AWS_TARGETS)
    policy.validate(StackValidationArgs(_stack_resources(crossing), {}), lambda m, urn=None: found.append(m))
    assert found == [
        "DNS name 'llama.inference.internal' routes across residency groups eu (eu-west-1), us (us-east-1); "
        "allowed: one residency group per global name. Fix: make one global endpoint per residency group"
    ]
