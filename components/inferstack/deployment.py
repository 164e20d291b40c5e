"""`ModelDeployment`: the ComponentResource that turns a `Plan` into infrastructure and serving objects.

Per placement it asks the placement's cloud (`inferstack.clouds`) for network, cluster (and its
Kubernetes provider), GPU node pool, weight-cache storage and add-ons, then creates the serving
objects that `inferstack.kube.placement_objects` builds (the very dicts `inferstack render` writes)
as `pulumi_kubernetes` resources. Nothing is decided here: every size, count and timeout is the plan's.

Decisions written down:

- Child names are `<component>-<placement>-...`, from names, never list indexes, so adding or
  reordering placements never renames (and so replaces) anything.
- The cache claim is `protect=True`: losing it means re-downloading hundreds of GB. On existing
  clusters, which outlive the stack, it is also `retain_on_delete=True`.
- The prefetch Job runs before the Deployment (`depends_on`), and both carry custom timeouts from the
  plan's cold-start budget instead of pulumi-kubernetes' 10-minute default: the Job waits at most its
  own deadline (plus a minute, so the Job's failure reason is what you see), the Deployment the first
  rollout (node provisioning + prefetch + a replica's start).
- Jobs are immutable, so a changed Job is replaced (delete before replace).
- When KEDA scales the Deployment (its `scaleTargetRef`), Pulumi ignores its `spec.replicas` so an update never fights the
  autoscaler.
- Monitoring objects (or anything else) join a placement through `extra_objects`.
- On a platform (`placements[].platform`), the cluster, node pools and add-ons are the platform's
  (`PlatformCluster`, from `inferstack.platform.Platform` in the same stack or from the platform
  stack's outputs); the model adds only its own cache, identity and serving objects.

Args are a `TypedDict` of plain values so the component package (`components/__main__.py`) can infer
its schema; Python callers usually use `ModelDeployment.from_plan` or `.from_spec_file`.
"""

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TypedDict, Union

import pulumi
import pulumi_kubernetes as k8s

from inferstack import contract
from inferstack.catalog import endpoints as endpoint_facts
from inferstack.clouds import cloud_for, cloud_for_cluster, cloud_for_placement
from inferstack.clouds.addons import AddonSettings
from inferstack.clouds.base import (
    CacheStorage,
    ClusterHandle,
    ClusterInfra,
    EndpointTarget,
    ExistingNetwork,
    PlacementContext,
    PlacementInfra,
    first_ingress,
)
from inferstack.globaldns import GlobalEndpoint, global_endpoints
from inferstack.kube import endpoint as gateway
from inferstack.kube import placement_objects
from inferstack.kube.lws import LWS_KIND
from inferstack.monitoring import placement_monitoring
from inferstack.plan import Plan
from inferstack.plan import plan as make_plan
from inferstack.plan.capacity import PlacementPlan
from inferstack.spec import SpecError, load_spec
from inferstack.spec.loader import parse_spec_text
from inferstack.spec.models import Endpoint
from inferstack.spec.platform import PlatformPlacement

TYPE = "inferstack:index:ModelDeployment"

#: Extra objects for a placement: a list for every placement, or a function of (plan, placement).
ExtraObjects = Union[Sequence[dict], Callable[[Plan, PlacementPlan], Sequence[dict]]]

#: Typed pulumi_kubernetes classes for the kinds the serving layer emits; anything else (KEDA,
#: Prometheus Operator kinds) becomes an `apiextensions.CustomResource`.
KINDS: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "Service"): k8s.core.v1.Service,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
}


def _mounts_claim(obj: dict) -> bool:
    """True for a workload whose pods mount a PersistentVolumeClaim (the engine, on its weights)."""
    return any("persistentVolumeClaim" in v for v in obj["spec"]["template"]["spec"].get("volumes", []))


def _serves_a_model(obj: dict) -> bool:
    """True for the engine's Deployment, which carries the provenance record (also when it streams its
    weights and mounts no claim)."""
    return contract.Provenance.key("model_source") in obj["metadata"].get("annotations", {})


def _minutes(seconds: int) -> str:
    return f"{math.ceil(seconds / 60)}m"


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def child_name(prefix: str, obj: dict) -> str:
    """`<prefix>-<kind>-<object name>`: unique per placement, stable across reorderings."""
    return f"{prefix}-{obj['kind'].lower()}-{obj['metadata']['name']}"


def endpoint(objects: Sequence[dict]) -> Optional[str]:
    """In-cluster URL of the first Service's first port."""
    for obj in objects:
        if obj["kind"] == "Service":
            meta, port = obj["metadata"], obj["spec"]["ports"][0]["port"]
            return f"http://{meta['name']}.{meta['namespace']}.svc.cluster.local:{port}"
    return None


def kube_resource(name: str, obj: dict, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """One Kubernetes object (a plain dict as `inferstack render` writes it) as a Pulumi resource: the
    typed class for the kinds in `KINDS`, an `apiextensions.CustomResource` for anything else."""
    cls = KINDS.get((obj["apiVersion"], obj["kind"]))
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if cls is None:
        return k8s.apiextensions.CustomResource(
            name,
            api_version=obj["apiVersion"],
            kind=obj["kind"],
            opts=opts,
            **body,
        )
    return cls(name, opts=opts, **{_snake(k): v for k, v in body.items()})


class InferenceService(pulumi.ComponentResource):
    """The serving objects of one placement as Kubernetes resources, in the order given.

    Usable alone with any cluster: pass the objects (e.g. `placement_objects(plan, placement)`), a
    Kubernetes provider, the cold-start timeouts, and what the objects must wait for.
    """

    endpoint: Optional[pulumi.Output[str]]
    resources: dict[str, pulumi.CustomResource]

    def __init__(
        self,
        name: str,
        objects: Sequence[dict],
        *,
        provider: k8s.Provider,
        prefetch_timeout_seconds: int,
        rollout_timeout_seconds: int,
        infra_ready: Sequence[pulumi.Resource] = (),
        storage_ready: Sequence[pulumi.Resource] = (),
        retain_cache: bool = False,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("inferstack:kubernetes:InferenceService", name, None, opts)
        self.resources = {}
        by_kind: dict[str, list[pulumi.CustomResource]] = {}
        scale_target = next((o["spec"]["scaleTargetRef"]["name"] for o in objects if o["kind"] == "ScaledObject"), None)
        for obj in objects:
            kind = obj["kind"]
            depends: list[pulumi.Resource] = [*by_kind.get("Namespace", [])]
            extra: dict[str, Any] = {}
            if kind == "PersistentVolumeClaim":
                depends += list(storage_ready)
                extra = {"protect": True, "retain_on_delete": retain_cache}
            elif kind == "Job":
                depends += [
                    *by_kind.get("ServiceAccount", []),
                    *by_kind.get("Secret", []),
                    *by_kind.get("ConfigMap", []),
                    *by_kind.get("PersistentVolumeClaim", []),
                    *infra_ready,
                ]
                timeout = _minutes(prefetch_timeout_seconds + 60)
                extra = {
                    "custom_timeouts": pulumi.CustomTimeouts(create=timeout, update=timeout),
                    "replace_on_changes": ["spec"],
                    "delete_before_replace": True,
                }
            elif kind == "Deployment":
                # RBAC first: a router that cannot list pods at start never discovers them later.
                depends += [
                    *by_kind.get("ServiceAccount", []),
                    *by_kind.get("Role", []),
                    *by_kind.get("RoleBinding", []),
                    *infra_ready,
                ]
                # the engine: its weights first, and the first rollout's budget
                if _mounts_claim(obj) or _serves_a_model(obj):
                    depends += [*by_kind.get("PersistentVolumeClaim", []), *by_kind.get("Job", [])]
                    timeout = _minutes(rollout_timeout_seconds)
                    extra = {"custom_timeouts": pulumi.CustomTimeouts(create=timeout, update=timeout)}
                if obj["metadata"]["name"] == scale_target:
                    extra["ignore_changes"] = ["spec.replicas"]
            elif kind == "ScaledObject":
                depends += [*by_kind.get("Deployment", []), *by_kind.get(LWS_KIND, []), *infra_ready]
            elif kind == LWS_KIND:  # a multi-node engine: its weights and accounts first, as the Deployment's
                depends += [
                    *by_kind.get("ServiceAccount", []),
                    *by_kind.get("PersistentVolumeClaim", []),
                    *by_kind.get("Job", []),
                    *infra_ready,
                ]
                if obj["metadata"]["name"] == scale_target:
                    extra["ignore_changes"] = ["spec.replicas"]
            elif kind == "DaemonSet":  # the node_local tier's fill: ready once every GPU node holds its copy
                depends += [
                    *by_kind.get("ConfigMap", []),
                    *by_kind.get("PersistentVolumeClaim", []),
                    *by_kind.get("Job", []),
                    *infra_ready,
                ]
                timeout = _minutes(rollout_timeout_seconds)
                extra = {"custom_timeouts": pulumi.CustomTimeouts(create=timeout, update=timeout)}
            elif (obj["apiVersion"], kind) not in KINDS:
                depends += list(infra_ready)  # custom kinds need their CRDs, which add-ons install
            opts_ = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=depends, **extra)
            resource = self._create(child_name(name, obj), obj, opts_)
            self.resources[f"{kind}/{obj['metadata']['name']}"] = resource
            by_kind.setdefault(kind, []).append(resource)
        url = endpoint(objects)
        self.endpoint = pulumi.Output.from_input(url) if url else None
        self.register_outputs({"endpoint": self.endpoint})

    #: How each object becomes a resource (a seam the offline recorder wraps).
    _create = staticmethod(kube_resource)


@dataclass
class PlatformCluster:
    """A platform placement's cluster as the models on it see it.

    Built by `inferstack.platform.Platform` in the same stack, `infra` is the cloud's own `ClusterInfra`:
    models get their own weight caches and source identity exactly as standalone ones. Read from the
    platform stack's outputs (`from_outputs`), there is only the cluster's name, a provider from the
    exported kubeconfig and the exported cache StorageClass."""

    placement: str
    infra: ClusterInfra
    #: A ReadWriteMany StorageClass the platform offers for weight caches; None where it offers none.
    cache_storage_class: str | None = None
    #: False for a cluster read from another stack: no cloud handles to build caches or identities with.
    same_stack: bool = True
    #: Resources the models' objects wait for besides the cluster's own (e.g. team namespaces).
    ready: list[pulumi.Resource] = field(default_factory=list)

    @classmethod
    def from_outputs(
        cls,
        name: str,
        where: PlatformPlacement,
        outputs: pulumi.Input[Mapping[str, Any]],
        parent: pulumi.Resource | None = None,
    ) -> "PlatformCluster":
        """The cluster of platform placement `where` from the platform stack's `platform` output (see
        `inferstack.platform.Platform.outputs`), typically `StackReference(...).get_output("platform")`.
        New clusters are reached through the exported kubeconfig; existing ones, as the platform stack
        reaches them, through the kubeconfig file and context the platform document names."""
        entry = pulumi.Output.from_input(outputs).apply(lambda all_: _platform_entry(all_, where.name))
        cluster = where.cluster
        if cluster.kind == "new":
            kubeconfig: pulumi.Input[str] | None = pulumi.Output.secret(entry.apply(lambda e: e["kubeconfig"]))
        else:
            kubeconfig = os.path.expanduser(cluster.kubeconfig) if cluster.kubeconfig else None
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=cluster.context if cluster.kind == "existing" else None,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        handle = ClusterHandle(name=entry.apply(lambda e: e["clusterName"]), provider=provider)
        storage_class = cloud_for_cluster(where.cloud, where.cluster).claimable_cache_class
        return cls(where.name, ClusterInfra(None, handle), storage_class, same_stack=False)


class ModelDeploymentArgs(TypedDict, total=False):
    """Inputs of a ModelDeployment. Give exactly one of `spec_yaml` and `spec_path`."""

    spec_yaml: str
    """The deployment spec as YAML text (the same document as a spec file; `inferstack schema` prints its JSON Schema)."""
    spec_path: str
    """Path to a spec file, relative to the program's working directory."""
    device_plugin: bool
    """Install the NVIDIA device plugin where the platform does not ship it (default true; GKE ships it)."""
    dcgm_exporter: bool
    """Install NVIDIA's DCGM exporter for GPU metrics (default true)."""
    keda: bool
    """Install KEDA, which scales replicas on engine metrics (default true)."""
    prometheus_stack: bool
    """Install kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana), which the
    monitoring objects need, on clusters inferstack creates (default true)."""
    hf_token: pulumi.Input[str]
    """A Hugging Face token (pass it as a secret) for gated hf:// models and adapters; stored as the Secret
    the prefetch Job reads. The stack program takes it from the secret config `inferstack:hfToken`."""


def plan_from_args(args: Mapping[str, Any]) -> Plan:
    """Load, validate and plan the spec the args name; errors name the input property."""
    text, path = args.get("spec_yaml"), args.get("spec_path")
    if (text is None) == (path is None):
        raise pulumi.InputPropertiesError(
            "ModelDeployment needs exactly one spec",
            [
                {
                    "property_path": "specYaml",
                    "reason": "give the spec as YAML text in specYaml, or a file in specPath, not both",
                },
            ],
        )
    prop = "specYaml" if text is not None else "specPath"
    value = text if text is not None else path
    if not isinstance(value, str):
        raise pulumi.InputPropertyError(prop, f"must be a string, not {type(value).__name__}")
    try:
        # The same bounded, duplicate-key-rejecting parser as spec files.
        spec = parse_spec_text(value, "specYaml") if text is not None else load_spec(value)
    except SpecError as exc:
        raise pulumi.InputPropertyError(prop, exc.render()) from None
    return make_plan(spec)


class ModelDeployment(pulumi.ComponentResource):
    """One model served in every placement of its spec: per placement a cluster (new or existing), a
    GPU node pool, a weight cache, add-ons and hardened serving objects, all from the plan."""

    endpoints: pulumi.Output[dict[str, str]]
    """In-cluster URL of the inference API per placement (OpenAI-compatible for vLLM and SGLang)."""
    kubeconfigs: pulumi.Output[dict[str, str]]
    """Kubeconfig per placement whose cluster this deployment created (secret)."""
    cluster_names: pulumi.Output[dict[str, str]]
    """Cluster name per placement."""
    monthly_cost_max: pulumi.Output[float]
    """Estimated GPU node cost per month at max replicas, USD (-1 when some placement has no price)."""

    def __init__(
        self,
        name: str,
        args: ModelDeploymentArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        plan: Optional[Plan] = None,
        extra_objects: Optional[ExtraObjects] = None,
        networks: Optional[Mapping[str, ExistingNetwork]] = None,
        platform: Optional[Mapping[str, PlatformCluster]] = None,
        api_keys: Optional[Mapping[str, str]] = None,
    ) -> None:
        """`api_keys`: client name -> API key for the spec's endpoint (`endpoint.clients`); only their
        SHA-256 hashes reach the cluster. Without it, the secret config `inferstack:apiKeys` (a JSON
        object) is read. Not a component input, so keys never sit in the component's inputs."""
        super().__init__(TYPE, name, None, opts)
        plan = plan if plan is not None else plan_from_args(args or {})
        _require_deployable(plan)
        settings = AddonSettings(
            device_plugin=(args or {}).get("device_plugin", True),
            dcgm_exporter=(args or {}).get("dcgm_exporter", True),
            keda=(args or {}).get("keda", True),
            prometheus_stack=(args or {}).get("prometheus_stack", True),
        )
        self.plan = plan
        self.infra: dict[str, PlacementInfra] = {}
        self.services: dict[str, InferenceService] = {}
        #: Where each placement's endpoint answers (placements of a spec with an `endpoint` section); a
        #: Python attribute, not a component output (the package schema cannot carry EndpointAddress).
        self.endpoint_addresses: dict[str, EndpointAddress] = {}
        endpoints: dict[str, pulumi.Input[str]] = {}
        kubeconfigs: dict[str, pulumi.Input[str]] = {}
        clusters: dict[str, pulumi.Input[str]] = {}
        targets: dict[str, EndpointTarget] = {}
        routed = {name for route in plan.spec.global_endpoints for name in route.placements}
        for placement in plan.placements:
            prefix = f"{name}-{placement.name}"
            ctx = PlacementContext(prefix, plan, placement, self, settings, (networks or {}).get(placement.name))
            infra = _infra(ctx, platform)
            objects = _with_hub_token(list(placement_objects(plan, placement)), plan, (args or {}).get("hf_token"))
            objects = _with_endpoint_keys(objects, plan, placement, api_keys)
            objects = with_balancer_certificate(objects, gateway.model_site(plan, placement), infra.infra, prefix, self)
            objects += list(_extra(extra_objects, plan, placement))
            # Caches on clusters the stack does not own (existing ones, or a platform's) outlive it.
            existing = ctx.spec_placement.cluster.kind == "existing" or ctx.spec_placement.platform is not None
            service = InferenceService(
                f"{prefix}-serving",
                objects,
                provider=infra.cluster.provider,
                prefetch_timeout_seconds=plan.cold_start.prefetch_deadline_seconds,
                rollout_timeout_seconds=plan.cold_start.first_rollout_seconds,
                infra_ready=[*infra.ready],
                storage_ready=infra.cache.ready,
                retain_cache=existing,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.infra[placement.name] = infra
            self.services[placement.name] = service
            site = gateway.model_site(plan, placement)
            if site is not None:
                self.endpoint_addresses[placement.name] = EndpointAddress.of(site, service.resources)
                if placement.name in routed:
                    targets[placement.name] = cloud_for(placement.cloud).endpoint_target(
                        placement, infra, gateway_status(site, service.resources), gateway.service_port(site.endpoint)
                    )
            if service.endpoint is not None:
                endpoints[placement.name] = service.endpoint
            if infra.cluster.kubeconfig is not None and ctx.spec_placement.platform is None:
                kubeconfigs[placement.name] = infra.cluster.kubeconfig
            clusters[placement.name] = infra.cluster.name
        #: The DNS records of each of the spec's global endpoints, over its placements' gateways.
        self.global_endpoints: list[GlobalEndpoint] = global_endpoints(
            plan, targets, pulumi.ResourceOptions(parent=self)
        )
        cost = plan.monthly_cost_max
        self.endpoints = pulumi.Output.from_input(endpoints)  # pyright: ignore[reportAttributeAccessIssue]
        self.kubeconfigs = pulumi.Output.secret(kubeconfigs)  # pyright: ignore[reportAttributeAccessIssue]
        self.cluster_names = pulumi.Output.from_input(clusters)  # pyright: ignore[reportAttributeAccessIssue]
        self.monthly_cost_max = pulumi.Output.from_input(round(cost, 2) if cost is not None else -1.0)
        self.register_outputs(
            {
                "endpoints": self.endpoints,
                "kubeconfigs": self.kubeconfigs,
                "cluster_names": self.cluster_names,
                "monthly_cost_max": self.monthly_cost_max,
            }
        )

    @classmethod
    def from_plan(
        cls,
        name: str,
        plan: Plan,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        addons: AddonSettings = AddonSettings(),
        extra_objects: Optional[ExtraObjects] = None,
        networks: Optional[Mapping[str, ExistingNetwork]] = None,
        hf_token: Optional[pulumi.Input[str]] = None,
        platform: Optional[Mapping[str, PlatformCluster]] = None,
        api_keys: Optional[Mapping[str, str]] = None,
    ) -> "ModelDeployment":
        args: ModelDeploymentArgs = {
            "device_plugin": addons.device_plugin,
            "dcgm_exporter": addons.dcgm_exporter,
            "keda": addons.keda,
            "prometheus_stack": addons.prometheus_stack,
        }
        if hf_token is not None:
            args["hf_token"] = hf_token
        return cls(
            name,
            args,
            opts,
            plan=plan,
            extra_objects=extra_objects,
            networks=networks,
            platform=platform,
            api_keys=api_keys,
        )

    @classmethod
    def from_spec_file(
        cls, name: Optional[str], path: Union[str, Path], opts: Optional[pulumi.ResourceOptions] = None, **kwargs: Any
    ) -> "ModelDeployment":
        """Load and plan a spec file; `name` defaults to the spec's name."""
        plan = plan_from_args({"spec_path": str(path)})
        return cls.from_plan(name or plan.spec.name, plan, opts, **kwargs)


def _platform_entry(outputs: Mapping[str, Any], placement: str) -> Mapping[str, Any]:
    if placement not in outputs:
        known = ", ".join(sorted(outputs)) or "none"
        raise ValueError(f"the platform stack exports no placement {placement!r}; it exports: {known}")
    return outputs[placement]


def _infra(ctx: PlacementContext, platform: Optional[Mapping[str, PlatformCluster]]) -> PlacementInfra:
    """The placement's infrastructure: its own cluster, or its platform's cluster plus the model's cache
    and identity. A model on another stack's platform can only use storage and sources that need no
    cloud handles (a named or platform StorageClass, a pvc:// or hf:// source); anything else is refused."""
    where = ctx.spec_placement
    cloud = cloud_for_placement(where)
    shared = (platform or {}).get(where.name)
    if shared is None and where.platform is None:
        return cloud.build(ctx)
    if shared is None:
        raise pulumi.InputPropertyError(
            "platform",
            f"placement {where.name!r} is on platform {where.platform!r}, but no cluster of that platform was "
            "given: deploy the model in the platform's folder, or pass the platform stack's clusters",
        )
    if shared.same_stack:
        return cloud.attach(ctx, shared.infra)
    spec = ctx.plan.spec
    storage_class = spec.cache.storage_class or shared.cache_storage_class
    problems = []
    if storage_class is None and spec.model.scheme != "pvc":
        problems.append(
            "its weight cache needs a ReadWriteMany StorageClass: set cache.storage_class, or deploy the model "
            "in the platform's stack"
        )
    if any(s.split("://")[0] in ("s3", "gs") for s in spec.model.weight_sources):
        problems.append(
            "object-store sources need cloud identity bound on the platform's cluster: deploy the model in the "
            "platform's stack, or serve it from hf:// or pvc://"
        )
    if problems:
        raise pulumi.InputPropertyError(
            "platform",
            f"placement {where.name!r} reads platform {where.platform!r} from another stack: " + "; ".join(problems),
        )
    return PlacementInfra(infra=shared.infra, cache=CacheStorage(storage_class, ready=list(shared.ready)))


def _with_hub_token(objects: list[dict], plan: Plan, token: Optional[pulumi.Input[str]]) -> list[dict]:
    """`objects` with the hub-token Secret inserted before the first workload, when a token is given and
    some weight source is on the Hugging Face hub (the prefetch Job reads it as HF_TOKEN)."""
    model = plan.spec.model
    if token is None or not any(source.startswith("hf://") for source in model.weight_sources):
        return objects
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": contract.hub_token_secret(plan.spec.name),
            "namespace": plan.spec.namespace,
            "labels": {contract.LABEL_NAME: plan.spec.name, contract.LABEL_MANAGED_BY: contract.MANAGED_BY},
        },
        "type": "Opaque",
        "stringData": {"token": pulumi.Output.secret(token)},
    }
    first_workload = next((i for i, o in enumerate(objects) if o["kind"] in ("Job", "Deployment")), len(objects))
    return [*objects[:first_workload], secret, *objects[first_workload:]]


def endpoint_keys(owner: str, endpoint: Endpoint, keys: Optional[Mapping[str, str]]) -> dict[str, str]:
    """Each client's key of `owner`'s endpoint, from `keys` or else the secret config `contract.API_KEYS_CONFIG`; an
    InputPropertyError naming every client without one (or a config that is not a JSON object of
    strings). Keys for clients the endpoint does not list are ignored."""
    clients = [c.name for c in endpoint.clients]
    fix = (
        f"set them with `pulumi config set --secret {contract.API_KEYS_CONFIG} "
        + "'{"
        + ", ".join(f'"{c}": "<key>"' for c in clients)
        + "}'`"
    )
    if keys is None:
        raw = pulumi.runtime.get_config(contract.API_KEYS_CONFIG)
        try:
            keys = json.loads(raw) if raw is not None else {}
        except json.JSONDecodeError:
            keys = None
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            raise pulumi.InputPropertyError(
                "api_keys", f"{contract.API_KEYS_CONFIG} is not a JSON object of strings: {fix}"
            )
    missing = [c for c in clients if not keys.get(c)]
    if missing:
        raise pulumi.InputPropertyError(
            "api_keys", f"endpoint client(s) {', '.join(missing)} of {owner!r} have no API key: {fix}"
        )
    return {c: keys[c] for c in clients}


def with_keys_secret(objects: list[dict], site: gateway.Site, keys: Mapping[str, str]) -> list[dict]:
    """`objects` with the gateway's Secret of key hashes (`kube.endpoint.keys_secret`, a Pulumi secret)
    just before its Deployment."""
    secret = gateway.keys_secret(site, pulumi.Output.secret(gateway.keys_map(keys)))
    at = next(i for i, o in enumerate(objects) if (o["kind"], o["metadata"]["name"]) == ("Deployment", site.name))
    return [*objects[:at], secret, *objects[at:]]


def _with_endpoint_keys(
    objects: list[dict], plan: Plan, placement: PlacementPlan, keys: Optional[Mapping[str, str]]
) -> list[dict]:
    """`objects` with the model's gateway Secret, when the spec has an endpoint."""
    site = gateway.model_site(plan, placement)
    if site is None:
        return objects
    return with_keys_secret(objects, site, endpoint_keys(plan.spec.name, site.endpoint, keys))


def with_balancer_certificate(
    objects: list[dict], site: Optional[gateway.Site], infra: ClusterInfra, name: str, parent: pulumi.Resource
) -> list[dict]:
    """`objects` with the gateway Service naming the certificate its load balancer serves, where the spec asks
    the load balancer to terminate TLS (`Site.balancer_tls`): the placement's cloud makes the certificate
    (`Cloud.endpoint_certificate`, named `<name>-endpoint-...`) for the endpoint's host name."""
    if site is None or site.balancer_tls is None:
        return objects
    tls, hostname = site.endpoint.tls, site.endpoint.hostname
    if tls.zone_id is None or hostname is None:
        raise ValueError(f"tls.source {tls.source} needs endpoint.hostname and tls.zone_id (the spec requires both)")
    certificate = cloud_for(site.cloud).endpoint_certificate(
        f"{name}-endpoint", hostname, tls.zone_id, infra, pulumi.ResourceOptions(parent=parent)
    )
    return gateway.with_balancer_certificate(objects, site, certificate)


@dataclass(frozen=True)
class EndpointAddress:
    """Where one placement's endpoint answers, for DNS records and health checks: the load balancer's
    hostname or IP (the Service's `status.loadBalancer.ingress[0]`; the in-cluster DNS name of a ClusterIP
    Service), the port and scheme clients use, and the path that answers 200 while the gateway serves
    (HAProxy's monitor-uri, on the same port, no key needed)."""

    address: pulumi.Output[str]
    port: int
    scheme: str
    health_check_path: str

    @classmethod
    def of(cls, site: gateway.Site, resources: Mapping[str, pulumi.Resource]) -> "EndpointAddress":
        """The address of `site`'s gateway Service among `resources` (keyed `Service/<name>`)."""
        in_cluster = f"{site.name}.{site.namespace}.svc.cluster.local"
        status = gateway_status(site, resources)
        return cls(
            address=pulumi.Output.from_input(status).apply(lambda s: _ingress(s) or in_cluster),
            port=gateway.service_port(site.endpoint),
            scheme="https" if site.https else "http",
            health_check_path=endpoint_facts.gateway().health_path,
        )


def gateway_status(site: gateway.Site, resources: Mapping[str, pulumi.Resource]) -> pulumi.Output[Any]:
    """The status of `site`'s gateway Service among `resources` (keyed `Service/<name>`)."""
    return resources[f"Service/{site.name}"].status  # pyright: ignore[reportAttributeAccessIssue]


def _ingress(status: Any) -> Optional[str]:
    """The first load-balancer ingress hostname or IP of a Service status, or None."""
    found = first_ingress(status)
    return found.get("hostname") or found.get("ip")


def _extra(extra: Optional[ExtraObjects], plan: Plan, placement: PlacementPlan) -> Sequence[dict]:
    """The placement's extra objects; by default its monitoring (pass [] to leave monitoring out)."""
    if extra is None:
        return placement_monitoring(plan, placement.name)
    return extra(plan, placement) if callable(extra) else extra


def _require_deployable(plan: Plan) -> None:
    blocking = [f for f in plan.findings if f.blocking]
    if blocking:
        raise pulumi.InputPropertiesError(
            f"the plan for {plan.spec.name!r} is not deployable (run `inferstack plan` for details)",
            [{"property_path": f.code, "reason": f.message} for f in blocking],
        )


__all__ = [
    "EndpointAddress",
    "InferenceService",
    "ModelDeployment",
    "ModelDeploymentArgs",
    "PlatformCluster",
    "child_name",
    "kube_resource",
    "plan_from_args",
    "with_balancer_certificate",
]
