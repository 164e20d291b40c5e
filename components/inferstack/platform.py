"""`Platform`: the ComponentResource that builds a platform's clusters once, for many models.

Per platform placement it asks the placement's cloud for the network, cluster, one GPU node pool per
planned pool (`PoolPlan`), add-ons (monitoring included) and cache storage, then creates the shared
objects every model on the cluster relies on (team namespaces and GPU quotas, `kube.platform`). Models
attach with `ModelDeployment(..., platform=platform.clusters)`; another stack reads the platform through
`Platform.outputs`, exported by the stack program as `platform` (see `PlatformCluster.from_outputs`).

Decisions written down:

- Child names are `<platform>-<placement>-...`, from names only: adding, removing or reordering models
  never touches the platform, and each model's own resources are named after the model.
- `SharedCluster` is the same for an existing cluster that several standalone specs of one stack run
  on: its add-ons are installed once, named after the cluster, so the specs no longer collide.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from inferstack import contract
from inferstack.clouds import cloud_for_cluster
from inferstack.clouds.addons import AddonSettings
from inferstack.clouds.base import ClusterContext, ExistingNetwork
from inferstack.deployment import (
    EndpointAddress,
    PlatformCluster,
    endpoint_keys,
    kube_resource,
    with_balancer_certificate,
    with_keys_secret,
)
from inferstack.kube import endpoint as gateway
from inferstack.kube.platform import platform_objects
from inferstack.monitoring.fleet import platform_monitoring
from inferstack.plan.fleet import FleetPlan, PlatformPlacementPlan
from inferstack.spec.models import Cluster
from inferstack.spec.platform import PlatformPlacement, PlatformSpec

TYPE = "inferstack:index:Platform"
SHARED_CLUSTER_TYPE = "inferstack:index:SharedCluster"


def pool_exports(where: PlatformPlacement, planned: PlatformPlacementPlan) -> dict[str, dict[str, Any]]:
    """What a model stack needs to know of each GPU pool, by the platform document's pool name: its GPU,
    node type, the labels its nodes carry (the GPU, or on a MIG pool the slice) and the taint serving
    pods tolerate."""
    return {
        spec.name: {
            "gpu": pool.gpu_sku,
            "nodeType": pool.node.node_type,
            "nodeLabels": {contract.GPU_NODE_LABEL: pool.device, contract.POOL_LABEL: contract.GPU_POOL},
            "taints": [{"key": contract.GPU_TAINT_KEY, "effect": contract.GPU_TAINT_EFFECT}],
            "migProfile": pool.mig_profile,
        }
        for spec, pool in zip(where.gpu_pools, planned.pools, strict=True)
    }


class Platform(pulumi.ComponentResource):
    """Every cluster of a platform document, built once: network, cluster, GPU pools, add-ons and
    monitoring, cache storage, team namespaces and quotas."""

    clusters: dict[str, PlatformCluster]
    """The cluster of each platform placement, for `ModelDeployment(..., platform=...)`."""
    outputs: dict[str, dict[str, Any]]
    """Per placement what model stacks need (the stack program exports it as `platform`): cloud,
    region, clusterName, kubeconfig (secret; None for existing clusters), prometheusUrl,
    cacheStorageClass (None where the cloud offers no class claims can use alone) and pools."""
    endpoint_addresses: dict[str, EndpointAddress]
    """Where each platform placement with an `endpoint` answers."""

    def __init__(
        self,
        name: str,
        fleet: FleetPlan,
        opts: pulumi.ResourceOptions | None = None,
        *,
        networks: Mapping[str, ExistingNetwork] | None = None,
        api_keys: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        platform = fleet.fleet.platform
        if platform is None:
            raise ValueError("a Platform needs a fleet with a platform document")
        self.fleet = fleet
        self.clusters = {}
        self.outputs = {}
        self.endpoint_addresses = {}
        for planned in fleet.placements:
            where = platform.placement(planned.name)
            ctx = _context(name, self, platform, where, planned, (networks or {}).get(planned.name))
            cloud = cloud_for_cluster(where.cloud, where.cluster)
            infra = cloud.build_cluster(ctx)
            objects = _with_gateway_keys(_shared_objects(fleet, planned.name), fleet, planned.name, api_keys)
            objects = with_balancer_certificate(
                objects, gateway.platform_site(fleet, planned.name), infra, ctx.name, self
            )
            shared: list[pulumi.Resource] = [
                kube_resource(
                    f"{ctx.name}-{obj['kind'].lower()}-{obj['metadata']['name']}",
                    obj,
                    pulumi.ResourceOptions(parent=self, provider=infra.cluster.provider, depends_on=infra.ready),
                )
                for obj in objects
            ]
            if (site := gateway.platform_site(fleet, planned.name)) is not None:
                created = {f"{o['kind']}/{o['metadata']['name']}": r for o, r in zip(objects, shared, strict=True)}
                self.endpoint_addresses[planned.name] = EndpointAddress.of(site, created)
            storage_class = cloud.claimable_cache_class
            self.clusters[planned.name] = PlatformCluster(planned.name, infra, storage_class, ready=shared)
            self.outputs[planned.name] = {
                "cloud": where.cloud,
                "region": where.region,
                "clusterName": infra.cluster.name,
                "kubeconfig": pulumi.Output.secret(infra.cluster.kubeconfig) if infra.cluster.kubeconfig else None,
                "prometheusUrl": where.cluster.prometheus_url or contract.PROMETHEUS_URL,
                "cacheStorageClass": storage_class,
                "pools": pool_exports(where, planned),
            }
        self.register_outputs({"platform": self.outputs})


def _shared_objects(fleet: FleetPlan, placement: str) -> list[dict]:
    """What a platform cluster holds once, exactly as `inferstack render DIR` writes it: team namespaces
    and quotas, and the cluster's own monitoring."""
    return platform_objects(fleet, placement) + platform_monitoring(fleet, placement)


def _with_gateway_keys(
    objects: list[dict], fleet: FleetPlan, placement: str, keys: Mapping[str, str] | None
) -> list[dict]:
    """`objects` with the placement's gateway Secret of key hashes, when the placement has an endpoint
    (keys from `keys`, else the secret config `inferstack:apiKeys`)."""
    site = gateway.platform_site(fleet, placement)
    if site is None:
        return objects
    return with_keys_secret(objects, site, endpoint_keys(f"{site.name} in {placement}", site.endpoint, keys))


def _context(
    name: str,
    parent: pulumi.Resource,
    platform: PlatformSpec,
    where: PlatformPlacement,
    planned: PlatformPlacementPlan,
    network: ExistingNetwork | None,
) -> ClusterContext:
    addons = where.addons
    return ClusterContext(
        name=f"{name}-{where.name}",
        parent=parent,
        placement=where.name,
        cloud=where.cloud,
        region=where.region,
        zones=tuple(where.zones),
        network=where.network(platform.name),
        cluster=where.cluster,
        cluster_name=planned.cluster_name,
        private=platform.compliance.private_networking,
        encrypted=platform.compliance.encryption,
        tags=contract.cloud_tags(platform.name, where.name),
        pools=planned.pools,
        system_node_type=planned.system_node_type,
        system_nodes=(where.system_pool.min_nodes, where.system_pool.max_nodes),
        addons=AddonSettings(
            device_plugin=addons.device_plugin,
            dcgm_exporter=addons.dcgm_exporter,
            keda=addons.keda,
            prometheus_stack=addons.prometheus_stack,
        ),
        existing_network=network,
    )


class SharedCluster(pulumi.ComponentResource):
    """An existing cluster that several standalone specs of one stack run on: its add-ons once."""

    cluster: PlatformCluster

    def __init__(
        self,
        name: str,
        cluster: Cluster,
        cloud: str,
        region: str,
        addons: AddonSettings = AddonSettings(),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(SHARED_CLUSTER_TYPE, name, None, opts)
        ctx = ClusterContext(
            name=name,
            parent=self,
            placement=name,
            cloud=cloud,
            region=region,
            zones=(),
            network=ipaddress.IPv4Network(contract.default_network(name, name)),
            cluster=cluster,
            cluster_name=cluster.name or cluster.context or name,
            private=True,
            encrypted=True,
            tags=contract.cloud_tags(name, name),
            pools=(),
            addons=addons,
        )
        infra = cloud_for_cluster(cloud, cluster).build_cluster(ctx)
        self.cluster = PlatformCluster(name, infra)
        self.register_outputs({"clusterName": infra.cluster.name})


def shared_existing_clusters(specs: Sequence[Any]) -> dict[tuple, list[tuple[str, str]]]:
    """Existing clusters that more than one standalone spec uses, keyed by how they are reached
    (kubeconfig file and context, else cloud and name): key -> [(spec name, placement name)]."""
    users: dict[tuple, list[tuple[str, str]]] = {}
    for spec in specs:
        for where in spec.placements:
            cluster = where.cluster
            if cluster.kind != "existing" or where.platform is not None:
                continue
            key = (
                ("kubeconfig", cluster.kubeconfig, cluster.context)
                if cluster.kubeconfig or cluster.context
                else (
                    "name",
                    where.cloud,
                    cluster.name,
                )
            )
            users.setdefault(key, []).append((spec.name, where.name))
    return {key: found for key, found in users.items() if len({s for s, _ in found}) > 1}


__all__ = ["Platform", "SharedCluster", "pool_exports", "shared_existing_clusters"]
