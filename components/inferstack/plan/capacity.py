"""Node shapes, node counts and cost per placement; throughput and cost per million tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack import catalog
from inferstack.plan.fit import Fit
from inferstack.spec.models import Placement

HOURS_PER_MONTH = 730
#: Share of HBM bandwidth a decode step achieves in the roofline throughput estimate.
DECODE_BANDWIDTH_EFFICIENCY = 0.5
#: Largest decode batch assumed (vLLM's default --max-num-seqs is 256).
MAX_BATCH = 256


@dataclass(frozen=True)
class NodeChoice:
    """The node shape a placement runs on, and how replicas pack onto it."""

    node_type: str | None
    accelerator: str | None
    gpus_per_node: int
    replicas_per_node: int
    price_per_node_hour: float | None
    price_source: str
    price_date: str


@dataclass(frozen=True)
class PlacementPlan:
    name: str
    cloud: str
    region: str
    node: NodeChoice | None
    replicas_min: int
    replicas_max: int
    nodes_min: int
    nodes_max: int
    problem: str | None

    @property
    def cost_per_hour_min(self) -> float | None:
        return self._cost(self.nodes_min)

    @property
    def cost_per_hour_max(self) -> float | None:
        return self._cost(self.nodes_max)

    @property
    def monthly_cost_max(self) -> float | None:
        hourly = self.cost_per_hour_max
        return None if hourly is None else hourly * HOURS_PER_MONTH

    @property
    def idle_gpus_at_min(self) -> int:
        if self.node is None:
            return 0
        return self.nodes_min * self.node.gpus_per_node - self.replicas_min * (
            self.node.gpus_per_node // self.node.replicas_per_node
        )

    def _cost(self, nodes: int) -> float | None:
        if self.node is None or self.node.price_per_node_hour is None:
            return None
        return nodes * self.node.price_per_node_hour


def _nodes(replicas: int, per_node: int) -> int:
    return math.ceil(replicas / per_node) if replicas else 0


def plan_placement(placement: Placement, gpu_sku: str, tp: int) -> PlacementPlan:
    """Pick the cheapest node shape offered in the placement's region that holds one replica.

    Cheapest means lowest cost at min replicas, then at max replicas, then fewest GPUs per node.
    Existing generic Kubernetes clusters have no catalog shape: one replica per node is assumed,
    priced from `price_per_gpu_hour` when the spec gives it.
    """
    rmin, rmax = placement.replicas.min, placement.replicas.max
    if not catalog.cloud_profile(placement.cloud).priced_from_catalog:
        price = placement.price_per_gpu_hour
        node = NodeChoice(
            None,
            None,
            tp,
            1,
            price * tp if price else None,
            "spec: placements[].price_per_gpu_hour" if price else "no price given",
            "spec",
        )
        return PlacementPlan(placement.name, placement.cloud, placement.region, node, rmin, rmax, rmin, rmax, None)
    shapes = [
        o
        for o in catalog.offerings()
        if o.cloud == placement.cloud
        and o.gpu == gpu_sku
        and o.gpus >= tp
        and placement.region in o.regions
        and (placement.cluster.instance_type in (None, o.node_type))
    ]
    if not shapes:
        offered = sorted(
            {r for o in catalog.offerings() if o.cloud == placement.cloud and o.gpu == gpu_sku for r in o.regions}
        )
        wanted = placement.cluster.instance_type or f"node with at least {tp} {gpu_sku}"
        problem = f"{placement.cloud} offers no {wanted} in {placement.region}; " + (
            f"{gpu_sku} is offered in: {', '.join(offered)}"
            if offered
            else f"{gpu_sku} is not offered on {placement.cloud}"
        )
        return PlacementPlan(placement.name, placement.cloud, placement.region, None, rmin, rmax, 0, 0, problem)

    def cost(o: catalog.Offering) -> tuple[float, float, int]:
        per_node = o.gpus // tp
        return (_nodes(rmin, per_node) * o.price_per_hour, _nodes(rmax, per_node) * o.price_per_hour, o.gpus)

    best = min(shapes, key=cost)
    per_node = best.gpus // tp
    node = NodeChoice(
        best.node_type,
        best.accelerator,
        best.gpus,
        per_node,
        best.price_per_hour,
        f"{best.price_source} ({best.price_region} on-demand)",
        best.price_date,
    )
    return PlacementPlan(
        placement.name,
        placement.cloud,
        placement.region,
        node,
        rmin,
        rmax,
        _nodes(rmin, per_node),
        _nodes(rmax, per_node),
        None,
    )


@dataclass(frozen=True)
class Throughput:
    tokens_per_second: float
    batch: int
    assumption: str


def estimate_throughput(
    fit: Fit,
    gpu: catalog.Gpu,
    active_parameters: float | None,
    parameters: float,
    measured: float | None,
    max_batch: int | None = None,
    context_tokens: int | None = None,
) -> Throughput:
    """Output tokens/s per replica: the spec's measured figure, else a decode roofline.

    Roofline: each decode step reads the weights each GPU holds (MoE: only the active experts'
    share, bounded by all of them) plus the KV of every running sequence, at
    DECODE_BANDWIDTH_EFFICIENCY of HBM bandwidth; the batch is the sequences the pool holds at
    `context_tokens` each (the workload's mean context while decoding, else half the max context),
    capped at `max_batch` (the spec's engine.max_concurrent_requests) or MAX_BATCH.
    """
    if measured:
        return Throughput(measured, 0, "measured throughput from spec cost.throughput_tokens_per_s")
    half = max(context_tokens or fit.max_context // 2, 1)
    cap = max_batch or MAX_BATCH
    batch = max(1, min(cap, int(max(fit.kv_pool_bytes, 0) // max(fit.kv.sequence_bytes(half), 1))))
    weights = fit.weights_per_gpu_bytes
    if active_parameters:
        weights = min(weights, weights * active_parameters / parameters * batch)
    step_bytes = weights + batch * fit.kv.sequence_bytes(half)
    step_seconds = step_bytes / (gpu.bandwidth_gbps * 1e9 * DECODE_BANDWIDTH_EFFICIENCY)
    return Throughput(
        batch / step_seconds,
        batch,
        f"decode roofline: {batch} sequences at {half:,} tokens, {DECODE_BANDWIDTH_EFFICIENCY:.0%} of "
        f"{gpu.sku} HBM bandwidth; measure and set cost.throughput_tokens_per_s for a real figure",
    )


def cost_per_million_tokens(price_per_replica_hour: float | None, throughput: Throughput) -> float | None:
    if price_per_replica_hour is None or throughput.tokens_per_second <= 0:
        return None
    return price_per_replica_hour / (throughput.tokens_per_second * 3600) * 1e6
