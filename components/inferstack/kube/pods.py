"""What every pod inferstack runs shares: a non-root identity with the RuntimeDefault seccomp profile,
hardened containers (no privilege escalation, read-only root file system, every capability dropped),
and replicas spread over zones and nodes."""

from __future__ import annotations

from inferstack.contract import UID


def _identity() -> dict:
    """Non-root identity and seccomp profile shared by pods and their containers."""
    return {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "seccompProfile": {"type": "RuntimeDefault"}}


def container_security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        **_identity(),
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> dict:
    return {**_identity(), "fsGroup": UID}


def spread(labels: dict[str, str]) -> list[dict]:
    """Pods with `labels` spread over zones, then nodes, as evenly as the scheduler can without
    refusing to schedule."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def http_probe(path: str, failures: int, port: str = "http", period: int = 10) -> dict:
    """An HTTP GET probe of `path` on the container's named `port`, every `period` seconds, 5 s timeout,
    failing after `failures` misses in a row."""
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
