"""`plan(spec)`: the pure function from a validated spec to everything decided before deploying."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from inferstack import catalog
from inferstack.catalog import multinode
from inferstack.plan import scheduling
from inferstack.plan.calibration import Calibration
from inferstack.plan.capacity import (
    PlacementPlan,
    Throughput,
    cost_per_million_tokens,
    estimate_throughput,
    plan_placement,
)
from inferstack.plan.capacity import (
    sold_as as capacity_sold_as,
)
from inferstack.plan.coldstart import ColdStart, plan_cold_start
from inferstack.plan.fit import Fit, choose_fit
from inferstack.plan.memory import (
    GIB,
    EngineSettings,
    engine_settings,
    kv_bytes_per_token,
    quantized_bytes_per_parameter,
)
from inferstack.plan.rollout import Rollout, plan_rollout
from inferstack.spec.architecture import resolve_architecture
from inferstack.spec.models import DeploymentSpec, Placement

#: Kubernetes rejects a longer HPA scale-down stabilization window ("must be less than or equal to 3600",
#: autoscaling/v2 validation, as reported in kedacore/keda#4976); the ScaledObject caps it there.
MAX_SCALE_DOWN_WINDOW_SECONDS = 3600
#: Cache volumes hold the checkpoint plus this share for tokenizer files, LoRA adapters and re-fetches.
CACHE_HEADROOM = 1.25


@dataclass(frozen=True)
class Finding:
    """Something the plan found. `blocking` findings make the plan not deployable."""

    code: str
    message: str
    blocking: bool


@dataclass(frozen=True)
class Plan:
    spec: DeploymentSpec
    architecture: catalog.Architecture
    quantization: str
    fit: Fit
    tried: list[Fit]
    kv_bytes_per_token: int
    placements: list[PlacementPlan]
    throughput: Throughput
    cold_start: ColdStart
    cache_size_gib: int
    findings: list[Finding] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    #: Per placement name: how a rollout replaces replicas.
    rollouts: dict[str, Rollout] = field(default_factory=dict)

    @property
    def deployable(self) -> bool:
        return not any(f.blocking for f in self.findings)

    @property
    def monthly_cost_max(self) -> float | None:
        return total_monthly_cost(self.placements)

    @property
    def required_output_tokens_per_s(self) -> float | None:
        return required_output_tokens_per_s(self.spec)

    @property
    def replicas_needed(self) -> int | None:
        return replicas_needed(self.spec, self.throughput)

    def cost_per_million_tokens(self, placement: PlacementPlan) -> float | None:
        node = placement.node
        if node is None or node.price_per_node_hour is None:
            return None
        per_replica = node.price_per_node_hour * placement.nodes_per_replica / node.replicas_per_node
        return cost_per_million_tokens(per_replica, self.throughput)

    def _cache_tier_report(self) -> dict[str, Any]:
        """The cold-start tier report, its rollout outage as the rollouts were planned: none where they
        surge, one replica start where one replica is replaced in place (the longest over placements)."""
        report = self.cold_start.report(min((p.replicas_min for p in self.placements), default=1))
        outages = [r.outage_seconds or 0.0 for r in self.rollouts.values()]
        return {**report, "rollout_outage_seconds": round(max(outages, default=0.0))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for `inferstack plan --json` and the render report."""
        fit = self.fit
        return {
            "name": self.spec.name,
            "deployable": self.deployable,
            "model": {
                "source": self.spec.model.source,
                "revision": self.spec.model.revision,
                "architecture": self.architecture.name,
                "quantization": self.quantization,
                "kv_cache_dtype": self.spec.engine.kv_cache_dtype,
                "max_context": self.spec.model.max_context,
            },
            "engine": {"name": self.spec.engine.name, "version": self.spec.engine.version},
            "fit": {
                "fits": fit.fits,
                "reason": fit.reason,
                "gpu": fit.gpu,
                "tensor_parallel_size": fit.tp,
                "pipeline_parallel_size": fit.pp,
                "nodes_per_replica": fit.nodes,
                "gpus_per_replica": fit.gpus,
                "weights_gib": _gib(fit.weights_bytes),
                "weights_per_gpu_gib": _gib(fit.weights_per_gpu_bytes),
                "activation_gib": round(fit.overhead.activation_gib, 2),
                "non_torch_gib": round(fit.overhead.non_torch_gib, 2),
                "cuda_graph_gib": round(fit.overhead.cuda_graph_gib, 2),
                "cuda_graph_in_kv_budget": fit.overhead.cuda_graph_in_budget,
                "memory_fraction": fit.settings.memory_fraction,
                "max_num_batched_tokens": fit.settings.max_num_batched_tokens,
                "kv_pool_per_gpu_bytes": max(int(fit.kv_pool_bytes), 0),
                "kv_pool_per_gpu_gib": _gib(fit.kv_pool_bytes),
                "kv_bytes_per_token": self.kv_bytes_per_token,
                "kv_bytes_per_token_per_gpu": fit.kv.full_bytes + fit.kv.window_bytes,
                "kv_groups": fit.groups.count,
                "kv_blocks": fit.capacity.blocks,
                "kv_cache_tokens": fit.kv_tokens,
                "max_concurrency": fit.concurrency,
                "tried": [
                    {
                        "tensor_parallel_size": t.tp,
                        **({"pipeline_parallel_size": t.pp, "nodes": t.nodes} if t.nodes > 1 else {}),
                        "fits": t.fits,
                        "reason": t.reason,
                    }
                    for t in self.tried
                ],
            },
            "throughput": {
                "output_tokens_per_second": round(self.throughput.tokens_per_second, 1),
                "assumption": self.throughput.assumption,
            },
            "workload": None
            if self.spec.workload is None
            else {
                "required_output_tokens_per_second": round(self.required_output_tokens_per_s or 0.0, 1),
                "replicas_needed": self.replicas_needed,
                "replicas_max": sum(p.replicas_max for p in self.placements),
            },
            "placements": [
                {
                    "name": p.name,
                    "cloud": p.cloud,
                    "region": p.region,
                    "node_type": p.node.node_type if p.node else None,
                    "accelerator": p.node.accelerator if p.node else None,
                    "gpus_per_node": p.node.gpus_per_node if p.node else None,
                    "replicas_per_node": p.node.replicas_per_node if p.node else None,
                    "replicas": {"min": p.replicas_min, "max": p.replicas_max},
                    "nodes": {"min": p.nodes_min, "max": p.nodes_max},
                    "cost_per_hour": {"min": _money(p.cost_per_hour_min), "max": _money(p.cost_per_hour_max)},
                    "monthly_cost_max": _money(p.monthly_cost_max),
                    "cost_per_million_output_tokens": _money(self.cost_per_million_tokens(p)),
                    "price_source": p.node.price_source if p.node else None,
                    "capacity": None
                    if p.capacity is None
                    else {
                        "mode": p.capacity.mode,
                        "reservation": p.capacity.reservation,
                        "verified": p.capacity.verified,
                    },
                    "gpu_zones": list(p.gpu_zones),
                    "system_node_type": p.system_node_type,
                    "serving_pod": None
                    if p.serving_pod is None
                    else {"cpu": p.serving_pod.cpu, "memory": p.serving_pod.memory},
                    "problem": p.problem,
                    "interconnect": _interconnect(p, self.fit),
                    "rollout": None
                    if (r := self.rollouts.get(p.name)) is None
                    else {
                        "max_surge": r.max_surge,
                        "max_unavailable": r.max_unavailable,
                        "outage_seconds": None if r.outage_seconds is None else round(r.outage_seconds),
                        "reason": r.reason,
                    },
                }
                for p in self.placements
            ],
            "monthly_cost_max": _money(self.monthly_cost_max),
            "cache": {"kind": self.cold_start.tier, "size_gib": self.cache_size_gib},
            "cold_start": {
                "image_pull_seconds": round(self.cold_start.image_pull_seconds),
                "weight_fetch_seconds": round(self.cold_start.weight_fetch_seconds),
                "weight_read_seconds": round(self.cold_start.weight_read_seconds),
                "engine_init_seconds": round(self.cold_start.engine_init_seconds),
                "replica_seconds": round(self.cold_start.replica_seconds),
                "startup_probe_seconds": self.cold_start.startup_probe_seconds,
                "prefetch_deadline_seconds": self.cold_start.prefetch_deadline_seconds,
                "first_rollout_seconds": self.cold_start.first_rollout_seconds,
            },
            "cache_tier": self._cache_tier_report(),
            "findings": [{"code": f.code, "message": f.message, "blocking": f.blocking} for f in self.findings],
            "assumptions": self.assumptions,
        }


def required_output_tokens_per_s(spec: DeploymentSpec) -> float | None:
    """Output tokens per second the stated peak asks for (None without a workload)."""
    workload = spec.workload
    return workload.peak_requests_per_s * workload.output_tokens if workload else None


def replicas_needed(spec: DeploymentSpec, throughput: Throughput) -> int | None:
    """Replicas the stated peak needs at the estimated decode throughput (None without a workload)."""
    required = required_output_tokens_per_s(spec)
    if required is None or throughput.tokens_per_second <= 0:
        return None
    return math.ceil(required / throughput.tokens_per_second)


def total_monthly_cost(placements: list[PlacementPlan]) -> float | None:
    """Monthly cost at max replicas over all placements; None when any placement has no price."""
    costs = [c for p in placements if (c := p.monthly_cost_max) is not None]
    return None if len(costs) < len(placements) else sum(costs)


def _interconnect(placement: PlacementPlan, fit: Fit) -> dict[str, Any] | None:
    """The fabric a multi-node replica's node type brings (None on one node)."""
    if fit.nodes == 1:
        return None
    fabric = multinode.fabric(placement.cloud, placement.gpu_node_type)
    if fabric is None:
        return {"fabric": None, "interfaces": 0, "source": None}
    return {"fabric": fabric.kind, "interfaces": fabric.interfaces, "source": fabric.source}


def _gib(value: float) -> float:
    return round(value / GIB, 2)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def plan(spec: DeploymentSpec, device: catalog.Gpu | None = None, calibration: Calibration | None = None) -> Plan:
    """Fit, TP, KV capacity, nodes, cost and cold start for a validated spec. Pure: reads only catalogs and
    the calibration rows passed in (a team's measurements, see `inferstack calibrate`). `device` is what one
    replica's GPUs are when not the spec's whole GPU (a MIG slice, `catalog.mig`)."""
    arch = resolve_architecture(spec)
    quant = spec.quantization
    gpu = device or catalog.gpus()[spec.resources.gpu.sku]
    engine = spec.engine
    settings = engine_settings(
        engine.name,
        engine.version,
        gpu,
        kv_cache_dtype=engine.kv_cache_dtype,
        memory_fraction=engine.gpu_memory_utilization,
        max_num_batched_tokens=engine.max_num_batched_tokens,
        max_num_seqs=engine.max_concurrent_requests,
        cuda_graphs=engine.cuda_graphs,
        max_context=spec.model.max_context,
    )
    spans = [] if device else multinode.multi_node_topologies(arch, engine.name, gpu.sku)
    requested = spec.resources.gpu.count
    fit, tried = choose_fit(arch, quant, gpu, settings, spec.model.max_context, requested, spans, calibration)
    placements = [_placement(p, spec.resources.gpu.sku, fit) for p in spec.placements]
    workload = spec.workload
    throughput = estimate_throughput(
        fit,
        gpu,
        arch.active_parameters,
        arch.parameters,
        spec.cost.throughput_tokens_per_s,
        engine.max_concurrent_requests,
        workload.prompt_tokens + workload.output_tokens // 2 if workload else None,
    )
    cold = plan_cold_start(spec, fit.checkpoint_bytes, fit.gpus_per_node, placements)
    cache_gib = spec.cache.size_gib or math.ceil(fit.checkpoint_bytes * CACHE_HEADROOM / GIB)
    rollouts = {p.name: plan_rollout(p, cold.replica_seconds) for p in placements}
    findings = _findings(spec, fit, placements, cache_gib, cold, throughput, rollouts)
    findings += [Finding(*f) for f in cold.findings]
    findings += _span_findings(spec, fit, placements, bool(spans))
    findings += _scheduler_findings(spec, fit.settings)
    assumptions = [
        _engine_assumption(fit),
        f"{gpu.sku} memory {gpu.memory_gib} GiB as seen by the engine ({gpu.memory_source})",
        _weights_assumption(quant, arch, gpu.sku),
        *_overhead_assumptions(fit),
        throughput.assumption,
        "cost is on-demand list price at the catalog's price region, also for spot, flex-start and reservation "
        "capacity (their prices are not sourced, so it is the upper bound the budget is judged on); monthly figures "
        "assume 730 hours at max replicas",
        "pods are sized to node allocatable by the providers' kube-reserved formulas minus an estimated per-node "
        "DaemonSet budget (catalog/data/cloud_facts.yaml); existing clusters' nodes are not checked",
    ]
    return Plan(
        spec=spec,
        architecture=arch,
        quantization=quant,
        fit=fit,
        tried=tried,
        kv_bytes_per_token=kv_bytes_per_token(arch, engine.kv_cache_dtype),
        placements=placements,
        throughput=throughput,
        cold_start=cold,
        cache_size_gib=cache_gib,
        findings=findings,
        assumptions=assumptions,
        rollouts=rollouts,
    )


def _placement(placement: Placement, sku: str, fit: Fit) -> PlacementPlan:
    """The placement's node choice for one pod of the replica; a multi-node replica takes `fit.nodes`
    whole nodes per replica, so its node counts (and cost) are that many times more."""
    chosen = plan_placement(placement, sku, fit.gpus_per_node, fit.checkpoint_bytes)
    if fit.nodes == 1:
        return chosen
    return dataclasses.replace(
        chosen,
        nodes_min=chosen.nodes_min * fit.nodes,
        nodes_max=chosen.nodes_max * fit.nodes,
        nodes_per_replica=fit.nodes,
    )


def _scheduler_findings(spec: DeploymentSpec, settings: EngineSettings) -> list[Finding]:
    """Scheduler settings the engine refuses at startup (catalog/data/engine_memory.yaml batched_tokens_at_least_seqs)."""
    tokens, seqs = settings.max_num_batched_tokens, settings.max_num_seqs
    if not catalog.engine_memory()[settings.name].get("batched_tokens_at_least_seqs") or not tokens or not seqs:
        return []
    if tokens >= seqs:
        return []
    whose = (
        "engine.max_concurrent_requests"
        if spec.engine.max_concurrent_requests
        else f"the engine's default for {spec.resources.gpu.sku}"
    )
    return [
        Finding(
            "engine-refuses-settings",
            f"engine.max_num_batched_tokens {tokens:,} is below max_num_seqs {seqs:,} ({whose}): {settings.name} "
            f"refuses to start ('max_num_batched_tokens ({tokens}) must be greater than or equal to max_num_seqs "
            f"({seqs})'); set engine.max_num_batched_tokens to at least {seqs:,}, or engine.max_concurrent_requests "
            f"to at most {tokens:,}",
            True,
        )
    ]


def _span_findings(spec: DeploymentSpec, fit: Fit, placements: list[PlacementPlan], spans: bool) -> list[Finding]:
    """A multi-node replica: its topology, and each placement whose node type has no inter-node fabric
    (blocking: NCCL would fall back to TCP over the primary interface). One node that does not fit and an
    engine that cannot span nodes: why not."""
    span = multinode.engine_spans()[spec.engine.name]
    if not fit.fits and span.refused and spec.resources.gpu.count is None:
        return [
            Finding("no-multi-node", f"{spec.engine.name} cannot spread a replica over nodes: {span.refused}", False)
        ]
    if fit.nodes == 1 or not spans:
        return []
    out = [
        Finding(
            "multi-node",
            f"one replica spans {fit.describe()}, launched as {span.launch} ({span.source}); each pod takes a "
            "whole node, and the group starts, restarts and scales as one (LeaderWorkerSet)",
            False,
        )
    ]
    for p in placements:
        if spec.placement(p.name).platform is not None:
            out.append(
                Finding(
                    "multi-node-on-platform",
                    f"placement {p.name}: platform pools are packed per GPU on one node; a replica spanning "
                    f"{fit.nodes} nodes cannot be placed on one yet: give it its own placement (cluster), or a "
                    "larger GPU or smaller quantization that fits one node",
                    True,
                )
            )
            continue
        if p.node is not None and p.node.node_type is None:
            out.append(
                Finding(
                    "multi-node-existing-cluster",
                    f"placement {p.name}: an existing cluster's own add-ons are kept, so it must already run the "
                    "LeaderWorkerSet controller (v0.9.0 or later) and give its GPU nodes an inter-node fabric; "
                    "inferstack installs neither there",
                    False,
                )
            )
            continue
        if p.node is None:
            continue
        if multinode.fabric(p.cloud, p.node.node_type) is None:
            out.append(
                Finding(
                    "no-fabric",
                    f"placement {p.name}: {p.node.node_type} has no inter-node GPU fabric in the catalog "
                    "(catalog/data/multinode.yaml); pin a cluster.instance_type that has one",
                    True,
                )
            )
    return out


def _engine_assumption(fit: Fit) -> str:
    """Which version row of the engine's memory model the plan used, and the settings it was applied with."""
    o, s = fit.overhead, fit.settings
    return (
        f"engine memory for {s.name} {s.version}: row since {o.calibrated_since} ({o.generation}), checked up to "
        f"{o.checked_up_to}; budget {s.memory_fraction:g} of GPU memory, max_num_batched_tokens "
        f"{s.max_num_batched_tokens or 'engine default'}, max_num_seqs {s.max_num_seqs or 'engine default'}"
    )


def _overhead_assumptions(fit: Fit) -> list[str]:
    """One line per term of the engine's memory model, each with the source it came from."""
    o = fit.overhead
    graphs = "counted before the KV pool" if o.cuda_graph_in_budget else "allocated after the KV pool"
    return [
        f"activation {o.activation_gib:.2f} GiB/GPU; source: {o.sources['activation']}",
        f"non-torch {o.non_torch_gib:.2f} GiB/GPU at TP{fit.tp}; source: {o.sources['non_torch']}",
        f"CUDA graphs {o.cuda_graph_gib:.2f} GiB/GPU, {graphs}; source: {o.sources['cuda_graph']}",
        f"KV in {fit.groups.count} group(s) of {fit.groups.group_size} layers, {fit.groups.block_tokens}-token "
        f"blocks; source: {o.sources['kv']}",
        *(
            [f"measured weights and overhead from calibration: {o.sources['calibration']}"]
            if "calibration" in o.sources
            else []
        ),
    ]


def _weights_assumption(quantization: str, arch: catalog.Architecture, gpu: str) -> str:
    fmt = catalog.weight_formats()[quantization]
    kept = [g for g in ("embeddings", "attention", "router", "body") if g not in fmt.quantizes]
    return (
        f"weights {quantization}: {', '.join(fmt.quantizes) or 'nothing'} at "
        f"{quantized_bytes_per_parameter(arch, quantization, gpu):g} bytes per "
        f"parameter, {', '.join(kept) or 'nothing'} 16-bit; source: {fmt.source}"
    )


def _findings(
    spec: DeploymentSpec,
    fit: Fit,
    placements: list[PlacementPlan],
    cache_gib: int,
    cold: ColdStart,
    throughput: Throughput,
    rollouts: dict[str, Rollout],
) -> list[Finding]:
    out: list[Finding] = []
    needed, allowed = replicas_needed(spec, throughput), sum(p.replicas_max for p in placements)
    if needed is not None and fit.fits and needed > allowed:
        out.append(
            Finding(
                "under-provisioned",
                f"the stated peak needs about {needed} replicas ({required_output_tokens_per_s(spec):,.0f} output "
                f"tokens/s at {throughput.tokens_per_second:,.0f} per replica) but the placements allow {allowed}; "
                "raise replicas.max or add a placement",
                False,
            )
        )
    if not fit.fits:
        hint = (
            "use more GPUs per replica, a larger GPU, a smaller quantization, or a shorter max_context"
            if spec.resources.gpu.count
            else f"no layout up to {fit.describe()} fits: use a larger GPU, a smaller quantization, or a shorter "
            "max_context"
            if fit.nodes > 1
            else "no tensor-parallel size up to 8 fits: use a larger GPU, a smaller quantization, or a shorter max_context"
        )
        out.append(Finding("no-fit", f"{spec.name} does not fit on {fit.describe()}: {fit.reason}; {hint}", True))
    weights_gib = fit.checkpoint_bytes / GIB
    if spec.cache.size_gib is not None and cache_gib < weights_gib:
        out.append(
            Finding(
                "cache-too-small",
                f"cache.size_gib {cache_gib} is smaller than the checkpoint ({weights_gib:.1f} GiB)",
                True,
            )
        )
    for p in placements:
        if p.problem:
            out.append(Finding(p.problem_code, f"placement {p.name}: {p.problem}", True))
        out += [Finding(*f) for f in scheduling.check(p, fit.gpus_per_node, prefetch=spec.model.scheme != "pvc")]
        if p.passed_over:
            out.append(
                Finding(
                    "cheaper-node-passed-over",
                    f"placement {p.name}: {p.gpu_node_type} was chosen because cheaper node types were not usable: "
                    + "; ".join(p.passed_over),
                    False,
                )
            )
        if p.capacity is not None and not p.capacity.verified and p.gpu_node_type is not None:
            out.append(
                Finding(
                    "capacity-unverified",
                    f"placement {p.name}: no source confirms that {p.gpu_node_type} is sold as {p.capacity.mode}; it is "
                    "planned so, but check it before deploying, or put a mode it is known to be sold in "
                    f"({capacity_sold_as(p.cloud, p.gpu_node_type)}) first in placements[].capacity",
                    False,
                )
            )
        elif p.replicas_min == 1:
            rollout = rollouts[p.name]
            surge = f" (rollouts surge one replica first: {rollout.reason})" if rollout.max_surge else ""
            out.append(
                Finding(
                    "single-replica",
                    f"placement {p.name}: one replica, so every node drain is an outage of about "
                    f"{round(cold.replica_seconds)} s{surge}; set replicas.min to 2 to keep serving through them",
                    False,
                )
            )
        if (outage := rollouts[p.name].outage_seconds) is not None:
            out.append(
                Finding(
                    "rollout-outage",
                    f"placement {p.name}: rollouts cannot surge ({rollouts[p.name].reason}), so with one replica "
                    f"each rollout is an outage of about {round(outage)} s; set replicas.min to 2, and replicas.max "
                    "above it so the pool has room to surge",
                    False,
                )
            )
        if p.node is not None and p.problem is None and p.idle_gpus_at_min:
            out.append(
                Finding(
                    "idle-gpus",
                    f"placement {p.name}: {p.idle_gpus_at_min} GPU(s) idle at min replicas on {p.nodes_min}x "
                    f"{p.node.node_type or 'node'}; raise replicas.min or pick a smaller node type",
                    False,
                )
            )
        if p.node is not None and p.node.price_per_node_hour is None:
            out.append(
                Finding(
                    "cost-unknown",
                    f"placement {p.name}: no price known; set placements[].price_per_gpu_hour",
                    False,
                )
            )
    delay = spec.autoscaling.scale_down_delay_seconds
    if spec.autoscaling.enabled and delay > MAX_SCALE_DOWN_WINDOW_SECONDS:
        out.append(
            Finding(
                "scale-down-delay-capped",
                f"autoscaling.scale_down_delay_seconds {delay} is longer than the {MAX_SCALE_DOWN_WINDOW_SECONDS} s the "
                f"HPA accepts as a scale-down stabilization window; {MAX_SCALE_DOWN_WINDOW_SECONDS} s is used",
                False,
            )
        )
    native = resolve_architecture(spec).native_quantization or "none"
    if spec.engine.quantization and spec.engine.quantization != native:
        out.append(
            Finding(
                "quantized-at-load",
                f"weights are served as {spec.engine.quantization} but the checkpoint is {native}: the engine "
                "quantizes them at load, so quality may differ from the published model; evaluate it, or serve "
                "a pre-quantized checkpoint",
                False,
            )
        )
    budget = spec.compliance.monthly_budget
    if budget is not None:
        total = total_monthly_cost(placements)
        if total is None:
            out.append(
                Finding(
                    "budget-unknown",
                    f"compliance.monthly_budget is {budget:,.0f} USD but the cost of some placement is unknown; "
                    "set placements[].price_per_gpu_hour",
                    True,
                )
            )
        elif total > budget:
            out.append(
                Finding(
                    "over-budget",
                    f"monthly cost at max replicas is {total:,.0f} USD, over compliance.monthly_budget {budget:,.0f} USD; "
                    "lower replicas.max, choose a cheaper GPU, or raise the budget",
                    True,
                )
            )
    return out
