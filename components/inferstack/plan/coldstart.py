"""Cold-start budget: how long a replica takes from scheduled to serving, stage by stage.

The budget sizes the startup probe (serving layer), the prefetch Job deadline and Pulumi's await
timeouts (cloud components). Rates come from catalog/data/cold_start.yaml, each with its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack import catalog


@dataclass(frozen=True)
class ColdStart:
    """Seconds per stage. `replica_seconds` is a replica start with weights cached on its volume."""

    image_pull_seconds: float
    weight_fetch_seconds: float
    weight_read_seconds: float
    engine_init_seconds: float
    node_provisioning_seconds: float
    probe_safety_factor: float

    @property
    def replica_seconds(self) -> float:
        return self.image_pull_seconds + self.weight_read_seconds + self.engine_init_seconds

    @property
    def startup_probe_seconds(self) -> int:
        """Startup probe budget: the cached-path estimate times the safety factor, in whole minutes."""
        return _round_up(self.replica_seconds * self.probe_safety_factor, 60)

    @property
    def prefetch_deadline_seconds(self) -> int:
        """Deadline for the prefetch Job: the fetch estimate times the safety factor plus 10 minutes."""
        return _round_up(self.weight_fetch_seconds * self.probe_safety_factor + 600, 60)

    @property
    def first_rollout_seconds(self) -> int:
        """New node, one prefetch, then a replica start: what `pulumi up` waits for the first time."""
        return _round_up(
            self.node_provisioning_seconds + self.prefetch_deadline_seconds + self.startup_probe_seconds, 60
        )


def _round_up(seconds: float, step: int) -> int:
    return int(math.ceil(seconds / step) * step)


def estimate_cold_start(weight_bytes: float, source_scheme: str, cache_kind: str, tp: int) -> ColdStart:
    """Stage estimate for a checkpoint of `weight_bytes` from `source_scheme` through a `cache_kind` cache.

    With tensor parallelism every rank reads the whole checkpoint from the cache (vLLM docs,
    conserving memory), so the read stage scales with TP.
    """
    rates = catalog.cold_start()
    fetch_rate = rates["weight_fetch"][source_scheme]["bytes_per_second"]
    read_rate = rates["weight_read"][cache_kind]["bytes_per_second"]
    init = rates["engine_init"]
    return ColdStart(
        image_pull_seconds=rates["image_pull"]["bytes"] / rates["image_pull"]["bytes_per_second"],
        weight_fetch_seconds=weight_bytes / fetch_rate if fetch_rate else 0.0,
        weight_read_seconds=weight_bytes * tp / read_rate,
        engine_init_seconds=init["base_seconds"] + init["per_100gb_seconds"] * weight_bytes / 100e9,
        node_provisioning_seconds=float(rates["node_provisioning_seconds"]),
        probe_safety_factor=float(rates["probe_safety_factor"]),
    )
