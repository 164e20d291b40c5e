"""The GPU node pool of one GKE placement, from the plan's node choice."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from inferstack import catalog
from inferstack.catalog.multinode import Fabric
from inferstack.clouds.base import GPU_ROOT_VOLUME_GIB, NODE_POOL_TIMEOUT
from inferstack.clouds.gcp.cluster import node_config_base
from inferstack.clouds.gcp.fabric import gpu_network_configs
from inferstack.contract import GPU_NODE_LABEL, GPU_POOL, GPU_TAINT_KEY, POOL_LABEL


def _reservation_affinity(
    capacity_mode: str, reservation: str | None
) -> gcp.container.NodePoolNodeConfigReservationAffinityArgs | None:
    """Consume the named reservation; flex-start nodes consume none (GKE requires it); else GKE's default."""
    if capacity_mode == "reservation":
        return gcp.container.NodePoolNodeConfigReservationAffinityArgs(
            consume_reservation_type="SPECIFIC_RESERVATION",
            key="compute.googleapis.com/reservation-name",
            values=[reservation or ""],
        )
    if capacity_mode == "flex_start":
        return gcp.container.NodePoolNodeConfigReservationAffinityArgs(consume_reservation_type="NO_RESERVATION")
    return None


def local_ssd_config(machine_type: str) -> gcp.container.NodePoolNodeConfigEphemeralStorageLocalSsdConfigArgs:
    """Every Local SSD of the machine type backing the node's ephemeral storage: GKE assembles them into one
    RAID0 array mounted at /mnt/stateful_partition/kube-ephemeral-ssd, where the node_local cache tier's
    directory lives (catalog/data/cold_start.yaml, `local_nvme` has the disk count per machine type)."""
    drives = catalog.cold_start()["local_nvme"][machine_type]["drives"]
    return gcp.container.NodePoolNodeConfigEphemeralStorageLocalSsdConfigArgs(local_ssd_count=drives)


class GkeGpuNodePool(pulumi.ComponentResource):
    """Machine type and accelerators from the plan, driver installed by GKE (LATEST), GPU label and
    taint, shielded nodes, GKE metadata server, autoscaling between the plan's node bounds."""

    node_pool_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        cluster_id: pulumi.Input[str],
        region: str,
        zones: list[str],
        machine_type: str,
        accelerator: str,
        gpus_per_node: int,
        gpu_sku: str,
        nodes_min: int,
        nodes_max: int,
        service_account: pulumi.Input[str],
        capacity_mode: str = "on_demand",
        reservation: str | None = None,
        boot_disk: str = "pd-ssd",
        partition: str | None = None,
        local_nvme: bool = False,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        fabric: Fabric | None = None,
    ) -> None:
        super().__init__("inferstack:gcp:GpuNodePool", name, None, opts)
        networks, placement = None, None
        #: The pool's fabric and its GPU NIC networks as (VPC name, subnet name), in NIC order.
        self.fabric = fabric
        self.gpu_vpcs: list[tuple[pulumi.Input[str | None], pulumi.Input[str | None]]] = []
        if fabric is not None:  # multi-node replicas: GPU NICs on their own networks, nodes packed in one zone
            configs = gpu_network_configs(name, region, fabric, self)
            self.gpu_vpcs = [(c.network, c.subnetwork) for c in configs]
            networks = gcp.container.NodePoolNetworkConfigArgs(additional_node_network_configs=configs)
            placement = gcp.container.NodePoolPlacementPolicyArgs(type="COMPACT")
            zones = zones[:1]
        pool = gcp.container.NodePool(
            name,
            cluster=cluster_id,
            location=region,
            network_config=networks,
            placement_policy=placement,
            node_locations=zones or None,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=nodes_min,
                total_max_node_count=max(nodes_max, 1),
                location_policy="ANY",
            ),
            # Flex-start node pools are created with auto-repair off (GKE flex-start docs: `--flex-start
            # ... --reservation-affinity=none --no-enable-autorepair`); the VMs live at most 7 days.
            management=gcp.container.NodePoolManagementArgs(
                auto_repair=capacity_mode != "flex_start", auto_upgrade=True
            ),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=0, max_unavailable=1),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=machine_type,
                disk_size_gb=GPU_ROOT_VOLUME_GIB,
                disk_type=boot_disk,
                ephemeral_storage_local_ssd_config=local_ssd_config(machine_type) if local_nvme else None,
                spot=capacity_mode == "spot" or None,
                flex_start=capacity_mode == "flex_start" or None,
                reservation_affinity=_reservation_affinity(capacity_mode, reservation),
                guest_accelerators=[
                    gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                        type=accelerator,
                        count=gpus_per_node,
                        # MIG: GKE partitions every GPU into slices of this profile and advertises
                        # each as nvidia.com/gpu (GKE "Running multi-instance GPUs").
                        gpu_partition_size=partition,
                        gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                            gpu_driver_version="LATEST",
                        ),
                    )
                ],
                taints=[
                    gcp.container.NodePoolNodeConfigTaintArgs(key=GPU_TAINT_KEY, value="present", effect="NO_SCHEDULE")
                ],
                gvnic=gcp.container.NodePoolNodeConfigGvnicArgs(enabled=True) if fabric else None,
                **node_config_base(service_account, {GPU_NODE_LABEL: gpu_sku, POOL_LABEL: GPU_POOL}),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on or [],
                custom_timeouts=pulumi.CustomTimeouts(create=NODE_POOL_TIMEOUT, update=NODE_POOL_TIMEOUT, delete="30m"),
            ),
        )
        self.node_pool = pool
        self.node_pool_name = pool.name
        self.register_outputs({"node_pool_name": pool.name})
