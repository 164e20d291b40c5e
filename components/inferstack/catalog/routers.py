"""Each engine's own router, read from `data/routers.yaml` (every fact there has its source).

`router_for(engine)` is the router that fronts an engine's replicas, or None for engines that ship
none (their placements keep the plain Service). `wake_up_seconds` is how long a placement scaled to
zero takes to serve again, and `RouterSpec.request_timeout_seconds` how long the router lets one request
run: that wake-up plus the slowest normal request. `hold_retries` is how the router holds a request that
arrives while the placement has no replica: retries whose waits add up to the wake-up time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Protocol

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
    #: Matcher on `errors` for requests refused because no worker was up; None when `requests` counts them.
    unrouted: str | None


#: The longest wait between two tries of a held request (inferstack's choice): a replica that turns
#: ready while a request waits serves it at most this long after.
HOLD_MAX_BACKOFF_MS = 5000


@dataclass(frozen=True)
class RetryPolicy:
    """A router's retries of one request (data/routers.yaml `retry`): `max_retries` tries in all; the
    wait before try k+1 (k from 0) is min(initial_backoff_ms * backoff_multiplier^k, max_backoff_ms),
    truncated to whole ms, times a random factor in [1 - jitter_factor, 1 + jitter_factor]."""

    max_retries: int
    initial_backoff_ms: int
    max_backoff_ms: int
    backoff_multiplier: float
    jitter_factor: float

    def wait_ms(self, k: int) -> int:
        """The wait before try k+1, without jitter."""
        return min(int(self.initial_backoff_ms * self.backoff_multiplier**k), self.max_backoff_ms)

    @property
    def total_wait_ms(self) -> int:
        """Every wait of a request that no try serves, without jitter."""
        return sum(self.wait_ms(k) for k in range(self.max_retries - 1))


def hold_retries(defaults: RetryPolicy, wake_up_seconds: int) -> RetryPolicy:
    """Retries that hold a request for the wake-up time: the router's own first wait and multiplier,
    waits capped at HOLD_MAX_BACKOFF_MS, no jitter (with no replica the tries reach no worker, so there
    is no load to spread), and as many tries as it takes for the waits to add up to the wake-up. So
    the last try comes at least `wake_up_seconds` after the first, and less than one capped wait later."""
    hold = RetryPolicy(1, defaults.initial_backoff_ms, HOLD_MAX_BACKOFF_MS, defaults.backoff_multiplier, 0.0)
    waited, tries = 0, 1
    while waited < wake_up_seconds * 1000:
        waited += hold.wait_ms(tries - 1)
        tries += 1
    return replace(hold, max_retries=tries)


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
    #: The router's retry defaults; None when not checked (its placements keep the defaults).
    retry: RetryPolicy | None = None

    def policy(self, requested: str | None) -> str:
        """The router's name for a spec policy (None: the router's default)."""
        return self.policies[requested or self.default_policy]

    def demand_query(self, served_name: str, placement: str) -> str:
        """Requests per second arriving at one placement's router, capped at 1: what wakes a placement
        scaled to zero and keeps one replica while traffic flows (the engine's own signal scales beyond
        one). Requests refused for want of a worker count too: with no replica up they are all there is.
        Each part is 0 when its series does not exist yet (`or vector(0)`)."""
        where = f'job="{job(served_name)}", placement="{placement}"'
        m = self.metrics
        parts = [f"(sum(rate({m.requests}{{{where}}}[1m])) or vector(0))"]
        if m.unrouted is not None:
            parts.append(f"(sum(rate({m.errors}{{{where}, {m.unrouted}}}[1m])) or vector(0))")
        return f"clamp_max({' + '.join(parts)}, 1)"

    def hold(self, wake_up_seconds: int) -> RetryPolicy | None:
        """`hold_retries` for a placement that wakes in `wake_up_seconds`, or None when this router does
        not hold requests (or its retries were not checked)."""
        if self.retry is None or not self.holds_requests_without_workers:
            return None
        return hold_retries(self.retry, wake_up_seconds)

    @staticmethod
    def request_timeout_seconds(wake_up_seconds: int, e2e_p95_ms: float) -> int:
        """Wake-up time plus the slowest normal request (SLO e2e p95), in whole seconds."""
        return wake_up_seconds + math.ceil(e2e_p95_ms / 1000)


class ColdStartBudget(Protocol):
    """What `wake_up_seconds` reads of the plan's cold start (`plan.coldstart.ColdStart`)."""

    @property
    def startup_probe_seconds(self) -> int: ...

    @property
    def node_provisioning_seconds(self) -> float: ...


class NodePool(Protocol):
    """What `wake_up_seconds` reads of a placement's plan (`plan.capacity.PlacementPlan`)."""

    @property
    def capacity(self) -> object: ...

    @property
    def nodes_min(self) -> int: ...


def wake_up_seconds(cold: ColdStartBudget, placement: NodePool) -> int:
    """How long a placement takes to serve again from zero replicas: the cold-start budget (the startup
    probe's: image pull, weight read, engine start), plus node provisioning when its node pool keeps no
    GPU node (a pool inferstack buys, `capacity`, at zero nodes; existing clusters' nodes stay)."""
    keeps_node = placement.capacity is None or placement.nodes_min > 0
    return cold.startup_probe_seconds + (0 if keeps_node else math.ceil(cold.node_provisioning_seconds))


def job(served_name: str) -> str:
    """The `job` label of the router's series (the engine's is the served name itself)."""
    return f"{served_name}-router"


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
            metrics=RouterMetrics(**row["metrics"], ttft=row["ttft"], unrouted=row["unrouted"]),
            retry=RetryPolicy(**row["retry"]) if row["retry"] else None,
        )
        for engine, row in raw.items()
    }


def router_for(engine: str, enabled: bool = True) -> RouterSpec | None:
    """The router that fronts an engine's replicas: None when routing is off or the engine ships none."""
    return routers().get(engine) if enabled else None
