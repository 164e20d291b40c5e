"""A private GKE cluster for one placement: private nodes (and a private control-plane endpoint when
compliance asks for private networking), Workload Identity, application-layer secrets encryption with
a Cloud KMS key in the placement's region, Dataplane V2 (enforces NetworkPolicies), shielded nodes,
the Filestore CSI driver, and a small system node pool run by a least-privilege service account.
GKE installs the NVIDIA device plugin and, with `gpu_driver_version: LATEST`, the driver."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from inferstack.clouds.base import exec_kubeconfig
from inferstack.clouds.gcp.network import GcpNetwork
from inferstack.contract import POOL_LABEL, SYSTEM_POOL

RELEASE_CHANNEL = "REGULAR"
#: GKE limits cluster names to 40 characters.
MAX_CLUSTER_NAME = 40
SYSTEM_MACHINE_TYPE = "e2-standard-4"
SYSTEM_NODES = (1, 3)
KEY_ROTATION = "7776000s"  # 90 days
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@dataclass(frozen=True)
class GkeClusterSettings:
    cluster_name: str
    region: str
    private_endpoint: bool
    encrypt_secrets: bool
    #: The /28 the control plane's private endpoint takes in the placement's network.
    control_plane_cidr: str
    operator_cidrs: tuple[str, ...] = ()
    #: Ports on pods the control plane must reach beyond GKE's defaults (443, 10250), for the add-ons
    #: installed (KEDA's metrics server 6443 and webhooks 9443; see catalog cloud_facts).
    control_plane_ports: tuple[int, ...] = ()
    #: The system pool's machine type and (min, max) nodes; the defaults when None.
    system_node_type: str | None = None
    system_nodes: tuple[int, int] | None = None
    #: GKE multi-networking (additional node networks for GPU NICs, `clouds.gcp.fabric`); needs Dataplane V2.
    multi_networking: bool = False


def node_config_base(service_account: pulumi.Input[str], labels: dict[str, str]) -> dict:
    """What every inferstack node pool shares: shielded boot, GKE metadata server, own service account."""
    return {
        "service_account": service_account,
        "oauth_scopes": OAUTH_SCOPES,
        "labels": labels,
        "shielded_instance_config": gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True,
            enable_integrity_monitoring=True,
        ),
        "workload_metadata_config": gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
        "metadata": {"disable-legacy-endpoints": "true"},
    }


def kubeconfig(cluster: gcp.container.Cluster) -> pulumi.Output[str]:
    """A kubeconfig that authenticates through `gke-gcloud-auth-plugin` (no static credentials)."""

    def render(args: list[str]) -> str:
        name, endpoint, ca = args
        plugin = {
            "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "installHint": "gcloud components install gke-gcloud-auth-plugin",
        }
        return exec_kubeconfig(name, f"https://{endpoint}", ca, plugin)

    return pulumi.Output.secret(
        pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(render)
    )


class GkeCluster(pulumi.ComponentResource):
    """GKE control plane, KMS key, node service account and system pool. Pass the region's
    `gcp.Provider` in `opts`."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    kms_key_id: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        settings: GkeClusterSettings,
        network: GcpNetwork,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:gcp:GkeCluster", name, None, opts)
        if len(settings.cluster_name) > MAX_CLUSTER_NAME:
            raise ValueError(
                f"placements[].cluster.name: GKE cluster names have at most {MAX_CLUSTER_NAME} characters and "
                f"{settings.cluster_name!r} has {len(settings.cluster_name)}; set placements[].cluster.name to a shorter name"
            )
        region = settings.region
        child = pulumi.ResourceOptions(parent=self)
        project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=self))
        key = None
        key_grants: list[pulumi.Resource] = []
        if settings.encrypt_secrets:
            ring = gcp.kms.KeyRing(f"{name}-keyring", location=region, opts=child)
            key = gcp.kms.CryptoKey(
                f"{name}-key",
                key_ring=ring.id,
                rotation_period=KEY_ROTATION,
                purpose="ENCRYPT_DECRYPT",
                labels=tags,
                opts=child,
            )
            key_grants.append(
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-key-gke",
                    crypto_key_id=key.id,
                    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                    member=project.number.apply(
                        lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"
                    ),
                    opts=child,
                )
            )
        account_id = "inferstack-" + hashlib.sha1(settings.cluster_name.encode()).hexdigest()[:12]
        nodes_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=account_id,
            display_name=f"inferstack nodes of {settings.cluster_name}",
            opts=child,
        )
        grants = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[-1].replace('.', '-')}",
                project=project.project_id,
                role=role,
                member=nodes_sa.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
            for role in NODE_ROLES
        ]
        private = gcp.container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True,
            enable_private_endpoint=settings.private_endpoint,
            master_ipv4_cidr_block=settings.control_plane_cidr,
        )
        cluster = gcp.container.Cluster(
            f"{name}-gke",
            name=settings.cluster_name,
            location=region,
            network=network.network_id,
            subnetwork=network.subnetwork_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=network.pods_range,
                services_secondary_range_name=network.services_range,
            ),
            private_cluster_config=private,
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=network.subnetwork_cidr,
                        display_name="cluster subnet",
                    )
                ]
                + [
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=cidr,
                        display_name=f"operators {i}",
                    )
                    for i, cidr in enumerate(settings.operator_cidrs)
                ],
            ),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=project.project_id.apply(lambda p: f"{p}.svc.id.goog"),
            ),
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key.id)
            if key is not None
            else None,
            datapath_provider="ADVANCED_DATAPATH",
            enable_multi_networking=True if settings.multi_networking else None,
            enable_shielded_nodes=True,
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=RELEASE_CHANNEL),
            addons_config=gcp.container.ClusterAddonsConfigArgs(
                gcp_filestore_csi_driver_config=gcp.container.ClusterAddonsConfigGcpFilestoreCsiDriverConfigArgs(
                    enabled=True
                ),
            ),
            remove_default_node_pool=True,
            initial_node_count=1,
            deletion_protection=True,
            resource_labels=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=key_grants,
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="90m", delete="45m"),
            ),
        )
        system = gcp.container.NodePool(
            f"{name}-system",
            cluster=cluster.id,
            location=region,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=(settings.system_nodes or SYSTEM_NODES)[0],
                total_max_node_count=(settings.system_nodes or SYSTEM_NODES)[1],
                location_policy="BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=settings.system_node_type or SYSTEM_MACHINE_TYPE,
                disk_size_gb=50,
                disk_type="pd-balanced",
                **node_config_base(nodes_sa.email, {POOL_LABEL: SYSTEM_POOL}),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=grants,
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="60m", delete="30m"),
            ),
        )
        if settings.control_plane_ports:
            # Private nodes accept only 443 and 10250 from the control plane; add-ons that serve the
            # API server (aggregated APIs, webhooks) need their own ports opened from its range.
            gcp.compute.Firewall(
                f"{name}-control-plane-addons",
                network=network.network_id,
                direction="INGRESS",
                source_ranges=[settings.control_plane_cidr],
                target_service_accounts=[nodes_sa.email],
                allows=[
                    gcp.compute.FirewallAllowArgs(
                        protocol="tcp", ports=[str(port) for port in settings.control_plane_ports]
                    )
                ],
                description="inferstack: control plane to add-on pods (KEDA metrics server and webhooks)",
                opts=child,
            )
        self.cluster = cluster
        self.system_nodes = system
        self.project_number = project.number
        self.project_id = project.project_id
        self.cluster_name = cluster.name
        self.kubeconfig = kubeconfig(cluster)
        self.node_service_account = nodes_sa.email
        self.kms_key_id = key.id if key is not None else None
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig})
