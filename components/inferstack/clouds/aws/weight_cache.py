"""The weight caches on AWS. Once per cluster (`EfsCacheStorage`): an encrypted EFS file system reachable
from the private subnets only, the EFS CSI driver (EKS add-on, Pod Identity) and the `inferstack-efs`
StorageClass, which provisions an access point owned by the serving UID per claim. Per model
(`EfsWeightCache`): an access point `/inferstack/<deployment>` and a PersistentVolume reserved for the
model's cache claim, so the claim binds to that directory rather than provisioning another."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferstack.clouds.aws.iam import pod_identity_addon
from inferstack.clouds.base import CacheVolume, static_cache_volume
from inferstack.contract import LABEL_MANAGED_BY, MANAGED_BY, UID

NFS_PORT = 2049
CSI_DRIVER = "efs.csi.aws.com"


class EfsCacheStorage(pulumi.ComponentResource):
    """One cluster's EFS file system, CSI driver and StorageClass. Needs the region's `aws.Provider` in
    `opts` and the cluster's Kubernetes provider as `k8s_provider`. Claims of `storage_class_name`
    without a reserved volume get an access point of their own (`efs-ap`, owned by the serving UID)."""

    file_system_id: pulumi.Output[str]
    storage_class_name: str

    def __init__(
        self,
        name: str,
        *,
        region: str,
        tags: dict[str, str],
        storage_class: str,
        cluster_name: pulumi.Input[str],
        vpc_id: pulumi.Input[str],
        vpc_cidr: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        subnet_slots: list[str],
        k8s_provider: k8s.Provider,
        kms_key_arn: pulumi.Input[str] | None = None,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:aws:CacheStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-efs",
            description="NFS from the cluster VPC to the inferstack weight cache",
            vpc_id=vpc_id,
            region=region,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=NFS_PORT,
                    to_port=NFS_PORT,
                    cidr_blocks=[vpc_cidr],
                    description="NFS",
                )
            ],
            tags={**tags, "Name": f"{name}-efs"},
            opts=child,
        )
        fs = aws.efs.FileSystem(
            f"{name}-efs",
            encrypted=True,
            kms_key_id=kms_key_arn,
            throughput_mode="elastic",
            performance_mode="generalPurpose",
            region=region,
            tags={**tags, "Name": f"{name}-efs"},
            opts=child,
        )
        targets = [
            aws.efs.MountTarget(
                f"{name}-efs-{slot}",
                file_system_id=fs.id,
                subnet_id=subnet,
                security_groups=[group.id],
                region=region,
                opts=child,
            )
            for slot, subnet in zip(subnet_slots, subnet_ids, strict=True)
        ]
        driver = pod_identity_addon(
            f"{name}-efs-csi",
            addon="aws-efs-csi-driver",
            policy="service-role/AmazonEFSCSIDriverPolicy",
            service_account="efs-csi-controller-sa",
            cluster_name=cluster_name,
            region=region,
            tags=tags,
            parent=self,
            depends_on=depends_on,
        )
        storage_class_resource = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={"name": storage_class, "labels": {LABEL_MANAGED_BY: MANAGED_BY}},
            provisioner=CSI_DRIVER,
            parameters=pulumi.Output.all(fs.id).apply(
                lambda ids: {
                    "provisioningMode": "efs-ap",
                    "fileSystemId": ids[0],
                    "directoryPerms": "750",
                    "uid": str(UID),
                    "gid": str(UID),
                    "basePath": "/inferstack/dynamic",
                }
            ),
            reclaim_policy="Retain",
            volume_binding_mode="Immediate",
            opts=pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=[driver, *targets]),
        )
        self.file_system = fs
        self.storage_class = storage_class_resource
        self.ready: list[pulumi.Resource] = [storage_class_resource, *targets]
        self.file_system_id = fs.id
        self.storage_class_name = storage_class
        self.register_outputs({"file_system_id": fs.id})


class EfsWeightCache(pulumi.ComponentResource):
    """One model's directory on the cluster's EFS: an access point owned by the serving UID and the
    PersistentVolume reserved for the model's cache claim. Needs the region's `aws.Provider` in `opts`."""

    access_point_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        region: str,
        tags: dict[str, str],
        cache: CacheVolume,
        storage: EfsCacheStorage,
        k8s_provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:aws:WeightCache", name, None, opts)
        access_point = aws.efs.AccessPoint(
            f"{name}-efs",
            file_system_id=storage.file_system_id,
            region=region,
            posix_user=aws.efs.AccessPointPosixUserArgs(uid=UID, gid=UID),
            root_directory=aws.efs.AccessPointRootDirectoryArgs(
                path=f"/inferstack/{cache.deployment}",
                creation_info=aws.efs.AccessPointRootDirectoryCreationInfoArgs(
                    owner_uid=UID, owner_gid=UID, permissions="0750"
                ),
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        volume = static_cache_volume(
            f"{name}-volume",
            cache,
            {"driver": CSI_DRIVER, "volumeHandle": pulumi.Output.concat(storage.file_system_id, "::", access_point.id)},
            k8s_provider,
            storage.ready,
            self,
        )
        self.volume = volume
        self.access_point_id = access_point.id
        self.register_outputs({"access_point_id": access_point.id})
