"""The rules. Each says what it found, what is allowed and how to fix it, and fails closed: a value
that is missing or not yet computed is a violation, never a pass."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from inferstack import catalog
from inferstack.catalog import dns, endpoints, gpudirect, mig, routers
from inferstack.compliance.model import Resource, is_unknown, resource_rule, stack_rule
from inferstack.contract import (
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    HOURS_PER_MONTH,
    LABEL_COMPONENT,
    SHARE_OWNER_COMMAND,
    Provenance,
)
from inferstack.spec.models import Compliance
from inferstack.spec.rules import describe_lock, region_allowed
from inferstack.spec.values import is_commit, is_pinned

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EFS = "aws:efs/fileSystem:FileSystem"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_SERVICE = "kubernetes:core/v1:Service"
WORKLOADS = (K8S_DEPLOYMENT, K8S_JOB, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet")
K8S_DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
K8S_LEADER_WORKER_SET = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
#: GCP resource types that live in a region or zone (global ones such as networks and IAM bindings
#: hold no data in a location and are not region-locked).
GCP_LOCATED = (
    GKE_CLUSTER,
    GKE_NODE_POOL,
    GCS_BUCKET,
    "gcp:filestore/instance:Instance",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:compute/router:Router",
    "gcp:compute/routerNat:RouterNat",
    "gcp:kms/keyRing:KeyRing",
    "gcp:compute/instance:Instance",
    "gcp:compute/disk:Disk",
)
#: AWS types with no region: identity and account-wide objects.
AWS_GLOBAL_PREFIXES = ("aws:iam/", "aws:organizations/", "aws:route53/", "aws:cloudfront/")
_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+\d+)-[a-z]$")


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


def _show(value: Any) -> str:
    return "unknown (not computed at preview)" if is_unknown(value) else repr(value)


# --- region lock --------------------------------------------------------------------------------


def resource_region(resource: Resource) -> Any:
    """The region a resource lives in: its own region/location/zone, else its provider's region."""
    for key in ("region", "location", "zone"):
        value = resource.inputs.get(key)
        if not is_unknown(value):
            match = _ZONE.match(value) if isinstance(value, str) else None
            return match.group("region") if match else value
    return resource.provider_inputs.get("region")


def _located(resource: Resource) -> bool:
    if resource.type.startswith("pulumi:providers:"):
        return resource.type in ("pulumi:providers:aws", "pulumi:providers:gcp")
    if resource.package == "aws":
        return not resource.type.startswith(AWS_GLOBAL_PREFIXES)
    return resource.type in GCP_LOCATED


@resource_rule(
    "INF001",
    "region-lock",
    "Every location-bearing AWS and GCP resource, and every provider, stays inside the residency group "
    "or allowed regions; the resource's own region/location/zone is checked, then its provider's.",
    ("aws:*", "gcp:*", "pulumi:providers:aws", "pulumi:providers:gcp"),
)
def region_lock(resource: Resource, policy: Compliance) -> Iterator[str]:
    if (policy.residency is None and not policy.allowed_regions) or not _located(resource):
        return
    region = resource_region(resource)
    allowed = describe_lock(policy.residency, policy.allowed_regions)
    if is_unknown(region):
        yield f"region is {_show(region)}; allowed: {allowed}. Fix: set the region explicitly on the resource or its provider"
    elif not region_allowed(region, policy.residency, policy.allowed_regions):
        yield f"region {region!r} is outside the region lock; allowed: {allowed}. Fix: move the placement into the lock"


@resource_rule(
    "INF002",
    "allowed-clouds",
    "Resources belong only to the clouds compliance allows.",
    ("aws:*", "gcp:*"),
)
def allowed_clouds(resource: Resource, policy: Compliance) -> Iterator[str]:
    if policy.allowed_clouds and resource.package not in policy.allowed_clouds:
        yield (
            f"cloud {resource.package!r} is not allowed; allowed: {', '.join(policy.allowed_clouds)}. "
            "Fix: remove the placement on this cloud"
        )


# --- networking ---------------------------------------------------------------------------------


@resource_rule(
    "INF003",
    "private-networking",
    "No public cluster endpoint, private nodes, no public node IPs, no public load balancer.",
    (EKS_CLUSTER, GKE_CLUSTER, LAUNCH_TEMPLATE, K8S_SERVICE),
)
def private_networking(resource: Resource, policy: Compliance) -> Iterator[str]:
    if not policy.private_networking:
        return
    if resource.type == EKS_CLUSTER:
        public = resource.get("vpcConfig", "endpointPublicAccess")
        if is_unknown(public) or _truthy(public):
            yield (
                f"EKS endpointPublicAccess is {_show(public)}; allowed: false. "
                "Fix: set vpcConfig.endpointPublicAccess=false and endpointPrivateAccess=true"
            )
    elif resource.type == GKE_CLUSTER:
        for key in ("enablePrivateNodes", "enablePrivateEndpoint"):
            value = resource.get("privateClusterConfig", key)
            if not _truthy(value):
                yield f"GKE privateClusterConfig.{key} is {_show(value)}; allowed: true. Fix: make the cluster private"
    elif resource.type == LAUNCH_TEMPLATE:
        for i, nic in enumerate(resource.get("networkInterfaces") or []):
            if _truthy(nic.get("associatePublicIpAddress")):
                yield (
                    f"networkInterfaces[{i}].associatePublicIpAddress is true; allowed: false. "
                    "Fix: place nodes in private subnets without public IPs"
                )
    elif resource.type == K8S_SERVICE and resource.get("spec", "type") == "LoadBalancer":
        annotations = resource.get("metadata", "annotations") or {}
        internal = (
            annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme") == "internal"
            or annotations.get("networking.gke.io/load-balancer-type") == "Internal"
            or annotations.get("service.beta.kubernetes.io/aws-load-balancer-internal") == "true"
        )
        if not internal:
            yield (
                "Service type LoadBalancer is public; allowed: ClusterIP or an internal load balancer. "
                "Fix: annotate it as internal or use ClusterIP"
            )


# --- encryption ---------------------------------------------------------------------------------


@resource_rule(
    "INF004",
    "encryption-at-rest",
    "Cluster secrets are envelope-encrypted with a KMS key; cache file systems and node disks are encrypted.",
    (EKS_CLUSTER, GKE_CLUSTER, EFS, LAUNCH_TEMPLATE),
)
def encryption_at_rest(resource: Resource, policy: Compliance) -> Iterator[str]:
    if not policy.encryption:
        return
    if resource.type == EKS_CLUSTER:
        config = resource.get("encryptionConfig") or {}
        if "secrets" not in (config.get("resources") or []) or is_unknown(config.get("provider", {}).get("keyArn")):
            yield "EKS secrets encryption is not configured with a KMS key. Fix: set encryptionConfig {resources: [secrets], provider.keyArn}"
    elif resource.type == GKE_CLUSTER:
        state = resource.get("databaseEncryption", "state")
        if state != "ENCRYPTED":
            yield f"GKE databaseEncryption.state is {_show(state)}; allowed: ENCRYPTED. Fix: set a Cloud KMS key"
    elif resource.type == EFS:
        if not _truthy(resource.get("encrypted")):
            yield f"EFS encrypted is {_show(resource.get('encrypted'))}; allowed: true. Fix: set encrypted=true"
    elif resource.type == LAUNCH_TEMPLATE:
        mappings = resource.get("blockDeviceMappings") or []
        if not mappings:
            yield "no root volume mapping, so its encryption is unknown. Fix: map the root volume with ebs.encrypted=true"
        for i, mapping in enumerate(mappings):
            encrypted = (mapping.get("ebs") or {}).get("encrypted")
            if not _truthy(encrypted):
                yield f"blockDeviceMappings[{i}].ebs.encrypted is {_show(encrypted)}; allowed: true. Fix: encrypt node volumes"


@resource_rule(
    "INF005",
    "no-public-buckets",
    "Buckets block every form of public access.",
    (S3_PUBLIC_ACCESS_BLOCK, S3_BUCKET, S3_BUCKET_V2, GCS_BUCKET),
)
def no_public_buckets(resource: Resource, policy: Compliance) -> Iterator[str]:
    if resource.type == S3_PUBLIC_ACCESS_BLOCK:
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            if not _truthy(resource.get(key)):
                yield f"{key} is {_show(resource.get(key))}; allowed: true. Fix: block all public access"
    elif resource.type in (S3_BUCKET, S3_BUCKET_V2):
        acl = resource.get("acl")
        if isinstance(acl, str) and acl.startswith("public"):
            yield f"acl is {acl!r}; allowed: private. Fix: remove the public ACL"
    elif resource.type == GCS_BUCKET:
        prevention = resource.get("publicAccessPrevention")
        if prevention != "enforced":
            yield f"publicAccessPrevention is {_show(prevention)}; allowed: enforced. Fix: set publicAccessPrevention=enforced"


# --- what runs ----------------------------------------------------------------------------------


def _is_node_cache_directory(volume: dict, containers: list[dict]) -> bool:
    """The one hostPath allowed: the node_local cache tier's directory maker (`kube.cache_tiers`), a
    DirectoryOrCreate directory under `inferstack/` on a node NVMe mount the catalog names, mounted
    read-only by every container that mounts it (the kubelet creates it; nothing writes through it)."""
    host = volume.get("hostPath") or {}
    path = str(host.get("path", ""))
    roots = [m["path"] for m in catalog.cold_start()["node_local"]["mount"].values()]
    mounts = [m for c in containers for m in c.get("volumeMounts") or [] if m.get("name") == volume.get("name")]
    return (
        host.get("type") == "DirectoryOrCreate"
        and any(path.startswith(f"{root}/inferstack/") and ".." not in path for root in roots)
        and all(m.get("readOnly") is True for m in mounts)
    )


def _is_share_owner(container: dict) -> bool:
    """The one root container allowed: exactly `chown UID:UID /share`, CHOWN its only capability, all
    others dropped, no escalation, read-only root (see `contract.SHARE_OWNER_COMMAND`)."""
    security = container.get("securityContext") or {}
    capabilities = security.get("capabilities") or {}
    return (
        container.get("command") == list(SHARE_OWNER_COMMAND)
        and not container.get("args")
        and capabilities.get("add") == ["CHOWN"]
        and capabilities.get("drop") == ["ALL"]
        and security.get("allowPrivilegeEscalation") is False
        and security.get("readOnlyRootFilesystem") is True
        and security.get("privileged") in (None, False)
    )


def _is_gpudirect_daemon(container: dict) -> bool:
    """The one root container with network capabilities allowed: a GPUDirect-TCPX/TCPXO receive-datapath
    daemon exactly as catalog/data/gpudirect.yaml has it (name, image, command, its capabilities added and
    all others dropped, no escalation, not privileged). It programs the GPU NICs (NET_ADMIN, effective for
    root only) and upstream publishes no probes or resource figures for it; NCCL falls back to TCP
    without it."""
    security = container.get("securityContext") or {}
    capabilities = security.get("capabilities") or {}
    return any(
        container.get("name") == d.name
        and container.get("image") == d.image
        and container.get("command") == list(d.command)
        and not container.get("args")
        and capabilities.get("add") == list(d.capabilities)
        and capabilities.get("drop") == ["ALL"]
        and security.get("allowPrivilegeEscalation") is False
        and security.get("privileged") in (None, False)
        for d in (g.daemon for g in gpudirect.all_gpudirect())
    )


def _is_gpudirect_host_dir(volume: dict, containers: list[dict]) -> bool:
    """A hostPath a GPUDirect daemon needs (its catalog volumes: the NVIDIA libraries with the NCCL
    plugin, its socket directory, /sys, /proc/sys, the aperture devices), by exact name and path, in a pod
    that runs that daemon."""
    path = (volume.get("hostPath") or {}).get("path")
    return any(
        (volume.get("name"), path) in {(v.name, v.host) for v in g.daemon.volumes}
        and any(c.get("name") == g.daemon.name and _is_gpudirect_daemon(c) for c in containers)
        for g in gpudirect.all_gpudirect()
    )


def _is_gpudirect_node_setup(resource: Resource) -> bool:
    """The GPUDirect node set-up DaemonSets inferstack installs in kube-system (`kube.gpudirect`): the NCCL
    plugin installers and the NRI device injector, privileged on the host as upstream ships them, every
    container's image one of the catalog's set-up images. They write the plugin into the node's NVIDIA
    library directory and inject devices; they serve nothing and run no model."""
    if resource.type != K8S_DAEMON_SET or resource.get("metadata", "namespace") != "kube-system":
        return False
    images = {g.installer.image for g in gpudirect.all_gpudirect()}
    images |= {g.installer.pause_image for g in gpudirect.all_gpudirect()} | {gpudirect.device_injector()[1]}
    containers = _containers(resource)
    return bool(containers) and all(c.get("image") in images for c in containers)


def _pod_specs(resource: Resource) -> list[dict]:
    """The pod specs a workload runs: its template's, or a LeaderWorkerSet's leader's and workers'."""
    if resource.type == K8S_LEADER_WORKER_SET:
        roles = resource.get("spec", "leaderWorkerTemplate") or {}
        return [(roles.get(r) or {}).get("spec") or {} for r in ("leaderTemplate", "workerTemplate") if roles.get(r)]
    return [_pod_spec(resource)]


def _discovers_own_namespace(resource: Resource) -> bool:
    """The one pod allowed a service-account token: an engine router whose every container discovers
    serving pods through the API in the pod's own namespace only (`--service-discovery-namespace` set
    to it; catalog/data/routers.yaml), the scope of the read-only Role inferstack binds to it."""
    namespace = resource.get("metadata", "namespace")
    flags = {(r.flags["discovery"], r.flags["discovery_namespace"]) for r in routers.routers().values()}

    def scoped(container: dict) -> bool:
        args = container.get("args")
        if not isinstance(args, list):
            return False
        return any(
            discovery in args and scope in args[:-1] and args[args.index(scope) + 1] == namespace
            for discovery, scope in flags
        )

    containers = _containers(resource)
    return isinstance(namespace, str) and bool(containers) and all(scoped(c) for c in containers)


def _pod_spec(resource: Resource) -> dict:
    return resource.get("spec", "template", "spec") or {}


def _containers(resource: Resource) -> list[dict]:
    pod = _pod_spec(resource)
    return list(pod.get("initContainers") or []) + list(pod.get("containers") or [])


def provisions_gpus(resource: Resource) -> bool:
    """Whether a node group/pool is GPU capacity: a GPU AMI, a GPU taint or label, accelerators, or a
    GPU instance type. CPU-only system pools are not; an unknown AMI or machine type counts as GPU
    (fail closed)."""
    if resource.type == EKS_NODE_GROUP:
        ami, types = resource.get("amiType"), resource.get("instanceTypes")
        gpu_types = {o.node_type for o in catalog.offerings() if o.cloud == "aws"}
        return (
            is_unknown(ami)
            or "NVIDIA" in str(ami)
            or "GPU" in str(ami)
            or any(t.get("key") == GPU_TAINT_KEY for t in resource.get("taints") or [])
            or not isinstance(types, list)
            or any(t in gpu_types for t in types)
        )
    if resource.type == GKE_NODE_POOL:
        machine = resource.get("nodeConfig", "machineType")
        gpu_machines = {o.node_type for o in catalog.offerings() if o.cloud == "gcp"}
        return bool(resource.get("nodeConfig", "guestAccelerators")) or is_unknown(machine) or machine in gpu_machines
    return False


def _gpus_of(resource: Resource) -> list[tuple[str, Any]]:
    """(where, GPU SKU or unknown) for every GPU a resource provisions or requests."""
    if resource.type in (EKS_NODE_GROUP, GKE_NODE_POOL) and not provisions_gpus(resource):
        return []
    if resource.type == EKS_NODE_GROUP:
        types = resource.get("instanceTypes")
        types = types if isinstance(types, list) and types else [None]
        by_type = {o.node_type: o.gpu for o in catalog.offerings() if o.cloud == "aws"}
        return [
            (f"instanceTypes[{i}]={t!r}", by_type.get(t) if isinstance(t, str) else None) for i, t in enumerate(types)
        ]
    if resource.type == GKE_NODE_POOL:
        accelerators = resource.get("nodeConfig", "guestAccelerators") or []
        return [
            (f"guestAccelerators[{i}].type={a.get('type')!r}", catalog.resolve_gpu(str(a.get("type"))))
            for i, a in enumerate(accelerators)
        ]
    if resource.type == K8S_DEPLOYMENT and _requests_gpu(resource):
        sku = _provenance(resource).gpu
        return [(f"annotation {Provenance.key('gpu')}={sku!r}", sku)]
    return []


def _provenance(resource: Resource) -> Provenance:
    return Provenance.from_annotations(resource.get("metadata", "annotations"))


def _requests_gpu(resource: Resource) -> bool:
    return any(GPU_RESOURCE in ((c.get("resources") or {}).get("limits") or {}) for c in _containers(resource))


@resource_rule(
    "INF006",
    "allowed-gpus",
    "Node groups, node pools and serving workloads use only allowed GPU SKUs (read from instance and "
    "machine types, accelerator types, and the workload's provenance record).",
    (EKS_NODE_GROUP, GKE_NODE_POOL, K8S_DEPLOYMENT),
)
def allowed_gpus(resource: Resource, policy: Compliance) -> Iterator[str]:
    if not policy.allowed_gpus:
        return
    for where, sku in _gpus_of(resource):
        whole = mig.slice_of(sku) if isinstance(sku, str) else None
        if sku is None:
            yield f"{where}: GPU unknown; allowed: {', '.join(policy.allowed_gpus)}. Fix: use a catalog node type with an allowed GPU"
        elif whole is not None and whole.gpu in policy.allowed_gpus:
            continue  # a MIG slice of an allowed GPU
        elif sku not in policy.allowed_gpus:
            yield f"{where}: GPU {sku!r} is not allowed; allowed: {', '.join(policy.allowed_gpus)}"


@resource_rule(
    "INF007",
    "allowed-engines-and-quantizations",
    "Serving workloads run only allowed engines and weight formats (from the provenance record).",
    (K8S_DEPLOYMENT,),
)
def allowed_engines(resource: Resource, policy: Compliance) -> Iterator[str]:
    if not _requests_gpu(resource):
        return
    record = _provenance(resource)
    for key, allowed in (("engine", policy.allowed_engines), ("quantization", policy.allowed_quantizations)):
        value = getattr(record, key)
        if allowed and value not in allowed:
            yield (
                f"{key} {_show(value)} is not allowed; allowed: {', '.join(allowed)}. "
                f"Fix: change engine.{'name' if key == 'engine' else key} in the spec"
            )


@resource_rule(
    "INF008",
    "pinned-images",
    "Every container image is pinned by sha256 digest.",
    WORKLOADS,
)
def pinned_images(resource: Resource, policy: Compliance) -> Iterator[str]:
    if not policy.pin_images:
        return
    for container in _containers(resource):
        image = container.get("image")
        if not is_pinned(image if isinstance(image, str) else None):
            yield (
                f"container {container.get('name')!r} image {_show(image)} is not pinned; allowed: "
                "an image reference ending in @sha256:<digest>. Fix: pin it by digest"
            )


@resource_rule(
    "INF009",
    "pinned-model-revisions",
    "Hugging Face models are served at a 40-hex commit (from the provenance record).",
    (K8S_DEPLOYMENT,),
)
def pinned_revisions(resource: Resource, policy: Compliance) -> Iterator[str]:
    if not policy.pin_revisions or not _requests_gpu(resource):
        return
    record = _provenance(resource)
    source, revision = record.model_source, record.model_revision
    if source is None or is_unknown(source):
        yield f"model source is {_show(source)}; the serving workload must record it. Fix: deploy through inferstack"
    elif source.startswith("hf://") and not is_commit(revision):
        yield f"model revision {_show(revision)} is not a commit; allowed: a 40-hex commit. Fix: pin model.revision"


@resource_rule(
    "INF010",
    "instance-metadata",
    "Nodes require IMDSv2 tokens (AWS) or the GKE metadata server (GCP).",
    (LAUNCH_TEMPLATE, GKE_NODE_POOL),
)
def instance_metadata(resource: Resource, policy: Compliance) -> Iterator[str]:
    if resource.type == LAUNCH_TEMPLATE:
        tokens = resource.get("metadataOptions", "httpTokens")
        if tokens != "required":
            yield f"metadataOptions.httpTokens is {_show(tokens)}; allowed: required. Fix: require IMDSv2"
    else:
        mode = resource.get("nodeConfig", "workloadMetadataConfig", "mode")
        if mode != "GKE_METADATA":
            yield f"nodeConfig.workloadMetadataConfig.mode is {_show(mode)}; allowed: GKE_METADATA. Fix: enable the GKE metadata server"


@resource_rule(
    "INF011",
    "workload-hardening",
    "Pods run as non-root without privilege escalation, with RuntimeDefault seccomp, CPU and memory "
    "limits, no hostPath volumes and no service-account token. One root shape is allowed: the container "
    "that hands an NFS share to the serving UID (exactly `chown UID:UID /share`, CHOWN its only capability). "
    "One hostPath shape is allowed: the node-local cache directory (DirectoryOrCreate under `inferstack/` on "
    "a node NVMe mount, mounted read-only). "
    "One token shape is allowed: the engine router that discovers serving pods in its own namespace only. "
    "GPUDirect-TCPX/TCPXO is allowed its catalog shapes: the receive-datapath daemon sidecar (root, its NIC "
    "capabilities only) with its host directories, and the kube-system plugin installer and device injector.",
    (*WORKLOADS, K8S_LEADER_WORKER_SET),
)
def workload_hardening(resource: Resource, policy: Compliance) -> Iterator[str]:
    if _is_gpudirect_node_setup(resource):
        return
    seen: set[str] = set()
    for pod in _pod_specs(resource):
        for message in _pod_hardening(resource, pod):
            if message not in seen:
                seen.add(message)
                yield message


def _pod_hardening(resource: Resource, pod: dict) -> Iterator[str]:
    """INF011 on one pod spec of `resource`."""
    containers = list(pod.get("initContainers") or []) + list(pod.get("containers") or [])
    if pod.get("automountServiceAccountToken") is not False and not _discovers_own_namespace(resource):
        yield "automountServiceAccountToken is not false. Fix: set it to false on the pod"
    pod_security = pod.get("securityContext") or {}
    for volume in pod.get("volumes") or []:
        if (
            "hostPath" in volume
            and not _is_node_cache_directory(volume, containers)
            and not _is_gpudirect_host_dir(volume, containers)
        ):
            yield f"volume {volume.get('name')!r} is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir"
    for container in containers:
        name, security = container.get("name"), container.get("securityContext") or {}
        if _is_gpudirect_daemon(container):
            continue
        as_root_allowed = _is_share_owner(container)
        non_root = security["runAsNonRoot"] if "runAsNonRoot" in security else pod_security.get("runAsNonRoot")
        if not (non_root or as_root_allowed):
            yield f"container {name!r} may run as root. Fix: set runAsNonRoot=true"
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"container {name!r} allows privilege escalation. Fix: set allowPrivilegeEscalation=false"
        seccomp = (security.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name!r} seccomp profile is {_show(seccomp)}. Fix: use RuntimeDefault"
        limits = (container.get("resources") or {}).get("limits") or {}
        missing = [k for k in ("cpu", "memory") if k not in limits]
        if missing:
            yield f"container {name!r} has no {' or '.join(missing)} limit. Fix: set resource limits"


# --- cost ---------------------------------------------------------------------------------------


def _monthly_cost(resource: Resource) -> tuple[float | None, str]:
    """Monthly cost at max size of one GPU capacity resource, or None with the reason."""
    prices = {(o.cloud, o.node_type): o.price_per_hour for o in catalog.offerings()}
    if resource.type == EKS_NODE_GROUP:
        kind, max_size = (resource.get("instanceTypes") or [None])[0], resource.get("scalingConfig", "maxSize")
        price = prices.get(("aws", str(kind)))
    elif resource.type == GKE_NODE_POOL:
        kind = resource.get("nodeConfig", "machineType")
        max_size = resource.get("autoscaling", "totalMaxNodeCount")
        if is_unknown(max_size):  # per-zone bounds: the total is unknown without the zone count
            max_size = resource.get("autoscaling", "maxNodeCount")
            zones = resource.get("nodeLocations")
            per_zone = max_size if isinstance(max_size, int) and not isinstance(max_size, bool) else None
            max_size = None if per_zone is None or not isinstance(zones, list) else per_zone * len(zones)
        price = prices.get(("gcp", str(kind)))
    else:
        record = _provenance(resource)
        price, replicas, gpus = (record.number(f) for f in ("gpu_hour_price", "replicas_max", "gpus_per_replica"))
        if price is None or replicas is None or gpus is None:
            return (
                None,
                "a workload on an existing cluster has no GPU-hour price. Fix: set placements[].price_per_gpu_hour",
            )
        return price * gpus * replicas * HOURS_PER_MONTH, ""
    size = max_size if isinstance(max_size, (int, float)) and not isinstance(max_size, bool) else None
    if price is None or size is None:
        return (
            None,
            f"node type {kind!r} with max size {_show(max_size)} has no known price. Fix: use a catalog node type",
        )
    return price * float(size) * HOURS_PER_MONTH, ""


@stack_rule(
    "INF012",
    "monthly-budget",
    "GPU capacity at max size (node groups, node pools, existing-cluster workloads) costs no more per "
    "month than compliance.monthly_budget; capacity with no known price fails the check.",
)
def monthly_budget(resources: list[Resource], policy: Compliance) -> Iterator[tuple[Resource | None, str]]:
    if policy.monthly_budget is None:
        return
    total = 0.0
    for resource in resources:
        on_existing_cluster = resource.type == K8S_DEPLOYMENT and _provenance(resource).capacity == "existing-cluster"
        if not (provisions_gpus(resource) or on_existing_cluster):
            continue
        cost, reason = _monthly_cost(resource)
        if cost is None:
            yield resource, f"a budget cannot be proven: {reason}"
            return
        total += cost
    if total > policy.monthly_budget:
        yield (
            None,
            (
                f"GPU capacity at max size costs {total:,.0f} USD/month, over the budget of "
                f"{policy.monthly_budget:,.0f} USD. Fix: lower replicas.max or choose cheaper GPUs"
            ),
        )


# --- endpoint -----------------------------------------------------------------------------------


@resource_rule(
    "INF013",
    "private-endpoint",
    "A model's endpoint (its gateway Service) is internal unless compliance.private_networking is false.",
    (K8S_SERVICE,),
)
def private_endpoint(resource: Resource, policy: Compliance) -> Iterator[str]:
    labels = resource.get("metadata", "labels") or {}
    if not policy.private_networking or labels.get(LABEL_COMPONENT) != endpoints.COMPONENT:
        return
    kind = resource.get("spec", "type")
    if kind == "ClusterIP":
        return
    annotations = resource.get("metadata", "annotations") or {}
    internal = any(
        lb.private is not None and annotations.get(lb.scheme_annotation) == lb.private
        for lb in endpoints.load_balancers().values()
    )
    if not internal:
        yield (
            f"endpoint Service {resource.get('metadata', 'name')!r} of type {_show(kind)} is public; allowed: an "
            "internal load balancer or ClusterIP while compliance.private_networking is true. "
            "Fix: set endpoint.exposure: private"
        )


# --- global endpoints ---------------------------------------------------------------------------

ROUTE53_RECORD = "aws:route53/record:Record"
DNS_RECORD_SET = "gcp:dns/recordSet:RecordSet"


def _item_regions(item: dict) -> list[Any]:
    """Regions one Cloud DNS policy item points at: its internal load balancers' and its geo location;
    [None] when it names neither (a target of unknown region)."""
    balancers = (item.get("healthCheckedTargets") or item).get("internalLoadBalancers") or []
    regions = [b.get("region") for b in balancers]
    if "location" in item:
        regions.append(item.get("location"))
    return regions or [None]


def _routed_regions(resource: Resource) -> list[Any]:
    """The regions a routed DNS record sends clients to; [] for a record with no routing policy (a plain
    record, not a global name). AWS: the latency record's region, else the region whose NLBs have the
    alias target's hosted zone (catalog/data/dns.yaml); GCP: every item of the routing policy."""
    if resource.type == ROUTE53_RECORD:
        if is_unknown(resource.get("setIdentifier")):
            return []
        latency = resource.get("latencyRoutingPolicies", 0, "region")
        if latency is not None:
            return [latency]
        zone = resource.get("aliases", 0, "zoneId")
        return [dns.load_balancer_region(zone) if isinstance(zone, str) else None]
    policy = resource.get("routingPolicy") or {}
    backup = policy.get("primaryBackup") or {}
    items = [*(policy.get("wrrs") or []), *(policy.get("geos") or []), *(backup.get("backupGeos") or [])]
    if backup:
        items.append(backup.get("primary") or {})
    return [region for item in items for region in _item_regions(item)]


@stack_rule(
    "INF014",
    "global-endpoint-residency",
    "Every routed DNS name (Route 53 records with a set identifier, Cloud DNS record sets with a routing "
    "policy) sends clients only to regions of one residency group; a target whose region or group is "
    "unknown fails.",
)
def global_endpoint_residency(resources: list[Resource], policy: Compliance) -> Iterator[tuple[Resource | None, str]]:
    names: dict[tuple[str, str], list[tuple[Resource, Any]]] = {}
    for resource in resources:
        if resource.type not in (ROUTE53_RECORD, DNS_RECORD_SET):
            continue
        zone = resource.get("zoneId") if resource.type == ROUTE53_RECORD else resource.get("managedZone")
        for region in _routed_regions(resource):
            names.setdefault((str(zone), str(resource.get("name"))), []).append((resource, region))
    for (_, name), targets in names.items():
        groups: dict[str, list[str]] = {}
        for resource, region in targets:
            group = catalog.region_group(region) if isinstance(region, str) and not is_unknown(region) else None
            if group is None:
                yield (
                    resource,
                    f"DNS name {name!r} routes to region {_show(region)}, which is in no known residency group; "
                    "allowed: regions of one residency group. Fix: point the name only at placements in known regions",
                )
                continue
            if region not in groups.setdefault(group, []):
                groups[group].append(region)
        if len(groups) > 1:
            spans = ", ".join(f"{group} ({', '.join(sorted(regions))})" for group, regions in sorted(groups.items()))
            yield (
                targets[0][0],
                f"DNS name {name!r} routes across residency groups {spans}; allowed: one residency group per "
                "global name. Fix: make one global endpoint per residency group",
            )
