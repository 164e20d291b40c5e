"""The interface every cloud implements for one placement, and the context it is handed.

A `Cloud` builds a cluster once (`build_cluster`, from a `ClusterContext`) and attaches models to it
(`attach`, from a model's `PlacementContext`). In this order:

1. `network`: a private network for the cluster (new, or an existing one named in the spec);
2. `cluster`: the Kubernetes cluster (new or existing) and a `pulumi_kubernetes.Provider` for it;
3. `gpu_node_pool`: one per `PoolPlan` (node type, accelerator, min/max nodes), labelled
   `inferstack.dev/gpu: <SKU>` and tainted `nvidia.com/gpu:NoSchedule`;
4. `addons`: Helm releases the serving layer needs (device plugin, DCGM exporter, KEDA, ...);
5. `cache_storage`: the cluster's ReadWriteMany storage driver and the StorageClass cache claims ask
   for (`inferstack-efs` on AWS, `inferstack-filestore` on GCP; none on existing clusters, whose
   default or named class is used);
6. per model, `weight_cache`: the model's cache on that storage, reserved for its claim, and
   `source_access`: identity for the prefetch Job to read object-store sources.

A standalone spec builds its own cluster (`build`: both halves, children named `<deployment>-<placement>`
and parented to the deployment); a platform builds each cluster once and many models attach to it.

Clouds only turn the plan into resources: every decision (node type, counts, sizes, timeouts) is read
from the `Plan`. Per-cloud differences stay in the cloud's package, and what the pure layers need to
know about a cloud is its catalog profile (`Cloud.profile`), so code outside `clouds/` never branches
on a cloud name. The interface is typed: each cloud names its network and cluster handle types
(`Cloud[NetworkT, ClusterT]`) and hands them from one step to the next instead of keeping state.
Every child is parented to the placement's component and named from `PlacementContext.name`
(`<component>-<placement>`), never from a list index.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from inferstack import catalog, contract
from inferstack.clouds.addons import AddonSettings, ClusterAddons
from inferstack.kube.objects import cache_claim_name
from inferstack.plan import Plan
from inferstack.plan.capacity import CapacityChoice, PlacementPlan
from inferstack.plan.pools import PoolPlan
from inferstack.plan.traffic import GlobalRoute
from inferstack.spec.models import Cluster, Placement

#: Root volume for GPU nodes: engine images are 10-30 GB compressed and unpack to twice that.
GPU_ROOT_VOLUME_GIB = 200
#: How long cloud APIs may take to create a cluster or a GPU node pool (GPU capacity is scarce).
CLUSTER_TIMEOUT = "60m"
NODE_POOL_TIMEOUT = "60m"


@dataclass(frozen=True)
class ExistingNetwork:
    """A network inferstack should use instead of creating one; each cloud defines its own kind."""


@dataclass(frozen=True)
class ClusterContext:
    """Everything a cloud needs to build one cluster. `name` prefixes every child resource name and
    `parent` owns them all."""

    name: str
    parent: pulumi.Resource
    #: Placement name (for messages) and the cloud it runs on.
    placement: str
    cloud: str
    region: str
    zones: tuple[str, ...]
    #: The cluster's private /16.
    network: ipaddress.IPv4Network
    cluster: Cluster
    cluster_name: str
    private: bool
    encrypted: bool
    tags: dict[str, str]
    pools: tuple[PoolPlan, ...]
    #: The system (CPU) pool's node type and (min, max) nodes; the cloud's defaults when None.
    system_node_type: str | None = None
    system_nodes: tuple[int, int] | None = None
    addons: AddonSettings = AddonSettings()
    #: A network to use instead of creating one; it must be the placement's cloud's own kind.
    existing_network: ExistingNetwork | None = None

    @property
    def operator_cidrs(self) -> tuple[str, ...]:
        return tuple(self.cluster.operator_cidrs)

    @property
    def addons_wanted(self) -> AddonSettings:
        """`addons` with the LeaderWorkerSet controller on where a GPU pool serves replicas that span nodes."""
        if any(pool.spans_nodes for pool in self.pools):
            return dataclasses.replace(self.addons, lws=True)
        return self.addons


@dataclass(frozen=True)
class PlacementContext:
    """Everything a cloud needs for one model in one placement. `name` prefixes every child resource name."""

    name: str
    plan: Plan
    placement: PlacementPlan
    parent: pulumi.Resource
    addons: AddonSettings = AddonSettings()
    #: A network to use instead of creating one; it must be the placement's cloud's own kind.
    existing_network: ExistingNetwork | None = None

    @property
    def spec_placement(self) -> Placement:
        return self.plan.spec.placement(self.placement.name)

    @property
    def region(self) -> str:
        return self.placement.region

    @property
    def zones(self) -> list[str]:
        return list(self.spec_placement.zones)

    @property
    def private(self) -> bool:
        return self.plan.spec.compliance.private_networking

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The placement's private /16 (`Placement.network`): unique across the spec's placements."""
        return self.spec_placement.network(self.plan.spec.name)

    @property
    def operator_cidrs(self) -> tuple[str, ...]:
        return tuple(self.spec_placement.cluster.operator_cidrs)

    @property
    def encrypted(self) -> bool:
        return self.plan.spec.compliance.encryption

    @property
    def cluster_name(self) -> str:
        """The cluster's own name (`Placement.cluster_name`; also the monitoring `cluster` label)."""
        return self.spec_placement.cluster_name(self.plan.spec.name)

    @property
    def gpu_sku(self) -> str:
        return self.plan.fit.gpu

    @property
    def storage_class(self) -> str | None:
        return self.plan.spec.cache.storage_class or catalog.cloud_profile(self.placement.cloud).storage_class

    @property
    def creates_cache_storage(self) -> bool:
        """False when the spec names its own StorageClass or the weights already sit on a claim (pvc://)."""
        spec = self.plan.spec
        return spec.cache.storage_class is None and spec.model.scheme != "pvc"

    @property
    def capacity(self) -> CapacityChoice:
        """How the placement's GPU nodes are bought (the plan's choice; on-demand when none was made)."""
        return self.placement.capacity or CapacityChoice("on_demand", None, True)

    @property
    def tags(self) -> dict[str, str]:
        """Cloud tags/labels on every taggable resource (lowercase, label-safe on GCP too)."""
        return contract.cloud_tags(self.plan.spec.name, self.placement.name)

    def cluster_context(self) -> ClusterContext:
        """The cluster this model builds for itself when it is not on a platform: named and parented
        like the model's own resources, with the one GPU pool its plan asks for."""
        pool = PoolPlan.of_placement(self.placement, self.gpu_sku)
        if pool is not None and self.plan.cold_start.tier == "node_local":
            pool = dataclasses.replace(pool, local_nvme=True)
        return ClusterContext(
            name=self.name,
            parent=self.parent,
            placement=self.placement.name,
            cloud=self.placement.cloud,
            region=self.region,
            zones=tuple(self.zones),
            network=self.network,
            cluster=self.spec_placement.cluster,
            cluster_name=self.cluster_name,
            private=self.private,
            encrypted=self.encrypted,
            tags=self.tags,
            pools=(pool,) if pool is not None else (),
            system_node_type=self.placement.system_node_type,
            addons=self.addons,
            existing_network=self.existing_network,
        )

    def cache_volume(self) -> CacheVolume:
        """The PersistentVolume values that reserve this placement's cache for the plan's claim."""
        storage_class = self.storage_class
        if storage_class is None:
            raise ValueError(f"placement {self.placement.name!r} has no StorageClass for its weight cache")
        spec = self.plan.spec
        return CacheVolume(
            name=f"{spec.name}-weights-{self.placement.name}",
            storage_class=storage_class,
            size_gib=self.plan.cache_size_gib,
            namespace=spec.namespace,
            claim=cache_claim_name(self.plan),
            deployment=spec.name,
        )


@dataclass(frozen=True)
class ObjectStoreSource:
    """A bucket and prefix the prefetch Job reads weights from (the model's or a LoRA adapter's)."""

    bucket: str
    prefix: str


def object_store_sources(plan: Plan, scheme: str) -> list[ObjectStoreSource]:
    """The `scheme://bucket/prefix` sources of the model and its adapters, in spec order, deduplicated."""
    found: list[ObjectStoreSource] = []
    for source in plan.spec.model.weight_sources:
        kind, _, rest = source.partition("://")
        if kind != scheme:
            continue
        bucket, _, prefix = rest.partition("/")
        entry = ObjectStoreSource(bucket, prefix.strip("/"))
        if entry not in found:
            found.append(entry)
    return found


@dataclass(frozen=True)
class CacheVolume:
    """Plain values of the PersistentVolume that reserves a cloud cache for one deployment's claim."""

    name: str
    storage_class: str
    size_gib: int
    namespace: str
    claim: str
    deployment: str


@dataclass(kw_only=True)
class ClusterHandle:
    """A cluster ready for Kubernetes objects: its name, the provider that reaches it, and the
    kubeconfig inferstack generated (None for existing clusters, whose kubeconfig the user owns).
    Clouds subclass it to hand their own cluster details to the later steps."""

    name: pulumi.Input[str]
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str] | None = None
    #: Resources the Kubernetes objects must wait for (e.g. node pools, access entries).
    ready: list[pulumi.Resource] = field(default_factory=list)


@dataclass
class CacheStorage:
    """The weight cache's storage: the StorageClass the cache claim names and what the claim waits for."""

    storage_class: str | None
    ready: list[pulumi.Resource] = field(default_factory=list)


NetworkT = TypeVar("NetworkT")
ClusterT = TypeVar("ClusterT", bound=ClusterHandle)


@dataclass
class ClusterInfra(Generic[NetworkT, ClusterT]):
    """What a cloud built for one cluster: handed to every model that attaches to it."""

    network: NetworkT
    cluster: ClusterT
    node_pools: list[pulumi.Resource] = field(default_factory=list)
    addons: list[pulumi.Resource] = field(default_factory=list)
    #: The cluster's cache storage (`Cloud.cache_storage`); None where the cloud makes none.
    cache: Any = None

    @property
    def ready(self) -> list[pulumi.Resource]:
        """Everything serving objects on this cluster depend on."""
        return [*self.cluster.ready, *self.node_pools, *self.addons]


@dataclass
class PlacementInfra:
    """What one model has in one placement: the cluster it runs on and its own cache and identity."""

    infra: ClusterInfra
    cache: CacheStorage
    #: Cloud identity bindings that let the prefetch Job read object-store sources.
    source_access: list[pulumi.Resource] = field(default_factory=list)

    @property
    def cluster(self) -> ClusterHandle:
        return self.infra.cluster

    @property
    def ready(self) -> list[pulumi.Resource]:
        """Everything serving objects depend on."""
        return [*self.infra.ready, *self.cache.ready, *self.source_access]


@dataclass(frozen=True)
class EndpointTarget:
    """One placement's private endpoint as a global DNS name reaches it: the internal load balancer of
    the placement's gateway Service (`status.loadBalancer.ingress[0]`). AWS aliases `address`, the NLB's
    host name; GCP health-checks `address`, the internal load balancer's IP, on `port` in `network`
    (a network URL, projects/P/global/networks/N) of `project`."""

    placement: str
    region: str
    address: pulumi.Input[str]
    port: int
    network: pulumi.Input[str] | None = None
    project: pulumi.Input[str] | None = None
    #: The cloud provider the records are created with (the placement's own; None: the default provider).
    provider: pulumi.ProviderResource | None = None


def first_ingress(status: Any) -> dict[str, Any]:
    """The first load-balancer ingress (`hostname`, `ip`) of a Service's status, {} while it has none. The
    status is the SDK's output type (attributes) or, as the engine's mocks return it, a dict."""

    def part(value: Any, key: str) -> Any:
        return value.get(key) if isinstance(value, dict) else getattr(value, key, None)

    for ingress in part(part(status, "load_balancer") or {}, "ingress") or []:
        found = {key: part(ingress, key) for key in ("hostname", "ip")}
        if found["hostname"] or found["ip"]:
            return found
    return {}


def ingress_address(status: pulumi.Input[Any], field: str) -> pulumi.Output[str]:
    """`field` (hostname or ip) of the first ingress of a LoadBalancer Service's `status`; a ValueError while
    the Service has none (Pulumi waits for a LoadBalancer Service's ingress before its status resolves)."""

    def read(value: Any) -> str:
        found = first_ingress(value).get(field)
        if not found:
            raise ValueError(f"the gateway Service's load balancer reports no {field}: {value!r}")
        return str(found)

    return pulumi.Output.from_input(status).apply(read)


class Cloud(ABC, Generic[NetworkT, ClusterT]):
    """One cloud behind the shared interface, registered in `inferstack.clouds.REGISTRY`. A cloud keeps
    no state between steps: what `network` makes is handed to `cluster`, and so on."""

    #: Registry key: the spec's `placements[].cloud`.
    name: ClassVar[str]
    #: True where the platform installs the NVIDIA device plugin itself (GKE).
    device_plugin_builtin: ClassVar[bool] = False
    #: Extra values for the DCGM exporter chart on this platform (e.g. where its driver libraries live).
    dcgm_exporter_values: ClassVar[dict[str, Any]] = {}
    #: Extra values for kube-prometheus-stack on this platform (e.g. persistent storage, no kube-proxy).
    prometheus_stack_values: ClassVar[dict[str, Any]] = {}
    #: True where a cache claim of the profile's StorageClass works alone, without a volume reserved for
    #: it (the storage it provisions is writable by the serving UID): what models on a platform in
    #: another stack use.
    dynamic_cache_claims: ClassVar[bool] = False

    @property
    def claimable_cache_class(self) -> str | None:
        """The StorageClass a model's cache claim can use alone on this cloud's clusters (what a platform
        offers models, also across stacks); None where a claim needs a volume reserved for it."""
        return self.profile.storage_class if self.dynamic_cache_claims else None

    @property
    def profile(self) -> catalog.CloudProfile:
        """What the pure layers know about this cloud (storage class, node labels, zone rules)."""
        return catalog.cloud_profile(self.name)

    @abstractmethod
    def network(self, ctx: ClusterContext) -> NetworkT:
        """Create or look up the network."""

    @abstractmethod
    def cluster(self, ctx: ClusterContext, network: NetworkT) -> ClusterT:
        """Create or connect to the cluster; returns it with a Kubernetes provider."""

    @abstractmethod
    def gpu_node_pool(
        self, ctx: ClusterContext, pool: PoolPlan, network: NetworkT, cluster: ClusterT
    ) -> pulumi.Resource | None:
        """The GPU node pool `pool` describes; None where the cluster already has GPU nodes."""

    def cache_storage(self, ctx: ClusterContext, network: NetworkT, cluster: ClusterT) -> Any:
        """The cluster's storage for weight caches (driver and StorageClass), handed to `weight_cache`;
        None where the cloud makes none (existing clusters)."""
        return None

    def weight_cache(self, ctx: PlacementContext, infra: ClusterInfra[NetworkT, ClusterT]) -> CacheStorage:
        """One model's weight cache on the cluster's cache storage; by default the StorageClass alone."""
        return CacheStorage(ctx.storage_class)

    def source_access(self, ctx: PlacementContext, cluster: ClusterT) -> list[pulumi.Resource]:
        """Cloud identity for the prefetch service account to read the spec's object-store sources in
        this cloud (read-only, scoped to them); none where the cloud has no object store of its own."""
        return []

    def addons(self, ctx: ClusterContext, cluster: ClusterT, after: list[pulumi.Resource]) -> list[pulumi.Resource]:
        """Helm add-ons; clouds add their own (e.g. the cluster autoscaler on EKS) by overriding."""
        settings = ctx.addons_wanted
        if self.device_plugin_builtin and settings.device_plugin:
            settings = dataclasses.replace(settings, device_plugin=False)
        component = ClusterAddons(
            f"{ctx.name}-addons",
            settings=settings,
            dcgm_values=self.dcgm_exporter_values,
            prometheus_values=self.prometheus_stack_values,
            opts=pulumi.ResourceOptions(
                parent=ctx.parent, providers={"kubernetes": cluster.provider}, depends_on=after
            ),
        )
        return [component]

    def fabric_objects(
        self, ctx: ClusterContext, cluster: ClusterT, pools: list[Any], after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """Kubernetes objects the cluster's pods need to use its GPU pools' inter-node fabric (`pools` as
        `gpu_node_pool` built them); none where the fabric needs nothing in the cluster."""
        return []

    def global_records(
        self, name: str, route: GlobalRoute, targets: list[EndpointTarget], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """The DNS records that serve `route` over `targets` (in the route's order), named from `name`.
        Only clouds with a row in catalog/data/dns.yaml have them; the spec's rules keep other clouds'
        placements out of global endpoints."""
        raise NotImplementedError(f"cloud {self.name!r} writes no DNS records (no row in catalog/data/dns.yaml)")

    def endpoint_target(
        self, placement: PlacementPlan, infra: PlacementInfra, status: pulumi.Input[Any], port: int
    ) -> EndpointTarget:
        """The `EndpointTarget` of a placement's gateway, from its LoadBalancer Service's `status` (the
        internal load balancer's host name or IP) and `port`, with what this cloud's DNS needs from `infra`."""
        raise NotImplementedError(f"cloud {self.name!r} writes no DNS records (no row in catalog/data/dns.yaml)")

    def endpoint_certificate(
        self, name: str, hostname: str, zone: str, infra: ClusterInfra[NetworkT, ClusterT], opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """A certificate for `hostname` that this cloud's load balancer serves, validated with DNS records in
        `zone`, named from `name`: its id once issued (what the gateway Service's annotation carries). Only
        clouds whose load balancer row in catalog/data/endpoints.yaml has `tls` make one; the spec's rules
        keep other clouds' placements from asking."""
        raise NotImplementedError(f"cloud {self.name!r} has no load balancer that serves its own certificates")

    def build_cluster(self, ctx: ClusterContext, with_cache: bool = True) -> ClusterInfra[NetworkT, ClusterT]:
        """Network, cluster, GPU node pools, add-ons and (with `with_cache`) cache storage, in
        dependency order."""
        network = self.network(ctx)
        cluster = self.cluster(ctx, network)
        pools = [p for pool in ctx.pools if (p := self.gpu_node_pool(ctx, pool, network, cluster)) is not None]
        addons = self.addons(ctx, cluster, [*cluster.ready, *pools])
        addons += self.fabric_objects(ctx, cluster, pools, [*cluster.ready, *pools])
        cache = self.cache_storage(ctx, network, cluster) if with_cache else None
        return ClusterInfra(network, cluster, pools, addons, cache)

    def attach(self, ctx: PlacementContext, infra: ClusterInfra[NetworkT, ClusterT]) -> PlacementInfra:
        """One model's weight cache and source identity on a cluster built by `build_cluster`."""
        cache = (
            self.weight_cache(ctx, infra)
            if ctx.creates_cache_storage and infra.cache is not None
            else CacheStorage(ctx.storage_class)
        )
        return PlacementInfra(infra=infra, cache=cache, source_access=self.source_access(ctx, infra.cluster))

    def build(self, ctx: PlacementContext) -> PlacementInfra:
        """Everything for a model that brings its own cluster: `build_cluster`, then `attach`."""
        return self.attach(ctx, self.build_cluster(ctx.cluster_context(), with_cache=ctx.creates_cache_storage))


ExistingNetworkT = TypeVar("ExistingNetworkT", bound=ExistingNetwork)


def existing_network_of(ctx: ClusterContext, kind: type[ExistingNetworkT]) -> ExistingNetworkT | None:
    """The placement's existing network when one was given; a TypeError when it is another cloud's kind
    (never silently ignored)."""
    given = ctx.existing_network
    if given is None:
        return None
    if not isinstance(given, kind):
        raise TypeError(
            f"placement {ctx.placement!r} runs on {ctx.cloud} and needs a {kind.__module__}."
            f"{kind.__name__}, not a {type(given).__module__}.{type(given).__name__}"
        )
    return given


def former_child_parent(parent: pulumi.Resource, type_: str, name: str) -> pulumi.Output[str]:
    """The URN a component of `type_` called `name` under `parent` has (or had): for aliases of
    resources that moved out of it."""

    def urn(parent_urn: str) -> str:
        head = parent_urn.rpartition("::")[0]
        return f"{head}${type_}::{name}"

    return parent.urn.apply(urn)


def exec_kubeconfig(name: str, server: str, ca: str, credentials: dict[str, Any]) -> str:
    """A one-cluster kubeconfig (JSON) whose user runs `credentials` (a client.authentication.k8s.io
    exec plugin) for short-lived tokens: no static credentials are ever written."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "users": [
                {
                    "name": name,
                    "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", **credentials}},
                }
            ],
        }
    )


def kubernetes_provider(
    ctx: ClusterContext,
    kubeconfig: pulumi.Input[str] | None = None,
    context: str | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> k8s.Provider:
    """The provider every Kubernetes object of this placement uses (server-side apply, no default
    namespace so every object names its own)."""
    return k8s.Provider(
        f"{ctx.name}-k8s",
        kubeconfig=kubeconfig,
        context=context,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(parent=ctx.parent, depends_on=depends_on or []),
    )


def static_cache_volume(
    name: str,
    volume: CacheVolume,
    csi: dict[str, Any],
    provider: k8s.Provider,
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> k8s.core.v1.PersistentVolume:
    """A PersistentVolume reserved (claimRef) for the deployment's cache claim, so the claim binds to the
    storage inferstack created and sized, never to a dynamically provisioned one. Reclaim policy
    Retain: deleting the claim never deletes the weights."""
    spec: k8s.core.v1.PersistentVolumeSpecArgsDict = {
        "capacity": {"storage": f"{volume.size_gib}Gi"},
        "access_modes": ["ReadWriteMany"],
        "persistent_volume_reclaim_policy": "Retain",
        "storage_class_name": volume.storage_class,
        "claim_ref": {"namespace": volume.namespace, "name": volume.claim},
        "csi": csi,  # pyright: ignore[reportAssignmentType] - the clouds' CSI dicts carry Outputs
    }
    return k8s.core.v1.PersistentVolume(
        name,
        metadata={
            "name": volume.name,
            "labels": {
                contract.LABEL_NAME: volume.deployment,
                contract.LABEL_COMPONENT: "weight-cache",
                contract.LABEL_MANAGED_BY: contract.MANAGED_BY,
            },
        },
        spec=spec,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on),
    )


__all__ = [
    "GPU_ROOT_VOLUME_GIB",
    "AddonSettings",
    "CacheStorage",
    "CacheVolume",
    "Cloud",
    "ClusterContext",
    "ClusterHandle",
    "ClusterInfra",
    "ExistingNetwork",
    "ObjectStoreSource",
    "PlacementContext",
    "PlacementInfra",
    "exec_kubeconfig",
    "existing_network_of",
    "former_child_parent",
    "kubernetes_provider",
    "object_store_sources",
    "static_cache_volume",
]
