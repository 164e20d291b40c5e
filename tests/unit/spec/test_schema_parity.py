"""`inferstack schema` accepts exactly what the loader accepts: for every example spec and every corpus
case that is a YAML document, a Draft 2020-12 validator on the printed schema and `parse_spec` agree,
except for the checks the schema's description names (catalog lookups and cross-field rules)."""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from inferstack.cli import app
from inferstack.spec import SpecError, parse_spec
from inferstack.spec.inputs import InputProblem, parse_yaml
from inferstack.spec.schema import CATALOG_CHECKS, not_in_schema
from tests.conftest import EXAMPLE_SPECS
from tests.unit.spec.corpus import cases, spec_bytes

SCHEMA = json.loads(CliRunner().invoke(app, ["schema"]).output)
VALIDATOR = Draft202012Validator(SCHEMA)


def _documents():
    for path in EXAMPLE_SPECS:
        yield f"example/{path.name}", yaml.safe_load(path.read_text())
    for case_id, case in cases():
        content = spec_bytes(case)
        if content is None or "config" in case or "config_hex" in case:
            continue
        try:
            data = parse_yaml(content.decode("utf-8"))
        except (InputProblem, UnicodeDecodeError):
            continue  # refused before there is a document to validate
        yield case_id, data


DOCUMENTS = list(_documents())


def _named_exception(violation, data) -> bool:
    """A loader problem the schema's description says it does not check."""
    if violation.rule:
        return violation.rule in not_in_schema()
    path = re.sub(r"\[\d+\]", "[*]", violation.path)
    if any(path == p or path.startswith(p + "[") for p in CATALOG_CHECKS):
        return True
    value = violation.value
    # infinity/NaN, or 8192.0 for an integer: named in the description
    return isinstance(value, float) and (not math.isfinite(value) or value.is_integer())


def test_the_description_names_what_the_schema_leaves_to_the_loader():
    description = SCHEMA["description"]
    for name in not_in_schema():
        assert name in description
    assert "infinity and NaN" in description


def test_there_are_enough_documents():
    assert len(DOCUMENTS) >= 150


@pytest.mark.parametrize(("case_id", "data"), DOCUMENTS, ids=[c for c, _ in DOCUMENTS])
def test_schema_and_loader_agree(case_id, data):
    schema_ok = VALIDATOR.is_valid(data)
    try:
        parse_spec(copy.deepcopy(data), "spec.yaml")
        violations = []
    except SpecError as exc:
        violations = exc.violations
    if not violations:
        assert schema_ok, [e.message[:200] for e in VALIDATOR.iter_errors(data)]
    elif schema_ok:
        unexplained = [v for v in violations if not _named_exception(v, data)]
        assert not unexplained, f"the schema accepts what the loader refuses: {unexplained}"
    else:
        assert violations  # both refuse


def test_shorthands_and_patterns_are_in_the_schema():
    gpu = SCHEMA["$defs"]["Resources"]["properties"]["gpu"]["anyOf"]
    assert {"$ref": "#/$defs/GpuRequest"} in gpu
    assert VALIDATOR.is_valid(yaml.safe_load(EXAMPLE_SPECS[0].read_text()))
    name = SCHEMA["properties"]["name"]["pattern"]
    assert re.search(name, "quickstart") and not re.search(name, "quickstart\n")
