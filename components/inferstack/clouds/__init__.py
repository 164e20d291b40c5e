"""Clouds behind one interface (`inferstack.clouds.base.Cloud`), found by name in `REGISTRY`.

Cloud packages are imported only when a placement uses them, so an AWS-only stack never imports
pulumi_gcp (and `inferstack plan`/`render` never import Pulumi at all: nothing imports this package
on those paths). Asking for a cloud that is not registered is an error naming the known ones.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from inferstack.spec.suggest import closest

if TYPE_CHECKING:
    from inferstack.clouds.base import Cloud
    from inferstack.spec.models import Cluster, Placement

#: cloud name -> "module:Class"; add a cloud by adding its package and one row here.
REGISTRY: dict[str, str] = {
    "aws": "inferstack.clouds.aws:AwsCloud",
    "gcp": "inferstack.clouds.gcp:GcpCloud",
    "kubernetes": "inferstack.clouds.kubernetes:ExistingCluster",
}


class UnknownCloudError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def cloud_for(name: str) -> Cloud:
    """The registered cloud called `name`."""
    target = REGISTRY.get(name)
    if target is None:
        known = sorted(REGISTRY)
        hint = closest(name, known)
        raise UnknownCloudError(
            f"no cloud named {name!r} is registered; known clouds: {', '.join(known)}"
            + (f". Did you mean {hint!r}?" if hint else "")
        )
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)()


def cloud_for_cluster(cloud: str, cluster: Cluster) -> Cloud:
    """The cloud that builds a cluster on `cloud`: its own for new clusters; existing clusters, wherever
    they run, are reached through their kubeconfig (`kubernetes`)."""
    return cloud_for(cloud if cluster.kind == "new" else "kubernetes")


def cloud_for_placement(placement: Placement) -> Cloud:
    """The cloud that builds `placement` (`cloud_for_cluster`)."""
    return cloud_for_cluster(placement.cloud, placement.cluster)


__all__ = ["REGISTRY", "UnknownCloudError", "cloud_for", "cloud_for_cluster", "cloud_for_placement"]
