"""Node shapes, node counts and cost per placement; throughput and cost per million tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack import catalog
from inferstack.catalog import cloud_facts
from inferstack.plan import scheduling
from inferstack.plan.fit import Fit
from inferstack.plan.scheduling import PodSize
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
class CapacityChoice:
    """How a placement's GPU nodes are bought: the first mode of the spec's `capacity` preference that
    the node type is sold in (cloud_facts `can_buy`). `verified` is False when no source says the type
    is sold that way (unknown): chosen, but reported."""

    mode: str
    reservation: str | None
    verified: bool


@dataclass(frozen=True)
class PlacementPlan:
    """One placement's plan. The cloud components read `gpu_node_type`, `system_node_type`,
    `capacity` (mode, reservation name) and `gpu_zones`; the Kubernetes builders read `serving_pod`."""

    name: str
    cloud: str
    region: str
    node: NodeChoice | None
    replicas_min: int
    replicas_max: int
    nodes_min: int
    nodes_max: int
    problem: str | None
    #: Finding code of `problem`: no-offering, capacity-unavailable or unschedulable.
    problem_code: str = "no-offering"
    #: How the GPU nodes are bought; None for existing clusters (not inferstack's to buy).
    capacity: CapacityChoice | None = None
    #: Zones that offer the GPU node type (cloud_facts gpu_zones, intersected with the spec's zones when
    #: given, in the spec's order); () when no source lists zones for it (then the placement's zones or
    #: the cloud's default apply).
    gpu_zones: tuple[str, ...] = ()
    #: The system (CPU) pool's node type, the smallest that holds the pods planned on it; None for
    #: existing clusters.
    system_node_type: str | None = None
    #: Requests (= limits) of one serving pod, sized to fit `gpu_node_type`'s room.
    serving_pod: PodSize | None = None
    #: Why each node type cheaper than the chosen one was not chosen (capacity, scheduling or zones).
    passed_over: tuple[str, ...] = ()
    #: Nodes one replica spans (a multi-node replica is one pod per node; `nodes_*` count all of them).
    nodes_per_replica: int = 1

    @property
    def gpu_node_type(self) -> str | None:
        return self.node.node_type if self.node else None

    @property
    def capacity_mode(self) -> str | None:
        return self.capacity.mode if self.capacity else None

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
        return self.nodes_min * self.node.gpus_per_node - self.replicas_min * self.nodes_per_replica * (
            self.node.gpus_per_node // self.node.replicas_per_node
        )

    def _cost(self, nodes: int) -> float | None:
        if self.node is None or self.node.price_per_node_hour is None:
            return None
        return nodes * self.node.price_per_node_hour


def _nodes(replicas: int, per_node: int) -> int:
    return math.ceil(replicas / per_node) if replicas else 0


def choose_capacity(cloud: str, node_type: str, preference: list[str]) -> CapacityChoice | None:
    """The first mode in `preference` (on_demand, spot, flex_start, reservation:NAME) the node type is
    not known to be unavailable in; None when every requested mode is known to be unavailable."""
    facts = cloud_facts.node_facts(cloud, node_type)
    for item in preference:
        mode, _, name = item.partition(":")
        sold = facts.can_buy(mode)
        if sold is not False:
            return CapacityChoice(mode, name or None, sold is True)
    return None


def sold_as(cloud: str, node_type: str) -> str:
    """The capacity modes a node type is known to be sold in, as the spec spells them."""
    facts = cloud_facts.node_facts(cloud, node_type)
    modes = [SPEC_MODE.get(m, m) for m in facts.capacity_modes if m in SPEC_MODE]
    return ", ".join(modes) if modes else "none known"


#: cloud_facts capacity modes the spec can request, as it spells them.
SPEC_MODE = {"on_demand": "on_demand", "spot": "spot", "flex_start": "flex_start", "reservation": "reservation:NAME"}


def _price_source(o: catalog.Offering, capacity: CapacityChoice) -> str:
    base = f"{o.price_source} ({o.price_region} on-demand)"
    if capacity.mode == "on_demand":
        return base
    return f"{base}; on-demand list price used as the upper bound for {capacity.mode} capacity (no sourced {capacity.mode} price)"


def _gpu_zones(placement: Placement, node_type: str) -> tuple[str, ...]:
    offered = cloud_facts.gpu_zones(placement.cloud, placement.region, node_type)
    if offered is None:
        return ()
    if not placement.zones:
        return offered
    return tuple(z for z in placement.zones if z in offered)


def _roomy_shapes(placement: Placement, gpu_sku: str, tp: int) -> list[str]:
    """Node types in the placement's region, with the GPU, whose room holds a serving pod."""
    floor = scheduling.serving_floor(tp)
    out = []
    for o in catalog.offerings():
        if o.cloud != placement.cloud or o.gpu != gpu_sku or o.gpus < tp or placement.region not in o.regions:
            continue
        size = scheduling.serving_size(scheduling.node_room(o.cloud, o.node_type), o.gpus // tp)
        if floor.fits_in(scheduling.NodeRoom(o.cloud, o.node_type, size.cpu_m, size.memory_mib)):
            out.append(o.node_type)
    return out


def plan_placement(placement: Placement, gpu_sku: str, tp: int, weights_bytes: float = 0.0) -> PlacementPlan:
    """Pick the node shape for a placement: offered in its region, holding one replica, sold in one of
    the spec's capacity modes, whose room holds a serving pod (`scheduling.serving_floor`) and, when the
    spec names zones, offered in one of them.

    Among those: the earliest capacity mode in the spec's preference, then modes a source confirms
    before unverified ones, then the lowest cost at min replicas, then at max replicas, then fewest GPUs
    per node. Prices are on-demand list prices (also the upper bound for spot and flex-start, whose
    prices are not sourced). Existing generic Kubernetes clusters have no catalog shape: one replica per
    node is assumed, priced from `price_per_gpu_hour` when the spec gives it.
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
        return PlacementPlan(
            placement.name,
            placement.cloud,
            placement.region,
            node,
            rmin,
            rmax,
            rmin,
            rmax,
            None,
            serving_pod=scheduling.fallback_serving_size(tp, weights_bytes),
        )
    shapes = [
        o
        for o in catalog.offerings()
        if o.cloud == placement.cloud
        and o.gpu == gpu_sku
        and o.gpus >= tp
        and placement.region in o.regions
        and (placement.cluster.instance_type in (None, o.node_type))
    ]

    def unplanned(problem: str, code: str) -> PlacementPlan:
        return PlacementPlan(placement.name, placement.cloud, placement.region, None, rmin, rmax, 0, 0, problem, code)

    if not shapes:
        offered = sorted(
            {r for o in catalog.offerings() if o.cloud == placement.cloud and o.gpu == gpu_sku for r in o.regions}
        )
        wanted = placement.cluster.instance_type or f"node with at least {tp} {gpu_sku}"
        return unplanned(
            f"{placement.cloud} offers no {wanted} in {placement.region}; "
            + (
                f"{gpu_sku} is offered in: {', '.join(offered)}"
                if offered
                else f"{gpu_sku} is not offered on {placement.cloud}"
            ),
            "no-offering",
        )

    def cost(o: catalog.Offering) -> tuple[float, float, int]:
        per_node = o.gpus // tp
        return (_nodes(rmin, per_node) * o.price_per_hour, _nodes(rmax, per_node) * o.price_per_hour, o.gpus)

    floor = scheduling.serving_floor(tp)
    rejected: list[tuple[str, str, catalog.Offering]] = []  # (code, why, shape), cheapest first
    viable = []
    for o in sorted(shapes, key=cost):
        capacity = choose_capacity(placement.cloud, o.node_type, placement.capacity)
        room = scheduling.node_room(placement.cloud, o.node_type)
        serving = scheduling.serving_size(room, o.gpus // tp)
        zones = _gpu_zones(placement, o.node_type)
        if capacity is None:
            rejected.append(
                (
                    "capacity-unavailable",
                    f"{o.node_type} cannot be bought as {', '.join(placement.capacity)}; it is sold as: "
                    f"{sold_as(placement.cloud, o.node_type)}",
                    o,
                )
            )
        elif not floor.fits_in(scheduling.NodeRoom(placement.cloud, o.node_type, serving.cpu_m, serving.memory_mib)):
            rejected.append(
                (
                    "unschedulable",
                    f"a serving pod needs at least {floor.describe()} (a CPU for each of vLLM's {scheduling.vllm_processes(tp)} "
                    f"processes, {scheduling.ENGINE_HOST_MEMORY_MIB // 1024} GiB + {scheduling.shm_gib(tp)} GiB /dev/shm) "
                    f"but {room.describe()} after kube-reserved and DaemonSets"
                    + (f", {serving.describe()} for each of its {o.gpus // tp} replicas" if o.gpus // tp > 1 else ""),
                    o,
                )
            )
        elif (
            placement.zones
            and cloud_facts.gpu_zones(placement.cloud, placement.region, o.node_type) is not None
            and not zones
        ):
            offered = cloud_facts.gpu_zones(placement.cloud, placement.region, o.node_type)
            rejected.append(
                (
                    "no-offering",
                    f"{o.node_type} is not offered in zones {', '.join(placement.zones)}; "
                    f"{placement.region} offers it in: {', '.join(offered or ()) or 'no zone'}",
                    o,
                )
            )
        else:
            viable.append((o, capacity, serving, zones))
    if not viable:
        code, why, _ = rejected[0]
        fix = {
            "capacity-unavailable": "add a mode it is sold in to placements[].capacity, or pin another "
            "cluster.instance_type",
            "unschedulable": "pick a node type with more CPU and memory per GPU (cluster.instance_type"
            + (f": {', '.join(roomy)}" if (roomy := _roomy_shapes(placement, gpu_sku, tp)) else "")
            + "), or fewer GPUs per replica",
            "no-offering": "list a zone that offers it in placements[].zones, or remove zones",
        }[code]
        others = "; ".join(w for _, w, _ in rejected[1:])
        return unplanned(f"{why}{'; also ' + others if others else ''}; {fix}", code)

    order = {item: i for i, item in enumerate(placement.capacity)}

    def rank(v: tuple) -> tuple:
        o, capacity, _, _ = v
        key = capacity.mode if capacity.reservation is None else f"reservation:{capacity.reservation}"
        return (order[key], not capacity.verified, *cost(o))

    best, capacity, serving, zones = min(viable, key=rank)
    per_node = best.gpus // tp
    system_type, _ = scheduling.system_node_type(placement.cloud, (scheduling.PREFETCH,))
    node = NodeChoice(
        best.node_type,
        best.accelerator,
        best.gpus,
        per_node,
        best.price_per_hour,
        _price_source(best, capacity),
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
        capacity=capacity,
        gpu_zones=zones,
        system_node_type=system_type,
        serving_pod=serving,
        passed_over=tuple(why for _, why, o in rejected if cost(o) < cost(best)),
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
