"""The objects a platform cluster holds once for all its models, as plain dicts: per team a Namespace
(Pod Security `restricted`, as every model namespace) and a ResourceQuota capping the GPUs the team's
pods may request there. Models of a team put their objects in its namespace (`DeploymentSpec.namespace`).
A placement with an `endpoint` also gets its gateway (`kube.endpoint.platform_site`) in the ingress
namespace.
"""

from __future__ import annotations

from inferstack.contract import (
    DOMAIN,
    GPU_RESOURCE,
    INGRESS_NAMESPACE,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    MANAGED_BY,
)
from inferstack.kube import endpoint as gateway
from inferstack.kube.objects import gateway_objects
from inferstack.plan.fleet import FleetPlan, PlatformPlacementPlan
from inferstack.spec.platform import PlatformSpec, Team

#: Label naming the platform team on the objects the platform creates for it.
TEAM_LABEL = f"{DOMAIN}/team"
#: Label naming the platform on them.
PLATFORM_LABEL = f"{DOMAIN}/platform"
#: Pod Security admission: the `restricted` profile, enforced at the newest version (as model namespaces).
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def _labels(platform: PlatformSpec, team: Team, component: str) -> dict[str, str]:
    return {
        LABEL_NAME: team.name,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
        PLATFORM_LABEL: platform.name,
        TEAM_LABEL: team.name,
    }


def team_namespace(platform: PlatformSpec, team: Team) -> dict:
    """The team's namespace: every model of the team runs in it."""
    labels = {**_labels(platform, team, "team-namespace"), **POD_SECURITY}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team.name, "labels": labels}}


def quota_name(team: Team) -> str:
    return f"{team.name}-gpus"


def team_quota(platform: PlatformSpec, team: Team, placement: PlatformPlacementPlan) -> dict:
    """The team's GPU quota in one cluster: `requests.nvidia.com/gpu` = the team's `gpus` (Kubernetes
    quotas extended resources by their `requests.` name only). MIG pools exist only where the cloud
    partitions GPUs itself and advertises each slice as one `nvidia.com/gpu` (GKE), so there a slice
    counts as one device of the quota."""
    hard = {f"requests.{GPU_RESOURCE}": str(team.gpus)}
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": quota_name(team),
            "namespace": team.name,
            "labels": _labels(platform, team, "team-quota"),
        },
        "spec": {"hard": hard},
    }


def platform_objects(result: FleetPlan, placement: str) -> list[dict]:
    """The shared objects of one platform placement's cluster: each team's Namespace, then its quota.
    Empty for a folder without platform."""
    platform = result.fleet.platform
    if platform is None:
        return []
    planned = next(p for p in result.placements if p.name == placement)
    out: list[dict] = []
    for team in platform.teams:
        out += [team_namespace(platform, team), team_quota(platform, team, planned)]
    if (site := gateway.platform_site(result, placement)) is not None:
        out += [ingress_namespace(platform), *gateway_objects(site)]
    return out


def ingress_namespace(platform: PlatformSpec) -> dict:
    """The namespace of the platform's endpoint gateway (Pod Security `restricted`, as every namespace
    inferstack creates); the models' routers admit pods from it."""
    labels = {LABEL_NAME: platform.name, LABEL_COMPONENT: "ingress-namespace", LABEL_MANAGED_BY: MANAGED_BY}
    labels |= {PLATFORM_LABEL: platform.name, **POD_SECURITY}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INGRESS_NAMESPACE, "labels": labels}}
