"""GCP: VPC with Cloud NAT, private GKE, a GPU node pool, a Filestore weight cache.

Every resource goes through an explicit `gcp.Provider(region=...)` for its placement, and every
regional resource names its location (`region`/`location`) itself. The project comes from the `gcp`
config namespace (`pulumi config set gcp:project ...`) or the environment (GOOGLE_PROJECT).
GKE ships the NVIDIA device plugin, so the shared add-ons skip it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_gcp as gcp

from inferstack.catalog import cloud_facts, multinode
from inferstack.catalog.multinode import Fabric
from inferstack.clouds.base import (
    CacheStorage,
    Cloud,
    ClusterContext,
    ClusterHandle,
    ClusterInfra,
    EndpointTarget,
    PlacementContext,
    PlacementInfra,
    existing_network_of,
    former_child_parent,
    ingress_address,
    kubernetes_provider,
    object_store_sources,
)
from inferstack.clouds.gcp.cluster import GkeCluster, GkeClusterSettings
from inferstack.clouds.gcp.dns import cloud_dns_record_set
from inferstack.clouds.gcp.gpudirect import gpudirect_objects
from inferstack.clouds.gcp.network import ExistingNetwork, GcpNetwork, SubnetLayout
from inferstack.clouds.gcp.node_pool import GkeGpuNodePool
from inferstack.clouds.gcp.weight_cache import FilestoreCacheStorage, FilestoreWeightCache
from inferstack.contract import prefetch_service_account
from inferstack.plan.capacity import PlacementPlan
from inferstack.plan.pools import PoolPlan
from inferstack.plan.traffic import GlobalRoute


def workload_identity_principal(project_number: str, project_id: str, namespace: str, service_account: str) -> str:
    """The IAM principal of a Kubernetes service account under Workload Identity Federation for GKE
    (cloud.google.com/kubernetes-engine/docs/how-to/workload-identity, "principal://" identifiers)."""
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{project_id}.svc.id.goog/subject/ns/{namespace}/sa/{service_account}"
    )


#: APIs a fresh project must have enabled before the stack's resources can be created: networks and
#: firewalls (compute), GKE (container), Filestore (file), Cloud KMS keys (cloudkms), service accounts (iam).
REQUIRED_APIS = (
    "compute.googleapis.com",
    "container.googleapis.com",
    "file.googleapis.com",
    "cloudkms.googleapis.com",
    "iam.googleapis.com",
)

#: Boot disk types in order of preference for GPU nodes (image pulls of 10-30 GB want SSD-class disks).
BOOT_DISK_PREFERENCE = ("pd-ssd", "hyperdisk-balanced", "pd-balanced")


def _pool_fabric(pool: PoolPlan) -> Fabric | None:
    """The GPU networking a pool's nodes get: their machine type's, where the pool serves replicas that
    span nodes."""
    return multinode.fabric("gcp", pool.node.node_type) if pool.spans_nodes else None


def boot_disk(machine_type: str) -> str:
    """The preferred boot disk the machine type accepts (cloud_facts boot_disks; A3 Ultra boots only
    from hyperdisk-balanced)."""
    allowed = cloud_facts.node_facts("gcp", machine_type).boot_disks
    return next((disk for disk in BOOT_DISK_PREFERENCE if disk in allowed), allowed[0] if allowed else "pd-balanced")


@dataclass(frozen=True)
class GcpNetworkHandle:
    """What `GcpCloud.network` hands on: the region's provider, the network and how the placement's
    /16 is cut (nodes, services, pods, the control plane's range)."""

    provider: gcp.Provider
    network: GcpNetwork
    layout: SubnetLayout


@dataclass(kw_only=True)
class GkeClusterHandle(ClusterHandle):
    """A GKE cluster ready for Kubernetes objects, with what the node pool and cache need."""

    gke: GkeCluster
    gcp_provider: gcp.Provider


class GcpCloud(Cloud[GcpNetworkHandle, GkeClusterHandle]):
    name = "gcp"
    device_plugin_builtin = True
    # No dynamic cache claims: the Filestore CSI driver applies fsGroup to ReadWriteOnce volumes only, so
    # a share it provisions stays root-owned and the non-root prefetch Job could not write it.
    # GKE installs the NVIDIA driver on the host and injects its libraries only into pods that request
    # a GPU; the exporter requests none, so it mounts them itself (NVIDIA/dcgm-exporter#484, #59).
    dcgm_exporter_values: ClassVar[dict[str, Any]] = {
        "securityContext": {"privileged": True},
        "extraHostVolumes": [{"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"}],
        "extraVolumeMounts": [{"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True}],
    }

    # GKE Dataplane V2 (ADVANCED_DATAPATH) replaces kube-proxy, so there is nothing to scrape; Prometheus
    # keeps its samples on a disk from GKE's default StorageClass (pd-balanced, `standard-rwo`).
    prometheus_stack_values: ClassVar[dict[str, Any]] = {
        "kubeProxy": {"enabled": False},
        "prometheus": {
            "prometheusSpec": {
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": "standard-rwo",
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "50Gi"}},
                        }
                    }
                }
            }
        },
    }

    def network(self, ctx: ClusterContext) -> GcpNetworkHandle:
        provider = gcp.Provider(
            f"{ctx.name}-gcp",
            region=ctx.region,
            project=pulumi.Config("gcp").get("project"),
            opts=pulumi.ResourceOptions(parent=ctx.parent),
        )
        apis = [
            gcp.projects.Service(
                f"{ctx.name}-api-{api.split('.')[0]}",
                service=api,
                # Other stacks in the project may rely on the API: never turn it off on destroy.
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=ctx.parent, provider=provider),
            )
            for api in REQUIRED_APIS
        ]
        layout = SubnetLayout.of(ctx.network)
        existing = existing_network_of(ctx, ExistingNetwork)
        network = GcpNetwork(
            f"{ctx.name}-network",
            ctx.region,
            layout,
            existing,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[provider], depends_on=apis),
        )
        return GcpNetworkHandle(provider, network, layout)

    def cluster(self, ctx: ClusterContext, network: GcpNetworkHandle) -> GkeClusterHandle:
        addon_ports = cloud_facts.control_plane_ports(self.name).missing_for(ctx.addons_wanted.installed())
        gke = GkeCluster(
            f"{ctx.name}-cluster",
            GkeClusterSettings(
                ctx.cluster_name,
                ctx.region,
                private_endpoint=ctx.private,
                encrypt_secrets=ctx.encrypted,
                operator_cidrs=ctx.operator_cidrs,
                system_node_type=ctx.system_node_type,
                system_nodes=ctx.system_nodes,
                control_plane_cidr=network.layout.control_plane,
                multi_networking=any(_pool_fabric(pool) for pool in ctx.pools),
                # Ports once each: add-ons may share one (KEDA's and LWS's webhooks both listen on 9443).
                control_plane_ports=tuple(dict.fromkeys(port.port for port in addon_ports)),
            ),
            network.network,
            ctx.tags,
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
        )
        provider = kubernetes_provider(ctx, gke.kubeconfig, depends_on=[gke.cluster])
        return GkeClusterHandle(
            name=gke.cluster_name,
            provider=provider,
            kubeconfig=gke.kubeconfig,
            ready=[gke.system_nodes],
            gke=gke,
            gcp_provider=network.provider,
        )

    def gpu_node_pool(
        self, ctx: ClusterContext, pool: PoolPlan, network: GcpNetworkHandle, cluster: GkeClusterHandle
    ) -> GkeGpuNodePool:
        gke = cluster.gke
        node = pool.node
        if node.node_type is None or node.accelerator is None:
            raise ValueError(f"placement {ctx.placement!r} has no GPU machine type to build node pool {pool.name} from")
        return GkeGpuNodePool(
            f"{ctx.name}-{pool.name}",
            cluster_id=gke.cluster.id,
            region=ctx.region,
            zones=list(pool.gpu_zones or ctx.zones),
            machine_type=node.node_type,
            accelerator=node.accelerator,
            gpus_per_node=node.gpus_per_node,
            gpu_sku=pool.device,
            partition=pool.mig_profile,
            nodes_min=pool.nodes_min,
            nodes_max=pool.nodes_max,
            service_account=gke.node_service_account,
            capacity_mode=pool.capacity.mode,
            reservation=pool.capacity.reservation,
            boot_disk=boot_disk(node.node_type),
            local_nvme=pool.local_nvme,
            depends_on=[gke.system_nodes],
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
            fabric=_pool_fabric(pool),
        )

    def fabric_objects(
        self, ctx: ClusterContext, cluster: GkeClusterHandle, pools: list[Any], after: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """GPUDirect-TCPX/TCPXO pools: the GPU NIC networks as GKE multi-network objects, the NCCL plugin
        installer and the NRI device injector (`clouds.gcp.gpudirect`)."""
        gke_pools = [p for p in pools if isinstance(p, GkeGpuNodePool)]
        return gpudirect_objects(ctx.name, gke_pools, ctx.parent, cluster.provider, after)

    def source_access(self, ctx: PlacementContext, cluster: GkeClusterHandle) -> list[pulumi.Resource]:
        """gs:// sources: the prefetch service account, through Workload Identity Federation for GKE
        (a direct principal, no Google service account), gets objectViewer on each source bucket."""
        grants = []
        for source in object_store_sources(ctx.plan, "gs"):
            grants.append(
                gcp.storage.BucketIAMMember(
                    f"{ctx.name}-weights-reader-{source.bucket}",
                    bucket=source.bucket,
                    role="roles/storage.objectViewer",
                    member=pulumi.Output.all(cluster.gke.project_number, cluster.gke.project_id).apply(
                        lambda ids: workload_identity_principal(
                            ids[0], ids[1], ctx.plan.spec.namespace, prefetch_service_account(ctx.plan.spec.name)
                        )
                    ),
                    opts=pulumi.ResourceOptions(parent=ctx.parent, provider=cluster.gcp_provider),
                )
            )
        return grants

    def cache_storage(
        self, ctx: ClusterContext, network: GcpNetworkHandle, cluster: GkeClusterHandle
    ) -> FilestoreCacheStorage:
        gke = cluster.gke
        return FilestoreCacheStorage(
            f"{ctx.name}-cache-storage",
            storage_class=self.profile.storage_class or "",
            network_name=network.network.network_name,
            k8s_provider=cluster.provider,
            kms_key_id=gke.kms_key_id,
            project_number=gke.project_number,
            depends_on=[gke.system_nodes],
            formerly=(
                former_child_parent(ctx.parent, "inferstack:gcp:WeightCache", f"{ctx.name}-cache"),
                f"{ctx.name}-cache",
            ),
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[network.provider]),
        )

    def weight_cache(
        self, ctx: PlacementContext, infra: ClusterInfra[GcpNetworkHandle, GkeClusterHandle]
    ) -> CacheStorage:
        storage: FilestoreCacheStorage = infra.cache
        cache = FilestoreWeightCache(
            f"{ctx.name}-cache",
            region=ctx.region,
            tags=ctx.tags,
            cache=ctx.cache_volume(),
            owner_image=ctx.plan.spec.cache.fetcher_image,
            storage=storage,
            k8s_provider=infra.cluster.provider,
            depends_on=[infra.cluster.gke.system_nodes],
            opts=pulumi.ResourceOptions(parent=ctx.parent, providers=[infra.network.provider]),
        )
        return CacheStorage(storage.storage_class_name, ready=[cache, *storage.ready])

    def global_records(
        self, name: str, route: GlobalRoute, targets: list[EndpointTarget], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        return cloud_dns_record_set(name, route, targets, opts)

    def endpoint_target(
        self, placement: PlacementPlan, infra: PlacementInfra, status: pulumi.Input[Any], port: int
    ) -> EndpointTarget:
        """The internal load balancer's IP with the network and project Cloud DNS health-checks it in:
        known only for a cluster this stack built (a ValueError otherwise)."""
        network, cluster = infra.infra.network, infra.infra.cluster
        if not (isinstance(network, GcpNetworkHandle) and isinstance(cluster, GkeClusterHandle)):
            raise ValueError(
                f"placement {placement.name!r}: a Cloud DNS target names its load balancer's network and project, "
                "which this stack knows only for a GKE cluster it builds"
            )
        return EndpointTarget(
            placement.name,
            placement.region,
            ingress_address(status, "ip"),
            port,
            network=network.network.network_id,
            project=cluster.gke.project_id,
            provider=network.provider,
        )


__all__ = [
    "ExistingNetwork",
    "FilestoreCacheStorage",
    "FilestoreWeightCache",
    "GcpCloud",
    "GcpNetwork",
    "GcpNetworkHandle",
    "GkeCluster",
    "GkeClusterHandle",
    "GkeGpuNodePool",
]
