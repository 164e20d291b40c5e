"""INF011 allows exactly one root container: the one that hands an NFS share to the serving UID. Any
other command, capability or escalation under root is still a violation."""

from __future__ import annotations

import copy

import pytest

from inferstack.compliance import Resource, evaluate
from inferstack.spec.models import Compliance

OWNER = {
    "name": "chown",
    "image": "python:3.12-slim@sha256:" + "a" * 64,
    "command": ["chown", "10001:10001", "/share"],
    "securityContext": {
        "runAsUser": 0,
        "runAsNonRoot": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
}


def _job(container: dict) -> Resource:
    spec = {"automountServiceAccountToken": False, "containers": [container], "volumes": []}
    return Resource("kubernetes:batch/v1:Job", "owner", {"spec": {"template": {"spec": spec}}})


def _inf011(resource: Resource) -> list[str]:
    return [f.message for f in evaluate([resource], Compliance()) if f.rule == "INF011"]


def test_the_share_owner_shape_passes():
    assert _inf011(_job(OWNER)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"command": ["sh", "-c", "chown 10001:10001 /share"]},
        {"command": ["chown", "-R", "0:0", "/share"]},
        {"args": ["/etc"]},
        {
            "securityContext": {
                **OWNER["securityContext"],
                "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "SYS_ADMIN"]},
            }
        },
        {"securityContext": {**OWNER["securityContext"], "capabilities": {"add": ["CHOWN"]}}},
        {"securityContext": {**OWNER["securityContext"], "readOnlyRootFilesystem": False}},
        {"securityContext": {**OWNER["securityContext"], "privileged": True}},
    ],
)
def test_any_other_root_container_is_refused(change):
    container = {**copy.deepcopy(OWNER), **change}
    assert "container 'chown' may run as root. Fix: set runAsNonRoot=true" in _inf011(_job(container))
