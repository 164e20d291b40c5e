"""Compliance findings as text, JSON, SARIF 2.1.0 (code-review tools) and JUnit XML (CI systems)."""

from __future__ import annotations

import json
from collections import defaultdict
from xml.etree import ElementTree

from inferstack.compliance.model import RESOURCE_RULES, STACK_RULES, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rules():
    return RESOURCE_RULES + STACK_RULES


def _by_rule(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[finding.rule].append(finding)
    return grouped


def as_text(findings: list[Finding], checked: int, source: str) -> str:
    grouped = _by_rule(findings)
    lines = [f"{source}: {checked} resources checked against {len(_rules())} rules"]
    for rule in _rules():
        hits = grouped.get(rule.id, [])
        mark = "ok  " if not hits else ("FAIL" if rule.severity == "mandatory" else "warn")
        lines.append(f"{mark} {rule.id} {rule.name}" + (f" ({len(hits)})" if hits else ""))
        lines += [f"       {f.resource_type} {f.resource_name!r}: {f.message}" for f in hits]
    mandatory = sum(1 for f in findings if f.severity == "mandatory")
    lines.append(f"{mandatory} mandatory violation(s), {len(findings) - mandatory} advisory")
    return "\n".join(lines) + "\n"


def as_json(findings: list[Finding], checked: int, source: str) -> str:
    return (
        json.dumps(
            {
                "source": source,
                "resources_checked": checked,
                "passed": not any(f.severity == "mandatory" for f in findings),
                "findings": [f.__dict__ for f in findings],
            },
            indent=2,
        )
        + "\n"
    )


def as_sarif(findings: list[Finding], checked: int, source: str) -> str:
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.name},
            "fullDescription": {"text": r.description},
            "defaultConfiguration": {"level": "error" if r.severity == "mandatory" else "warning"},
        }
        for r in _rules()
    ]
    results = [
        {
            "ruleId": f.rule,
            "level": "error" if f.severity == "mandatory" else "warning",
            "message": {"text": f"{f.resource_type} {f.resource_name!r}: {f.message}"},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": source}, "region": {"startLine": 1}},
                    "logicalLocations": [
                        {
                            "name": f.resource_name,
                            "kind": "resource",
                            "fullyQualifiedName": f"{f.resource_type}::{f.resource_name}",
                        }
                    ],
                }
            ],
        }
        for f in findings
    ]
    run = {
        "tool": {
            "driver": {
                "name": "inferstack",
                "informationUri": "https://github.com/inferstack/inferstack",
                "rules": rules,
            }
        },
        "results": results,
        "properties": {"resourcesChecked": checked},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def as_junit(findings: list[Finding], checked: int, source: str) -> str:
    grouped = _by_rule(findings)
    failures = sum(1 for r in _rules() if any(f.severity == "mandatory" for f in grouped.get(r.id, [])))
    suite = ElementTree.Element(
        "testsuite", name=f"inferstack check {source}", tests=str(len(_rules())), failures=str(failures), errors="0"
    )
    for rule in _rules():
        case = ElementTree.SubElement(
            suite, "testcase", classname="inferstack.compliance", name=f"{rule.id} {rule.name}"
        )
        hits = grouped.get(rule.id, [])
        if hits:
            tag = "failure" if rule.severity == "mandatory" else "system-out"
            attributes = {"message": f"{len(hits)} violation(s)"} if tag == "failure" else {}
            element = ElementTree.SubElement(case, tag, attributes)
            element.text = "\n".join(f"{f.resource_type} {f.resource_name!r}: {f.message}" for f in hits)
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


FORMATS = {"text": as_text, "json": as_json, "sarif": as_sarif, "junit": as_junit}
