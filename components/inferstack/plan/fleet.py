"""`plan_fleet(fleet)`: every model planned, then packed onto its platform's node pools.

Per pool, each replica takes slots: a whole GPU per tensor-parallel rank, or one slice on a MIG pool
(each GPU holds `instances` slices of the pool's profile). Replicas never span nodes, so the nodes
needed are a first-fit-decreasing packing of the replicas' slots into nodes of `gpus_per_node` (times
slices per GPU) slots, at the models' min and at their max replicas. The fleet's own findings: a pool
whose max nodes cannot hold the models' min replicas (blocking) or max replicas (over-subscription,
a note), a replica larger than a node, a team over its GPU quota or monthly budget, a pool nothing
runs on. Cost per model is its share of the pool's nodes (slots it holds at max / slots per node).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inferstack import catalog
from inferstack.catalog import cloud_facts, mig
from inferstack.contract import HOURS_PER_MONTH
from inferstack.plan import scheduling
from inferstack.plan.calibration import Calibration
from inferstack.plan.capacity import CapacityChoice, NodeChoice, PlacementPlan, choose_capacity, sold_as
from inferstack.plan.planner import Finding, Plan, plan
from inferstack.plan.pools import PoolPlan
from inferstack.spec.fleet import Fleet
from inferstack.spec.platform import GpuPool, PlatformPlacement, PlatformSpec, offering_for

#: Prefix of a platform pool's resource-name suffix (`gpu-<pool name>`).
PLATFORM_POOL_PREFIX = "gpu-"


@dataclass(frozen=True)
class Tenant:
    """One model placement on a pool: how many slots a replica takes and how many replicas."""

    model: str
    team: str | None
    slots_per_replica: int
    replicas_min: int
    replicas_max: int


@dataclass(frozen=True)
class PlatformPlacementPlan:
    """One shared cluster: its pools as the clouds build them and what the models put on them."""

    name: str
    cloud: str
    region: str
    cluster_name: str
    #: One per platform GPU pool, in document order; nodes_min/nodes_max are the pool's own limits and
    #: `node.replicas_per_node` the slots per node (GPUs, or MIG slices on a MIG pool).
    pools: tuple[PoolPlan, ...]
    system_node_type: str | None
    #: The system pool's node limits (the platform document's `system_pool`).
    system_nodes: tuple[int, int]
    #: pool name -> whole GPUs the models hold at their min replicas (MIG: slices / slices per GPU, up).
    gpus_min: dict[str, int]
    #: pool name -> ... at their max replicas.
    gpus_max: dict[str, int]
    #: pool name -> nodes the models' replicas pack onto at min and at max replicas.
    nodes_needed_min: dict[str, int]
    nodes_needed_max: dict[str, int]
    #: pool name -> the model placements on it.
    tenants: dict[str, tuple[Tenant, ...]]

    def pool(self, name: str) -> PoolPlan:
        """The pool plan of the platform pool called `name`."""
        return next(p for p in self.pools if p.name == pool_resource_name(name))


def pool_resource_name(pool: str) -> str:
    """The `PoolPlan.name` (resource-name suffix) of a platform pool."""
    return f"{PLATFORM_POOL_PREFIX}{pool}"


@dataclass(frozen=True)
class FleetPlan:
    fleet: Fleet
    placements: tuple[PlatformPlacementPlan, ...]
    models: tuple[Plan, ...]
    findings: tuple[Finding, ...]

    @property
    def deployable(self) -> bool:
        """No blocking finding in the fleet's own findings or in any model's plan."""
        return not any(f.blocking for f in self.findings) and all(p.deployable for p in self.models)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for `inferstack plan DIR --json` and the fleet render's report."""
        platform = self.fleet.platform
        costs, teams, places = self.cost_per_model(), self.cost_per_team(), self.cost_per_placement()
        return {
            "platform": None if platform is None else platform.name,
            "deployable": self.deployable,
            "placements": [
                {
                    "name": p.name,
                    "cloud": p.cloud,
                    "region": p.region,
                    "cluster_name": p.cluster_name,
                    "system_node_type": p.system_node_type,
                    "system_nodes": {"min": p.system_nodes[0], "max": p.system_nodes[1]},
                    "monthly_cost_max": _money(places[p.name]),
                    "pools": [_pool_dict(p, pool) for pool in p.pools],
                }
                for p in self.placements
            ],
            "models": [
                {
                    "name": m.spec.name,
                    "team": m.spec.team,
                    "source": self.fleet.sources.get(m.spec.name),
                    "deployable": m.deployable,
                    "placements": {p.name: self.fleet.pool_of(m.spec.name, p.name) for p in m.placements},
                    "monthly_cost_max": _money(costs[m.spec.name]),
                    "plan": m.to_dict(),
                }
                for m in self.models
            ],
            "teams": [
                {
                    "name": t.name,
                    "gpus": t.gpus,
                    "monthly_budget": t.monthly_budget,
                    "monthly_cost_max": _money(teams.get(t.name, 0.0)),
                }
                for t in (platform.teams if platform else [])
            ],
            "findings": [{"code": f.code, "message": f.message, "blocking": f.blocking} for f in self.findings],
        }

    def cost_per_model(self) -> dict[str, float | None]:
        """Monthly cost at max replicas, USD, per model: on a platform pool its share of the nodes
        (slots held / slots per node x node price), elsewhere its own plan's cost; None when unpriced."""
        return {p.spec.name: self._model_cost(p) for p in self.models}

    def cost_per_team(self) -> dict[str, float | None]:
        """Monthly cost at max replicas per team (models without a team are left out); None if unpriced."""
        costs = self.cost_per_model()
        out: dict[str, float | None] = {}
        for p in self.models:
            if p.spec.team is not None:
                out[p.spec.team] = _add(out.get(p.spec.team, 0.0), costs[p.spec.name])
        return out

    def cost_per_placement(self) -> dict[str, float | None]:
        """Monthly cost of each platform placement's GPU nodes at the models' max replicas (nodes
        needed, at most the pool's max_nodes, x node price); None when a pool's price is unknown."""
        out: dict[str, float | None] = {}
        for placement in self.placements:
            total: float | None = 0.0
            for pool in placement.pools:
                key = pool.name.removeprefix(PLATFORM_POOL_PREFIX)
                nodes = min(placement.nodes_needed_max[key], pool.nodes_max)
                price = pool.node.price_per_node_hour
                total = _add(total, None if price is None else nodes * price * HOURS_PER_MONTH)
            out[placement.name] = total
        return out

    def _model_cost(self, model: Plan) -> float | None:
        total: float | None = 0.0
        for p in model.placements:
            pool = self.fleet.pool_of(model.spec.name, p.name)
            if pool is None:
                total = _add(total, p.monthly_cost_max)
                continue
            where = next(x for x in self.placements if x.name == p.name)
            node = where.pool(pool).node
            tenant = next(t for t in where.tenants[pool] if t.model == model.spec.name)
            price = node.price_per_node_hour
            share = tenant.replicas_max * tenant.slots_per_replica / node.replicas_per_node
            total = _add(total, None if price is None else share * price * HOURS_PER_MONTH)
        return total


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _pool_dict(placement: PlatformPlacementPlan, pool: PoolPlan) -> dict[str, Any]:
    key = pool.name.removeprefix(PLATFORM_POOL_PREFIX)
    node = pool.node
    return {
        "name": key,
        "resource_name": pool.name,
        "gpu": pool.gpu_sku,
        "mig_profile": pool.mig_profile,
        "node_type": node.node_type,
        "gpus_per_node": node.gpus_per_node,
        "slots_per_node": node.replicas_per_node,
        "price_per_node_hour": node.price_per_node_hour,
        "price_source": node.price_source,
        "capacity": {"mode": pool.capacity.mode, "reservation": pool.capacity.reservation},
        "gpu_zones": list(pool.gpu_zones),
        "nodes": {"min": pool.nodes_min, "max": pool.nodes_max},
        "nodes_needed": {"min": placement.nodes_needed_min[key], "max": placement.nodes_needed_max[key]},
        "gpus": {"min": placement.gpus_min[key], "max": placement.gpus_max[key]},
        "models": [
            {
                "name": t.model,
                "team": t.team,
                "slots_per_replica": t.slots_per_replica,
                "replicas": {"min": t.replicas_min, "max": t.replicas_max},
            }
            for t in placement.tenants[key]
        ],
    }


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def plan_fleet(fleet: Fleet, calibration: Calibration | None = None) -> FleetPlan:
    """Plan every bound spec (on a MIG pool, with one slice as its device; with the team's `calibration`
    rows, see `inferstack calibrate`), then pack the platform's pools and judge pools, quotas and
    budgets. Pure: reads only catalogs and the rows passed in."""
    platform = fleet.platform
    models = tuple(_plan_model(fleet, spec, calibration) for spec in fleet.specs)
    if platform is None:
        return FleetPlan(fleet, (), models, ())
    placements = tuple(_placement_plan(platform, where, fleet, models) for where in platform.placements)
    findings: list[Finding] = []
    for where, planned in zip(platform.placements, placements, strict=True):
        findings += _pool_findings(where, planned)
    result = FleetPlan(fleet, placements, models, ())
    findings += _team_findings(platform, result)
    return dataclasses.replace(result, findings=tuple(findings))


def _mig_profile(fleet: Fleet, spec_name: str, placement: str) -> mig.MigProfile | None:
    platform, pool = fleet.platform, fleet.pool_of(spec_name, placement)
    if platform is None or pool is None:
        return None
    gpu_pool = platform.placement(placement).pool(pool)
    return None if gpu_pool.mig is None else mig.profile(gpu_pool.gpu, gpu_pool.mig)


def _plan_model(fleet: Fleet, spec, calibration: Calibration | None = None) -> Plan:
    """The model's plan; on a MIG pool the device is one slice and each node holds GPUs x slices replicas.
    On a platform pool the nodes are shared, so the model's own idle-GPU notes are dropped: the fleet's
    `idle-at-min` judges the pool."""
    profiles = {p.name: prof for p in spec.placements if (prof := _mig_profile(fleet, spec.name, p.name))}
    device = mig.slice_gpu(next(iter(profiles.values()))) if profiles else None
    result = plan(spec, device, calibration)
    shared = {p.name for p in spec.placements if fleet.pool_of(spec.name, p.name) is not None}
    findings = [
        f
        for f in result.findings
        if not (f.code == "idle-gpus" and any(f.message.startswith(f"placement {name}:") for name in shared))
    ]
    placements = [_on_slices(p, profiles.get(p.name)) for p in result.placements] if profiles else result.placements
    return dataclasses.replace(result, placements=placements, findings=findings)


def _on_slices(placement: PlacementPlan, profile: mig.MigProfile | None) -> PlacementPlan:
    """A placement plan on a MIG pool: a replica per slice, so `instances` times the replicas per node,
    each serving pod that share of the node's room."""
    node = placement.node
    if profile is None or node is None or node.node_type is None:
        return placement
    per_node = node.gpus_per_node * profile.instances
    room = scheduling.node_room(placement.cloud, node.node_type)
    return dataclasses.replace(
        placement,
        node=dataclasses.replace(node, replicas_per_node=per_node),
        nodes_min=math.ceil(placement.replicas_min / per_node),
        nodes_max=math.ceil(placement.replicas_max / per_node),
        serving_pod=scheduling.serving_size(room, per_node),
    )


def _node(where: PlatformPlacement, pool: GpuPool) -> tuple[NodeChoice, CapacityChoice | None]:
    """The pool's node shape (slots per node in `replicas_per_node`) and how it is bought."""
    profile = mig.profile(pool.gpu, pool.mig) if pool.mig else None
    slices = profile.instances if profile else 1
    preference = where.pool_capacity(pool)
    offering = offering_for(where, pool) if _builds(where) else None
    if offering is None:
        gpus = pool.gpus_per_node or 1
        price = where.price_per_gpu_hour
        node = NodeChoice(
            None,
            None,
            gpus,
            gpus * slices,
            price * gpus if price else None,
            "platform: placements[].price_per_gpu_hour" if price else "no price given",
            "platform",
        )
        mode, _, reservation = preference[0].partition(":")
        return node, CapacityChoice(mode, reservation or None, False)
    node = NodeChoice(
        offering.node_type,
        offering.accelerator,
        offering.gpus,
        offering.gpus * slices,
        offering.price_per_hour,
        f"{offering.price_source} ({offering.price_region} on-demand)",
        offering.price_date,
    )
    return node, choose_capacity(where.cloud, offering.node_type, preference)


def _builds(where: PlatformPlacement) -> bool:
    return catalog.cloud_profile(where.cloud).creates_clusters and where.cluster.kind == "new"


def _zones(where: PlatformPlacement, node_type: str | None) -> tuple[str, ...]:
    offered = None if node_type is None else cloud_facts.gpu_zones(where.cloud, where.region, node_type)
    if offered is None:
        return ()
    return tuple(z for z in where.zones if z in offered) if where.zones else offered


def pack(items: Iterable[tuple[int, int]], node_slots: int) -> int:
    """Nodes of `node_slots` slots that hold `count` items of `size` slots for each (size, count), none
    split across nodes: largest items first, each batch into the roomiest nodes already open, then
    into new ones. Nodes are kept as counts per free room, so a count of millions costs nothing. An
    item larger than a node is not counted (it is reported on its own)."""
    free: Counter[int] = Counter()  # free slots -> nodes with that much room
    for size, count in sorted(items, reverse=True):
        if size > node_slots or count <= 0:
            continue
        remaining = count
        for room in sorted((r for r in free if r >= size), reverse=True):
            if remaining == 0:
                break
            per_node = room // size
            whole = min(free[room], remaining // per_node)
            free[room] -= whole
            free[room - per_node * size] += whole
            remaining -= whole * per_node
            if 0 < remaining < per_node and free[room]:
                free[room] -= 1
                free[room - remaining * size] += 1
                remaining = 0
        per_node = node_slots // size
        free[node_slots - per_node * size] += remaining // per_node
        if remaining % per_node:
            free[node_slots - remaining % per_node * size] += 1
    return sum(free.values())


def _tenants(fleet: Fleet, models: tuple[Plan, ...], where: PlatformPlacement, pool: GpuPool) -> tuple[Tenant, ...]:
    out = []
    for model in models:
        for p in model.placements:
            if p.name == where.name and fleet.pool_of(model.spec.name, p.name) == pool.name:
                slots = 1 if pool.mig else model.fit.tp
                out.append(Tenant(model.spec.name, model.spec.team, slots, p.replicas_min, p.replicas_max))
    return tuple(out)


def _placement_plan(
    platform: PlatformSpec, where: PlatformPlacement, fleet: Fleet, models: tuple[Plan, ...]
) -> PlatformPlacementPlan:
    pools, gpus_min, gpus_max, nodes_min, nodes_max, tenants = [], {}, {}, {}, {}, {}
    for pool in where.gpu_pools:
        node, capacity = _node(where, pool)
        slices = node.replicas_per_node // node.gpus_per_node
        on_pool = _tenants(fleet, models, where, pool)
        tenants[pool.name] = on_pool
        at_min = [(t.slots_per_replica, t.replicas_min) for t in on_pool]
        at_max = [(t.slots_per_replica, t.replicas_max) for t in on_pool]
        gpus_min[pool.name] = math.ceil(sum(size * count for size, count in at_min) / slices)
        gpus_max[pool.name] = math.ceil(sum(size * count for size, count in at_max) / slices)
        nodes_min[pool.name] = pack(at_min, node.replicas_per_node)
        nodes_max[pool.name] = pack(at_max, node.replicas_per_node)
        pools.append(
            PoolPlan(
                name=pool_resource_name(pool.name),
                gpu_sku=pool.gpu,
                node=node,
                nodes_min=pool.min_nodes,
                nodes_max=pool.max_nodes,
                capacity=capacity or CapacityChoice(where.pool_capacity(pool)[0], None, False),
                gpu_zones=_zones(where, node.node_type),
                mig_profile=pool.mig,
            )
        )
    system = where.system_pool.instance_type
    if system is None and _builds(where):
        system, _ = scheduling.system_node_type(where.cloud, (scheduling.PREFETCH,))
    return PlatformPlacementPlan(
        where.name,
        where.cloud,
        where.region,
        where.cluster_name(platform.name),
        tuple(pools),
        system,
        (where.system_pool.min_nodes, where.system_pool.max_nodes),
        gpus_min,
        gpus_max,
        nodes_min,
        nodes_max,
        tenants,
    )


def _pool_findings(where: PlatformPlacement, planned: PlatformPlacementPlan) -> list[Finding]:
    out = []
    for pool in where.gpu_pools:
        plan_ = planned.pool(pool.name)
        at = f"placement {where.name} pool {pool.name}"
        slots = plan_.node.replicas_per_node
        unit = "MIG slices" if pool.mig else "GPUs"
        if (
            _builds(where)
            and plan_.node.node_type is not None
            and choose_capacity(where.cloud, plan_.node.node_type, where.pool_capacity(pool)) is None
        ):
            out.append(
                Finding(
                    "capacity-unavailable",
                    f"{at}: {plan_.node.node_type} cannot be bought as {', '.join(where.pool_capacity(pool))}",
                    True,
                )
            )
        capacity = plan_.capacity
        if _builds(where) and plan_.node.node_type is not None and not capacity.verified:
            out.append(
                Finding(
                    "capacity-unverified",
                    f"{at}: no source confirms that {plan_.node.node_type} is sold as {capacity.mode}; it is planned so, "
                    f"but check it before deploying, or put a mode it is known to be sold in "
                    f"({sold_as(where.cloud, plan_.node.node_type)}) first in the pool's capacity",
                    False,
                )
            )
        for tenant in planned.tenants[pool.name]:
            if tenant.slots_per_replica > slots:
                out.append(
                    Finding(
                        "replica-larger-than-node",
                        f"{at}: a replica of {tenant.model} needs {tenant.slots_per_replica} {unit} but a node has "
                        f"{slots}; place it on a pool with larger nodes",
                        True,
                    )
                )
        if not planned.tenants[pool.name]:
            out.append(
                Finding(
                    "pool-unused",
                    f"{at}: no model runs on it; {pool.min_nodes} node(s) kept running for nothing"
                    if pool.min_nodes
                    else f"{at}: no model runs on it",
                    False,
                )
            )
        need_min, need_max = planned.nodes_needed_min[pool.name], planned.nodes_needed_max[pool.name]
        used = sum(t.replicas_min * t.slots_per_replica for t in planned.tenants[pool.name])
        idle = max(need_min, pool.min_nodes) * slots - used
        if _builds(where) and planned.tenants[pool.name] and idle > 0:
            out.append(
                Finding(
                    "idle-at-min",
                    f"{at}: {idle} of {max(need_min, pool.min_nodes) * slots} {unit} idle at the models' min replicas "
                    f"on {max(need_min, pool.min_nodes)} node(s); more models or replicas fit there at no extra cost",
                    False,
                )
            )
        if need_min > pool.max_nodes:
            out.append(
                Finding(
                    "pool-too-small",
                    f"{at}: the models' min replicas need {need_min} nodes ({planned.gpus_min[pool.name]} GPUs) but "
                    f"max_nodes is {pool.max_nodes}; raise max_nodes or lower replicas.min",
                    True,
                )
            )
        elif need_max > pool.max_nodes:
            out.append(
                Finding(
                    "over-subscribed",
                    f"{at}: the models' max replicas need {need_max} nodes ({planned.gpus_max[pool.name]} GPUs) but "
                    f"max_nodes is {pool.max_nodes}, so not every model can reach its max at once; raise max_nodes "
                    "or lower replicas.max",
                    False,
                )
            )
    return out


def _team_findings(platform: PlatformSpec, result: FleetPlan) -> list[Finding]:
    out = []
    costs = result.cost_per_team()
    for team in platform.teams:
        for placement in result.placements:
            # Devices as the quota counts them (`requests.nvidia.com/gpu`): a GPU, or a MIG slice, which
            # the clouds that partition GPUs (GKE) advertise as one nvidia.com/gpu.
            held = sum(
                t.replicas_max * t.slots_per_replica
                for tenants in placement.tenants.values()
                for t in tenants
                if t.team == team.name
            )
            if held > team.gpus:
                out.append(
                    Finding(
                        "over-quota",
                        f"team {team.name} on placement {placement.name}: its models hold {held:,} GPUs at max "
                        f"replicas but its quota is {team.gpus}; lower replicas.max or raise the team's gpus",
                        True,
                    )
                )
        budget, cost = team.monthly_budget, costs.get(team.name)
        if budget is None or team.name not in costs:
            continue
        if cost is None:
            out.append(
                Finding(
                    "team-budget-unknown",
                    f"team {team.name}: monthly_budget is {budget:,.0f} USD but the cost of some model is unknown; "
                    "set placements[].price_per_gpu_hour",
                    True,
                )
            )
        elif cost > budget:
            out.append(
                Finding(
                    "team-over-budget",
                    f"team {team.name}: its models cost {cost:,.0f} USD per month at max replicas, over its "
                    f"monthly_budget {budget:,.0f} USD; lower replicas.max or raise the budget",
                    True,
                )
            )
    return out
