"""The platform document (`kind: Platform`): shared clusters per placement, their GPU node pools, the
teams that run models on them, and the organisation's compliance baseline every model inherits.

Model specs attach to a platform placement by reference (`spec.fleet` binds them); this module only
validates the document itself: field shapes, unique names, and the rules judged from the platform
alone (each pool's GPU, MIG profile and node type against the catalog and the baseline).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from inferstack import catalog, contract
from inferstack.catalog import endpoints, mig
from inferstack.spec import patterns
from inferstack.spec.models import (
    CloudName,
    Cluster,
    Compliance,
    Endpoint,
    GpuRequest,
    Placement,
    Strict,
    _dns_name,
    _pattern,
    _region_code,
)
from inferstack.spec.rules import describe_lock, region_allowed
from inferstack.spec.suggest import closest
from inferstack.spec.values import FieldProblem, RuleViolations, Violation

PLATFORM_KIND = "Platform"
#: Top-level entries `inferstack render DIR` writes beside the placement folders (render.fleet_contents).
FLEET_RENDER_TOP_LEVEL = ("dashboards", "rules", "models", "fleet.json", "fleet.txt")
#: The folder, inside each placement's, of the objects the platform shares (never a model name: not a DNS label).
SHARED_FOLDER = "_platform"


class GpuPool(Strict):
    """One GPU node pool of a platform placement: the GPU, the node shape, how many nodes, how they are
    bought and, for small models, the MIG profile every GPU is split into."""

    name: str = Field(
        description="Pool name (a DNS label); model specs may name it in `placements[].pool`.",
        json_schema_extra=_pattern(patterns.NAME),
    )
    gpu: str = Field(description="GPU SKU of the pool's nodes, e.g. H100, L4 (aliases accepted).")
    gpus_per_node: int | None = Field(
        default=None,
        ge=1,
        le=8,
        strict=True,
        description="GPUs per node. New clusters: selects the catalog node type (default: the smallest offered); "
        "existing clusters: required, what the pool's nodes carry.",
    )
    instance_type: str | None = Field(
        default=None,
        description="New clusters: node type; defaults to the catalog's offering for the cloud, region, GPU and "
        "gpus_per_node.",
        json_schema_extra=_pattern(patterns.NODE_TYPE),
    )
    capacity: list[str] | None = Field(
        default=None,
        description="How the pool's nodes are bought, most preferred first (as placements[].capacity); defaults to "
        "the platform placement's `capacity`.",
    )
    min_nodes: int = Field(default=0, ge=0, le=1000, strict=True, description="Nodes kept running.")
    max_nodes: int = Field(ge=1, le=1000, strict=True, description="Most nodes the pool may grow to.")
    mig: str | None = Field(
        default=None,
        description="MIG profile every GPU of the pool is partitioned into (e.g. 3g.40gb on H100), so several "
        "small-model replicas share one GPU; see catalog/data/mig.yaml.",
    )
    node_labels: dict[
        Annotated[str, Field(json_schema_extra=_pattern(patterns.LABEL_KEY, 253))],
        Annotated[str, Field(json_schema_extra=_pattern(patterns.LABEL_VALUE))],
    ] = Field(
        default_factory=dict,
        description="Existing clusters: labels that select this pool's nodes (e.g. nvidia.com/gpu.product).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "pool name")

    @field_validator("gpu")
    @classmethod
    def _gpu(cls, value: str) -> str:
        return GpuRequest._sku(value)

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str | None) -> str | None:
        return Cluster._instance_type(value)

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, value: object) -> object:
        return value if value is None else Placement._capacity(value)

    @field_validator("node_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return Cluster._node_labels(value)


class SystemPool(Strict):
    """The CPU pool for cluster services and prefetch Jobs (GPU nodes are tainted for serving pods)."""

    instance_type: str | None = Field(
        default=None,
        description="Node type; defaults to the smallest system node type that holds the prefetch Job.",
        json_schema_extra=_pattern(patterns.NODE_TYPE),
    )
    min_nodes: int = Field(default=2, ge=1, le=100, strict=True, description="Nodes kept running.")
    max_nodes: int = Field(default=4, ge=1, le=100, strict=True, description="Most nodes.")

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str | None) -> str | None:
        return Cluster._instance_type(value)

    @model_validator(mode="after")
    def _ordered(self) -> SystemPool:
        if self.min_nodes > self.max_nodes:
            raise FieldProblem(
                f"min_nodes ({self.min_nodes}) is greater than max_nodes ({self.max_nodes})",
                "min_nodes <= max_nodes",
                "lower min_nodes or raise max_nodes",
            )
        return self


class PlatformAddons(Strict):
    """Cluster add-ons installed once per platform cluster (never per model)."""

    device_plugin: bool = Field(default=True, description="NVIDIA device plugin (advertises nvidia.com/gpu).")
    dcgm_exporter: bool = Field(default=True, description="NVIDIA DCGM exporter (GPU metrics).")
    keda: bool = Field(default=True, description="KEDA, which scales models on their engines' signals.")
    prometheus_stack: bool = Field(default=True, description="kube-prometheus-stack (Prometheus, Grafana, rules).")


class PlatformPlacement(Strict):
    """One shared cluster of the platform: where it runs and the node pools models land on."""

    name: str = Field(description="Placement name (a DNS label).", json_schema_extra=_pattern(patterns.NAME))
    cloud: CloudName = Field(description="aws, gcp, or kubernetes (an existing cluster).")
    region: str = Field(description="Cloud region code.", json_schema_extra=_pattern(patterns.REGION))
    zones: list[Annotated[str, Field(json_schema_extra=_pattern(patterns.REGION))]] = Field(
        default_factory=list, max_length=16, description="Zones to spread nodes over; defaults to the region's."
    )
    network_cidr: str | None = Field(
        default=None,
        description="New clusters: the placement's private /16; defaults to one derived from the platform and "
        "placement names.",
    )
    cluster: Cluster = Field(default_factory=Cluster, description="New or existing cluster, as in a model spec.")
    gpu_pools: Annotated[list[GpuPool], Field(min_length=1, max_length=32)] = Field(
        description="GPU node pools (at least one)."
    )
    system_pool: SystemPool = Field(default_factory=SystemPool, description="The CPU pool.")
    addons: PlatformAddons = Field(default_factory=PlatformAddons, description="Add-ons installed once.")
    price_per_gpu_hour: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        allow_inf_nan=False,
        description="kubernetes placements: what a GPU-hour costs you, USD.",
    )
    capacity: list[str] = Field(
        default_factory=lambda: ["on_demand"],
        min_length=1,
        description="Default capacity preference of the pools (as placements[].capacity in a model spec).",
    )
    endpoint: Endpoint | None = Field(
        default=None,
        description="One authenticated endpoint for every model bound to this placement, routed by the OpenAI "
        "`model` field (as a model spec's endpoint section); none by default.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "placement name")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _region_code(value)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        return Placement._zones(value)

    @field_validator("network_cidr")
    @classmethod
    def _network_cidr(cls, value: str | None) -> str | None:
        return Placement._network_cidr(value)

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, value: object) -> object:
        return Placement._capacity(value)

    def network(self, platform: str) -> ipaddress.IPv4Network:
        """The placement's private /16: `network_cidr`, else the one derived from the names."""
        return ipaddress.IPv4Network(self.network_cidr or contract.default_network(platform, self.name))

    def cluster_name(self, platform: str) -> str:
        """The shared cluster's name: the document's `cluster.name` or context, else `<platform>-<placement>`."""
        return contract.cluster_name(platform, self.name, self.cluster.name or self.cluster.context)

    def pool(self, name: str) -> GpuPool:
        """The GPU pool called `name`; ValueError naming the pools there are."""
        for candidate in self.gpu_pools:
            if candidate.name == name:
                return candidate
        raise ValueError(f"placement {self.name!r} has no pool {name!r}; pools: {_names(self.gpu_pools)}")

    def pool_capacity(self, pool: GpuPool) -> list[str]:
        """How `pool`'s nodes are bought: its own preference, else the placement's."""
        return pool.capacity or self.capacity


class Team(Strict):
    """A team that owns models: one namespace per cluster with a GPU quota, and a monthly budget."""

    name: str = Field(description="Team name (a DNS label): its namespace.", json_schema_extra=_pattern(patterns.NAME))
    gpus: int = Field(
        ge=0,
        le=100_000,
        strict=True,
        description="GPU quota of the team's namespace in each cluster: GPUs, where a MIG slice counts as one (as "
        "Kubernetes counts nvidia.com/gpu on GKE).",
    )
    monthly_budget: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Most the team's models may cost per month together at max replicas, USD.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "team name")


class PlatformSpec(Strict):
    """The platform document: shared clusters per placement, teams, and the compliance baseline."""

    kind: Literal["Platform"] = Field(description="Always Platform: tells the document from a model spec.")
    name: str = Field(
        description="Platform name (a DNS label): model specs refer to it, and it names the shared resources.",
        json_schema_extra=_pattern(patterns.NAME),
    )
    compliance: Compliance = Field(
        default_factory=Compliance,
        description="The organisation baseline: every model inherits it and may narrow it, never widen it.",
    )
    teams: list[Team] = Field(default_factory=list, max_length=1000, description="Teams that own models.")
    placements: Annotated[list[PlatformPlacement], Field(min_length=1, max_length=64)] = Field(
        description="Shared clusters (at least one)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, "platform name")

    def placement(self, name: str) -> PlatformPlacement:
        """The platform placement called `name`; ValueError naming the placements there are."""
        for candidate in self.placements:
            if candidate.name == name:
                return candidate
        raise ValueError(f"platform {self.name!r} has no placement {name!r}; placements: {_names(self.placements)}")

    def team(self, name: str) -> Team:
        """The team called `name`; ValueError naming the teams there are."""
        for candidate in self.teams:
            if candidate.name == name:
                return candidate
        raise ValueError(f"platform {self.name!r} has no team {name!r}; teams: {_names(self.teams) or 'none'}")

    @model_validator(mode="after")
    def _rules(self) -> PlatformSpec:
        violations = list(platform_violations(self))
        if violations:
            raise RuleViolations(violations)
        return self


def _names(items: list) -> str:
    return ", ".join(item.name for item in items)


def _repeated(names: list[str]) -> Iterator[int]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield i
        seen.add(name)


def offering_for(placement: PlatformPlacement, pool: GpuPool) -> catalog.Offering | None:
    """The catalog node type of a pool on a cloud that creates clusters: `instance_type` when given,
    else the offering in the region with the pool's GPU (and `gpus_per_node` when given) with the
    fewest GPUs, then the lowest price. None when the catalog has none."""
    shapes = [
        o
        for o in catalog.offerings()
        if o.cloud == placement.cloud
        and o.gpu == pool.gpu
        and placement.region in o.regions
        and pool.gpus_per_node in (None, o.gpus)
        and pool.instance_type in (None, o.node_type)
    ]
    return min(shapes, key=lambda o: (o.gpus, o.price_per_hour, o.node_type), default=None)


def platform_violations(platform: PlatformSpec) -> Iterator[Violation]:
    """Rules judged from the platform document alone: unique names, networks apart, every pool's node
    type offered, and every placement and pool inside the baseline."""
    rules = platform.compliance
    for i in _repeated([t.name for t in platform.teams]):
        yield Violation(f"teams[{i}].name", platform.teams[i].name, "team names must be unique", hint="rename it")
    for i in _repeated([p.name for p in platform.placements]):
        yield Violation(
            f"placements[{i}].name", platform.placements[i].name, "placement names must be unique", hint="rename it"
        )
    networks: list[tuple[str, ipaddress.IPv4Network]] = []
    for i, placement in enumerate(platform.placements):
        at = f"placements[{i}]"
        if placement.name in FLEET_RENDER_TOP_LEVEL:
            yield Violation(
                f"{at}.name",
                placement.name,
                "names a folder `inferstack render` writes beside the placements",
                f"any DNS label but {', '.join(FLEET_RENDER_TOP_LEVEL[:3])}",
                "rename the placement",
            )
        yield from _placement_violations(platform, placement, at)
        if placement.cluster.kind == "new" and catalog.cloud_profile(placement.cloud).creates_clusters:
            network = placement.network(platform.name)
            for other, taken in networks:
                if network.overlaps(taken):
                    yield Violation(
                        f"{at}.network_cidr",
                        str(network),
                        f"overlaps placement {other!r} ({taken}): one VPN could not reach both",
                        "a private /16 no other placement uses",
                        f"set {at}.network_cidr to an unused /16",
                    )
            networks.append((placement.name, network))
        if rules.allowed_clouds and placement.cloud not in rules.allowed_clouds:
            yield Violation(
                f"{at}.cloud",
                placement.cloud,
                "cloud not allowed by compliance.allowed_clouds",
                ", ".join(rules.allowed_clouds),
            )
        if not region_allowed(placement.region, rules.residency, rules.allowed_regions):
            yield Violation(
                f"{at}.region",
                placement.region,
                f"outside the baseline's region lock ({describe_lock(rules.residency, rules.allowed_regions)})",
                hint="move the placement, or widen compliance.residency / allowed_regions",
            )
        if placement.endpoint is not None and placement.endpoint.exposure == "public" and rules.private_networking:
            yield Violation(
                f"{at}.endpoint.exposure",
                "public",
                "a public endpoint while compliance.private_networking is true (INF013)",
                "private",
                f"set {at}.endpoint.exposure: private, or compliance.private_networking: false where the "
                "organisation allows it",
            )
        tls = placement.endpoint.tls.source if placement.endpoint is not None else "none"
        if tls not in ("cert_manager", "none") and placement.cloud not in endpoints.terminating_clouds(tls):
            yield Violation(
                f"{at}.endpoint.tls.source",
                tls,
                f"a certificate the load balancer serves, and the endpoint on {placement.cloud} has no load balancer "
                f"that serves {tls} certificates",
                f"cert_manager, or {tls} on {', '.join(endpoints.terminating_clouds(tls))}",
                f"set {at}.endpoint.tls.source: cert_manager with an issuer (the gateway serves the certificate)",
            )


def _placement_violations(platform: PlatformSpec, placement: PlatformPlacement, at: str) -> Iterator[Violation]:
    rules = platform.compliance
    builds = catalog.cloud_profile(placement.cloud).creates_clusters and placement.cluster.kind == "new"
    for j in _repeated([p.name for p in placement.gpu_pools]):
        yield Violation(
            f"{at}.gpu_pools[{j}].name", placement.gpu_pools[j].name, "pool names must be unique", hint="rename it"
        )
    for j, pool in enumerate(placement.gpu_pools):
        where = f"{at}.gpu_pools[{j}]"
        if pool.min_nodes > pool.max_nodes:
            yield Violation(
                f"{where}.min_nodes",
                pool.min_nodes,
                f"greater than max_nodes ({pool.max_nodes})",
                "min_nodes <= max_nodes",
                "lower min_nodes or raise max_nodes",
            )
        if pool.mig is not None and mig.profile(pool.gpu, pool.mig) is None:
            known = [p.profile for p in mig.profiles_of(pool.gpu)]
            yield Violation(
                f"{where}.mig",
                pool.mig,
                f"not a MIG profile of {pool.gpu}",
                ", ".join(known) or f"none: {pool.gpu} cannot be partitioned (catalog/data/mig.yaml)",
                suggestion=closest(pool.mig, known),
            )
        if pool.mig is not None and not catalog.cloud_profile(placement.cloud).partitions_gpus:
            yield Violation(
                f"{where}.mig",
                pool.mig,
                f"MIG slices need a cluster that partitions its GPUs itself, and {placement.cloud} clusters do not "
                "(EKS and existing clusters leave it to the NVIDIA GPU operator's MIG manager, which inferstack "
                "does not install)",
                "clouds whose clusters partition GPUs: "
                + ", ".join(n for n, p in catalog.cloud_profiles().items() if p.partitions_gpus),
                "move the pool to a placement on one of those clouds, or use whole GPUs",
            )
        if rules.allowed_gpus and pool.gpu not in rules.allowed_gpus:
            yield Violation(
                f"{where}.gpu", pool.gpu, "GPU not allowed by compliance.allowed_gpus", ", ".join(rules.allowed_gpus)
            )
        if builds and offering_for(placement, pool) is None:
            offered = sorted(
                {
                    f"{o.node_type} ({o.gpus} GPU)"
                    for o in catalog.offerings()
                    if o.cloud == placement.cloud and o.gpu == pool.gpu and placement.region in o.regions
                }
            )
            wanted = pool.instance_type or f"node with {pool.gpus_per_node or 'any number of'} {pool.gpu} GPU(s)"
            yield Violation(
                where,
                None,
                f"{placement.cloud} offers no {wanted} in {placement.region}",
                ", ".join(offered) or f"no {pool.gpu} node type in {placement.region}",
                "pick an offered node type or GPU count, or another region",
            )
        if not builds and pool.gpus_per_node is None:
            yield Violation(
                f"{where}.gpus_per_node",
                None,
                "required on an existing cluster: the planner cannot look its nodes up",
                hint="write how many GPUs each of the pool's nodes has",
            )
        if not builds and pool.instance_type is not None:
            yield Violation(
                f"{where}.instance_type",
                pool.instance_type,
                "only for clusters inferstack creates",
                hint="remove it, and select the pool's nodes with node_labels",
            )
