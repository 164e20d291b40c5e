"""Cold-start budget: how long a replica takes from scheduled to serving, stage by stage, and the cache
tier it reads its weights from.

The budget sizes the startup probe (serving layer), the prefetch Job deadline and Pulumi's await
timeouts (cloud components). Rates come from catalog/data/cold_start.yaml, each with its source.

Three tiers (`TIERS`, cheapest first as the catalog orders them):
- `streaming`: the engine streams the checkpoint from the s3:// or gs:// source (vLLM's Run:ai
  streamer); no cache volume, no prefetch.
- `shared_volume`: a ReadWriteMany volume filled once by the prefetch Job; every rank reads it.
- `node_local`: the shared volume, copied once per node onto the node's NVMe, read from there.
Without `slo.cold_start_s` the tier is `cache.kind` (shared_volume unless set). With it, and no
`cache.kind` in the spec, the plan takes the cheapest tier whose replica start meets the objective.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from inferstack import catalog

if TYPE_CHECKING:
    from inferstack.plan.capacity import PlacementPlan
    from inferstack.spec.models import DeploymentSpec

TIERS = ("streaming", "shared_volume", "node_local")


@dataclass(frozen=True)
class Stage:
    """One stage of a start: `size_bytes / bytes_per_second` when it moves bytes, else fixed seconds."""

    name: str
    seconds: float
    size_bytes: float | None = None
    bytes_per_second: float | None = None

    def arithmetic(self) -> str:
        """The stage as `plan` prints it: `687.0 GB / 5,261 MB/s = 131 s`, or `266 s` when no bytes move."""
        if self.size_bytes is None or not self.bytes_per_second:
            return f"{self.name}: {self.seconds:,.0f} s"
        return (
            f"{self.name}: {self.size_bytes / 1e9:,.1f} GB / {self.bytes_per_second / 1e6:,.0f} MB/s "
            f"= {self.seconds:,.0f} s"
        )


@dataclass(frozen=True)
class TierOption:
    """One tier as the plan weighed it: its replica start, or why it cannot be used."""

    tier: str
    replica_seconds: float | None
    unavailable: str | None = None


@dataclass(frozen=True)
class ColdStart:
    """Seconds per stage. `replica_seconds` is a replica start with weights in its tier's cache."""

    image_pull_seconds: float
    weight_fetch_seconds: float
    weight_read_seconds: float
    engine_init_seconds: float
    node_provisioning_seconds: float
    probe_safety_factor: float
    #: The cache tier weights are read from (`TIERS`).
    tier: str = "shared_volume"
    #: node_local: copying the checkpoint from the shared volume onto a node's NVMe, once per node.
    node_fill_seconds: float = 0.0
    #: The stages of a replica start (and the per-node fill), with their arithmetic.
    stages: tuple[Stage, ...] = ()
    #: `slo.cold_start_s`, when the spec states it.
    objective_seconds: float | None = None
    options: tuple[TierOption, ...] = ()
    #: (code, message, blocking) for the planner's findings.
    findings: tuple[tuple[str, str, bool], ...] = field(default=())

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
    def node_fill_deadline_seconds(self) -> int:
        """node_local: the per-node copy's budget, the fill estimate times the safety factor (0 otherwise)."""
        return _round_up(self.node_fill_seconds * self.probe_safety_factor, 60)

    @property
    def first_rollout_seconds(self) -> int:
        """New node, one prefetch, the node's copy, then a replica start: what `pulumi up` waits for the
        first time."""
        return _round_up(
            self.node_provisioning_seconds
            + self.prefetch_deadline_seconds
            + self.node_fill_deadline_seconds
            + self.startup_probe_seconds,
            60,
        )

    def rollout_outage_seconds(self, replicas_min: int) -> float:
        """Seconds without a serving replica while a rolling update replaces pods one at a time (no
        surge): none with two or more replicas, one replica start with a single replica (the new pod
        lands on the node it left, where a node_local copy is still in place)."""
        return 0.0 if replicas_min >= 2 else self.replica_seconds

    def drain_outage_seconds(self, replicas_min: int) -> float:
        """Seconds without a serving replica when the only replica's node goes away: a new node, its
        node_local copy, then a replica start; none with two or more replicas."""
        if replicas_min >= 2:
            return 0.0
        return self.node_provisioning_seconds + self.node_fill_seconds + self.replica_seconds

    def report(self, replicas_min: int) -> dict[str, Any]:
        """The tier decision for `plan --json`: tier, objective, each tier weighed, stage arithmetic,
        and the outage a rollout and a node drain cause at `replicas_min`."""
        return {
            "tier": self.tier,
            "objective_seconds": self.objective_seconds,
            "node_fill_seconds": round(self.node_fill_seconds),
            "rollout_outage_seconds": round(self.rollout_outage_seconds(replicas_min)),
            "drain_outage_seconds": round(self.drain_outage_seconds(replicas_min)),
            "stages": [s.arithmetic() for s in self.stages],
            "options": [
                {
                    "tier": o.tier,
                    "replica_seconds": None if o.replica_seconds is None else round(o.replica_seconds),
                    "unavailable": o.unavailable,
                }
                for o in self.options
            ],
        }


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


def streams_weights(engine: str) -> bool:
    """Whether the engine reads weights with a streaming loader the ranks share (cold_start.yaml)."""
    return engine in catalog.cold_start()["streaming"]["engines"]


def local_nvme_bytes(node_type: str | None) -> int | None:
    """Total local NVMe of a node type (drives x size), None when the catalog knows of none."""
    row = catalog.cold_start()["local_nvme"].get(node_type or "")
    return None if row is None else int(row["drives"]) * int(row["drive_bytes"])


def tier_cold_start(tier: str, weight_bytes: float, source_scheme: str, tp: int, engine: str) -> ColdStart:
    """The stages of a start from `tier`, each a byte count over a sourced rate."""
    rates = catalog.cold_start()
    base = estimate_cold_start(weight_bytes, source_scheme, "shared_volume", tp)
    shared_rate = float(rates["weight_read"]["shared_volume"]["bytes_per_second"])
    fetch_rate = float(rates["weight_fetch"][source_scheme]["bytes_per_second"])
    fill = 0.0
    if tier == "streaming":
        read_rate, read_bytes, read_name = (
            float(rates["streaming"]["rates"][source_scheme]["bytes_per_second"]),
            weight_bytes,
            (f"weights streamed from {source_scheme}:// (once per node)"),
        )
        base = replace(base, weight_fetch_seconds=0.0)
    elif tier == "node_local":
        read_rate = float(rates["node_local"]["bytes_per_second"])
        # The streaming loader splits the files between the ranks; other loaders read them in every rank.
        ranks = 1 if streams_weights(engine) else tp
        read_bytes, read_name = weight_bytes * ranks, f"weights read from node NVMe ({ranks} pass(es))"
        fill = weight_bytes / shared_rate
    else:
        read_rate, read_bytes, read_name = (
            shared_rate,
            weight_bytes * tp,
            f"weights read from shared volume ({tp} rank(s))",
        )
    stages = [
        Stage(
            "image pull",
            base.image_pull_seconds,
            float(rates["image_pull"]["bytes"]),
            rates["image_pull"]["bytes_per_second"],
        )
    ]
    if base.weight_fetch_seconds:
        stages.append(
            Stage(f"prefetch from {source_scheme}:// (once)", base.weight_fetch_seconds, weight_bytes, fetch_rate)
        )
    if fill:
        stages.append(Stage("copy to node NVMe (once per node)", fill, weight_bytes, shared_rate))
    read = Stage(read_name, read_bytes / read_rate, read_bytes, read_rate)
    stages += [read, Stage("engine init", base.engine_init_seconds)]
    return replace(base, weight_read_seconds=read.seconds, tier=tier, node_fill_seconds=fill, stages=tuple(stages))


def unavailable_reason(
    tier: str, spec: DeploymentSpec, weight_bytes: float, placements: Sequence[PlacementPlan]
) -> str | None:
    """Why `tier` cannot serve this spec, or None when it can."""
    rates = catalog.cold_start()
    model, engine = spec.model, spec.engine.name
    if tier == "streaming":
        if model.scheme not in rates["streaming"]["rates"]:
            return f"streams only s3:// and gs:// sources, not {model.scheme}://"
        if not streams_weights(engine):
            return rates["streaming"]["refused"][engine]
        if model.lora_adapters:
            return "LoRA adapters need the cache volume the prefetch Job fills"
        return None
    if tier == "node_local":
        for p in placements:
            if spec.placement(p.name).platform is not None:
                return f"placement {p.name}: a platform's node pools do not set up their NVMe for it"
            nvme = local_nvme_bytes(p.gpu_node_type)
            if nvme is None:
                return f"placement {p.name}: {p.gpu_node_type or 'its node type'} has no local NVMe in the catalog"
            if nvme < weight_bytes:
                return f"placement {p.name}: {p.gpu_node_type} has {nvme / 1e9:,.0f} GB of NVMe, under the checkpoint's {weight_bytes / 1e9:,.0f} GB"
    return None


def plan_cold_start(
    spec: DeploymentSpec, weight_bytes: float, tp: int, placements: Sequence[PlacementPlan]
) -> ColdStart:
    """The tier and budget for a spec: `cache.kind` when the spec names it or states no objective, else
    the cheapest available tier whose replica start meets `slo.cold_start_s` (the fastest one, and a
    finding, when none does)."""
    objective = spec.slo.cold_start_s
    scheme, engine = spec.model.scheme, spec.engine.name
    options = []
    for tier in catalog.cold_start()["tiers"]["order"]:
        reason = unavailable_reason(tier, spec, weight_bytes, placements)
        seconds = None if reason else tier_cold_start(tier, weight_bytes, scheme, tp, engine).replica_seconds
        options.append(TierOption(tier, seconds, reason))
    findings: list[tuple[str, str, bool]] = []
    named = "kind" in spec.cache.model_fields_set or objective is None
    if named:
        chosen = next(o for o in options if o.tier == spec.cache.kind)
        if chosen.unavailable:
            findings.append(
                ("cache-tier-unavailable", f"cache.kind {chosen.tier} cannot be used: {chosen.unavailable}", True)
            )
    else:
        usable = [o for o in options if o.replica_seconds is not None]
        meeting = [o for o in usable if o.replica_seconds <= objective]
        chosen = meeting[0] if meeting else min(usable, key=lambda o: o.replica_seconds or 0.0)
        if not meeting:
            weighed = "; ".join(
                f"{o.tier} {o.replica_seconds:,.0f} s"
                if o.replica_seconds is not None
                else f"{o.tier}: {o.unavailable}"
                for o in options
            )
            findings.append(
                (
                    "cold-start-objective-unmet",
                    f"no cache tier starts a replica within slo.cold_start_s {objective:g} s ({weighed}); "
                    f"{chosen.tier} is the fastest and is used",
                    False,
                )
            )
    # A named tier that cannot be used blocks the plan; the shared volume's budget stands in for it.
    tier = "shared_volume" if chosen.unavailable else chosen.tier
    cold = tier_cold_start(tier, weight_bytes, scheme, tp, engine)
    return replace(cold, objective_seconds=objective, options=tuple(options), findings=tuple(findings))
