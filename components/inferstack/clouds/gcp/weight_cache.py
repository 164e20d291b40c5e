"""The weight caches on GCP. Once per cluster (`FilestoreCacheStorage`): the `inferstack-filestore`
StorageClass (Filestore CSI driver, enabled on the cluster) and the key grant for CMEK. Per model
(`FilestoreWeightCache`): a regional Filestore instance on the cluster's VPC (CMEK-encrypted when
compliance asks for encryption) and a PersistentVolume reserved for the model's cache claim, so the
claim binds to this instance rather than provisioning another."""

from __future__ import annotations

import math

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from inferstack import contract
from inferstack.clouds.base import CacheVolume, static_cache_volume
from inferstack.contract import LABEL_MANAGED_BY, MANAGED_BY

CSI_DRIVER = "filestore.csi.storage.gke.io"
TIER = "REGIONAL"
#: Regional Filestore: 1 TiB minimum, grown in 256 GiB steps.
MIN_CAPACITY_GIB = 1024
CAPACITY_STEP_GIB = 256
SHARE = "weights"


def filestore_capacity_gib(cache_gib: int) -> int:
    return max(MIN_CAPACITY_GIB, int(math.ceil(cache_gib / CAPACITY_STEP_GIB) * CAPACITY_STEP_GIB))


def share_owner_job(
    name: str, deployment: str, server: pulumi.Input[str], image: str, opts: pulumi.ResourceOptions
) -> k8s.batch.v1.Job:
    """Hand the Filestore share to the serving UID once. The Filestore CSI driver applies fsGroup to
    ReadWriteOnce volumes only, so a ReadWriteMany share stays root-owned (0755) and the non-root prefetch
    Job could not write it. The one root container (`contract.SHARE_OWNER_COMMAND`, CHOWN its only
    capability) runs in its own namespace at the `baseline` Pod Security level, since `restricted` forbids
    root and NFS volumes; chown is idempotent, so re-runs are harmless."""
    namespace = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata={
            "name": f"{deployment}-share-owner",
            "labels": {
                contract.LABEL_NAME: deployment,
                contract.LABEL_COMPONENT: "weight-cache",
                contract.LABEL_MANAGED_BY: contract.MANAGED_BY,
                "pod-security.kubernetes.io/enforce": "baseline",
            },
        },
        opts=opts,
    )
    container = {
        "name": "chown",
        "image": image,
        "command": list(contract.SHARE_OWNER_COMMAND),
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        "volumeMounts": [{"name": "share", "mountPath": contract.SHARE_OWNER_MOUNT}],
    }
    return k8s.batch.v1.Job(
        name,
        metadata={"name": "share-owner", "namespace": namespace.metadata["name"]},
        # A Kubernetes-shaped (camelCase) dict, as the serving objects are; the typed *ArgsDict wants snake_case.
        spec={  # pyright: ignore[reportArgumentType]
            "backoffLimit": 4,
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "nodeSelector": {contract.POOL_LABEL: contract.SYSTEM_POOL},
                    "containers": [container],
                    "volumes": [{"name": "share", "nfs": {"server": server, "path": f"/{SHARE}"}}],
                }
            },
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )


class FilestoreCacheStorage(pulumi.ComponentResource):
    """One cluster's `inferstack-filestore` StorageClass (Filestore CSI driver, enabled on the cluster)
    and, with CMEK, the Filestore service agent's grant on the cluster's key. Needs the region's
    `gcp.Provider` in `opts` and the cluster's Kubernetes provider as `k8s_provider`."""

    storage_class_name: str

    def __init__(
        self,
        name: str,
        *,
        storage_class: str,
        network_name: pulumi.Input[str],
        k8s_provider: k8s.Provider,
        kms_key_id: pulumi.Input[str] | None = None,
        project_number: pulumi.Input[str] | None = None,
        depends_on: list[pulumi.Resource] | None = None,
        formerly: tuple[pulumi.Input[str], str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`formerly`: (URN, name) of the per-model component these children used to belong to, so a
        standalone stack keeps its key grant (removing it would cut Filestore off the key) and its
        StorageClass instead of replacing them."""
        super().__init__("inferstack:gcp:CacheStorage", name, None, opts)
        self.ready: list[pulumi.Resource] = []

        def options(suffix: str, **kwargs) -> pulumi.ResourceOptions:
            aliases = [pulumi.Alias(name=f"{formerly[1]}-{suffix}", parent=formerly[0])] if formerly else []
            return pulumi.ResourceOptions(parent=self, aliases=aliases, **kwargs)

        if kms_key_id is not None and project_number is not None:
            self.ready.append(
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-key-filestore",
                    crypto_key_id=kms_key_id,
                    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                    member=pulumi.Output.from_input(project_number).apply(
                        lambda n: f"serviceAccount:service-{n}@cloud-filer.iam.gserviceaccount.com"
                    ),
                    opts=options("key-filestore"),
                )
            )
        parameters: dict[str, pulumi.Input[str]] = {
            "tier": TIER.lower(),
            "network": network_name,
            "connect-mode": "DIRECT_PEERING",
        }
        if kms_key_id is not None:
            parameters["instance-encryption-kms-key"] = kms_key_id
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={"name": storage_class, "labels": {LABEL_MANAGED_BY: MANAGED_BY}},
            provisioner=CSI_DRIVER,
            parameters=parameters,
            reclaim_policy="Retain",
            volume_binding_mode="Immediate",
            allow_volume_expansion=True,
            opts=options("storage-class", provider=k8s_provider, depends_on=depends_on or []),
        )
        self.ready.append(self.storage_class)
        self.network_name = network_name
        self.kms_key_id = kms_key_id
        self.storage_class_name = storage_class
        self.register_outputs({})


class FilestoreWeightCache(pulumi.ComponentResource):
    """One model's regional Filestore instance on the cluster's VPC (CMEK-encrypted when the cluster's
    storage has a key), its share handed to the serving UID, and the PersistentVolume reserved for the
    model's cache claim. Needs the region's `gcp.Provider` in `opts`."""

    instance_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        region: str,
        tags: dict[str, str],
        cache: CacheVolume,
        owner_image: str,
        storage: FilestoreCacheStorage,
        k8s_provider: k8s.Provider,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:gcp:WeightCache", name, None, opts)
        instance = gcp.filestore.Instance(
            f"{name}-filestore",
            location=region,
            tier=TIER,
            file_shares=gcp.filestore.InstanceFileSharesArgs(
                name=SHARE, capacity_gb=filestore_capacity_gib(cache.size_gib)
            ),
            networks=[
                gcp.filestore.InstanceNetworkArgs(
                    network=storage.network_name, modes=["MODE_IPV4"], connect_mode="DIRECT_PEERING"
                )
            ],
            kms_key_name=storage.kms_key_id,
            labels=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=storage.ready,
                custom_timeouts=pulumi.CustomTimeouts(create="45m", delete="30m"),
            ),
        )
        volume = static_cache_volume(
            f"{name}-volume",
            cache,
            {
                "driver": CSI_DRIVER,
                "volumeHandle": pulumi.Output.concat("modeInstance/", region, "/", instance.name, "/", SHARE),
                "volumeAttributes": {"ip": instance.networks[0].ip_addresses[0], "volume": SHARE},
            },
            k8s_provider,
            [*storage.ready, instance, *(depends_on or [])],
            self,
        )
        owner = share_owner_job(
            f"{name}-share-owner",
            cache.deployment,
            instance.networks[0].ip_addresses[0],
            owner_image,
            pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=[instance, *(depends_on or [])]),
        )
        self.instance = instance
        self.volume = volume
        self.share_owner = owner
        self.instance_name = instance.name
        self.register_outputs({"instance_name": instance.name})
