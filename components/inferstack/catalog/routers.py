"""Each engine's own router, read from `data/routers.yaml` (every fact there has its source).

`router_for(engine)` is the router that fronts an engine's replicas, or None for engines that ship
none (their placements keep the plain Service). `RouterSpec.request_timeout_seconds` is how long the
router lets one request run: a replica's wake-up (the plan's cold-start budget when it scales from
zero) plus the slowest normal request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class RouterMetrics:
    """Prometheus series the router exports (names as its source spells them)."""

    requests: str
    duration: str
    errors: str
    retries: str
    workers: str
    worker_health: str
    #: Time-to-first-token histogram, when the router exports one.
    ttft: str | None


@dataclass(frozen=True)
class RouterSpec:
    engine: str
    package: str
    version: str
    #: None: the router runs in the engine's own image.
    image: str | None
    command: tuple[str, ...]
    port: int
    metrics_port: int
    #: Spec policy -> the router's own policy name.
    policies: dict[str, str]
    default_policy: str
    flags: dict[str, str]
    liveness_path: str
    readiness_path: str
    metrics_path: str
    checks_client_keys: bool
    holds_requests_without_workers: bool
    metrics: RouterMetrics

    def policy(self, requested: str | None) -> str:
        """The router's name for a spec policy (None: the router's default)."""
        return self.policies[requested or self.default_policy]

    @staticmethod
    def request_timeout_seconds(wake_up_seconds: int, e2e_p95_ms: float) -> int:
        """Wake-up time plus the slowest normal request (SLO e2e p95), in whole seconds."""
        return wake_up_seconds + math.ceil(e2e_p95_ms / 1000)


@cache
def routers() -> dict[str, RouterSpec]:
    """Every engine router, by engine name."""
    raw = yaml.safe_load(resources.files("inferstack.catalog").joinpath("data", "routers.yaml").read_text())
    return {
        engine: RouterSpec(
            engine=engine,
            package=row["package"],
            version=row["version"],
            image=row["image"],
            command=tuple(row["command"]),
            port=row["port"],
            metrics_port=row["metrics_port"],
            policies=dict(row["policies"]),
            default_policy=row["default_policy"],
            flags=dict(row["flags"]),
            liveness_path=row["liveness_path"],
            readiness_path=row["readiness_path"],
            metrics_path=row["metrics_path"],
            checks_client_keys=row["checks_client_keys"],
            holds_requests_without_workers=row["holds_requests_without_workers"],
            metrics=RouterMetrics(**row["metrics"], ttft=row["ttft"]),
        )
        for engine, row in raw.items()
    }


def router_for(engine: str) -> RouterSpec | None:
    """The router an engine ships, or None when it has none."""
    return routers().get(engine)
