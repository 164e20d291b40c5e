"""The spec's JSON Schema, as `inferstack schema` prints it: the pydantic schema of `DeploymentSpec`
plus what the loader accepts beyond the models' own shapes (the `gpu: L4:1` and `name=source`
shorthands), with the full-match patterns of `spec.patterns` on every constrained string.

The schema accepts exactly what the loader's field validation accepts, except the checks listed in
`NOT_IN_SCHEMA`, which need the catalog or several fields at once; its top-level description names
them, and tests/unit/spec/test_schema_parity.py holds the schema and the loader to that.
"""

from __future__ import annotations

from typing import Any

from inferstack.spec import patterns
from inferstack.spec.models import GPU_SHORTHAND, DeploymentSpec
from inferstack.spec.patterns import anchored
from inferstack.spec.platform import PlatformSpec
from inferstack.spec.rules import PLACEMENT_RULES, RULES

#: Field checks JSON Schema cannot state: catalog lookups (the schema only constrains their shape),
#: address ranges, unique adapter names. `[*]` stands for any list index.
CATALOG_CHECKS = {
    "resources.gpu.sku": "a GPU SKU of the catalog (aliases accepted)",
    "compliance.allowed_gpus": "GPU SKUs of the catalog",
    "compliance.residency": "a residency group of the catalog",
    "placements[*].cluster.operator_cidrs": "valid CIDR address ranges",
    "model.lora_adapters": "adapter names unique",
}


def not_in_schema() -> list[str]:
    """Names of the checks the schema does not express: catalog lookups and cross-field rules."""
    rules = [r.__name__ for r in RULES if r.__name__ != "placements_valid"] + [r.__name__ for r in PLACEMENT_RULES]
    return [f"{path} ({what})" for path, what in CATALOG_CHECKS.items()] + rules


def spec_schema() -> dict[str, Any]:
    schema = DeploymentSpec.model_json_schema()
    defs = schema["$defs"]
    gpu = defs["Resources"]["properties"]["gpu"]
    description = gpu.get("description")
    defs["Resources"]["properties"]["gpu"] = {
        "anyOf": [{"$ref": "#/$defs/GpuRequest"}, {"type": "string", "pattern": anchored(GPU_SHORTHAND)}],
        "description": description,
    }
    adapters = defs["Model"]["properties"]["lora_adapters"]
    adapters["items"] = {
        "anyOf": [
            {"$ref": "#/$defs/LoraAdapter"},
            {
                "type": "string",
                "pattern": anchored(f"{patterns.NAME}={patterns.ADAPTER_SOURCE}"),
                "maxLength": 41 + patterns.MAX_SOURCE,
            },
        ]
    }
    _label_map(defs["Cluster"]["properties"]["gpu_node_labels"])
    schema["description"] = (
        f"{schema.get('description', '')} Checked by `inferstack plan` but not by this schema (they need the "
        "catalog or several fields at once): " + "; ".join(not_in_schema()) + ". Also refused by the loader: "
        "infinity and NaN (not JSON numbers), integers written with a decimal point such as 8192.0 (JSON Schema "
        "counts them as integers), and YAML that is not one plain document (aliases beyond limits, merge keys, "
        "tags, non-string keys)."
    ).strip()
    return schema


def _label_map(labels: dict[str, Any]) -> None:
    """A label map as JSON Schema states it: key pattern as `propertyNames`, values as `additionalProperties`."""
    ((key_pattern, value_schema),) = labels.pop("patternProperties").items()
    labels["propertyNames"] = {"pattern": key_pattern, "maxLength": 253}
    labels["additionalProperties"] = value_schema


#: What the platform schema cannot state: catalog look-ups and the rules over the whole document.
PLATFORM_NOT_IN_SCHEMA = (
    "placements[*].gpu_pools[*].gpu (a GPU SKU of the catalog, aliases accepted)",
    "placements[*].gpu_pools[*].mig (a MIG profile of the pool's GPU, catalog/data/mig.yaml)",
    "placements[*].gpu_pools[*] (a node type the catalog offers in the region; gpus_per_node required and "
    "instance_type refused on existing clusters; min_nodes <= max_nodes)",
    "compliance.allowed_gpus, compliance.residency (catalog values)",
    "unique team, placement and pool names; placement names other than dashboards, rules, models; networks that do "
    "not overlap; every placement and pool inside the compliance baseline",
)


def platform_schema() -> dict[str, Any]:
    """The platform document's JSON Schema (`inferstack schema --platform`)."""
    schema = PlatformSpec.model_json_schema()
    defs = schema["$defs"]
    _label_map(defs["Cluster"]["properties"]["gpu_node_labels"])
    _label_map(defs["GpuPool"]["properties"]["node_labels"])
    schema["description"] = (
        f"{schema.get('description', '')} Checked by `inferstack plan DIR` but not by this schema: "
        + "; ".join(PLATFORM_NOT_IN_SCHEMA)
        + ". Model specs attach with placements[] = {platform, placement, pool, replicas}."
    ).strip()
    return schema
