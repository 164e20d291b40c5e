"""`GlobalEndpoint`: one global DNS name of a model over its placements' private endpoints.

It takes a route of the plan (`plan.traffic.global_routes`: the spec's global endpoint with the
placements' weights or failover roles) and each placement's `EndpointTarget` (its gateway Service's
internal load balancer), and asks the route's cloud for the records (`Cloud.global_records`): Route 53
alias records on AWS, one Cloud DNS record set with a routing policy on GCP. Children are named
`<name>` (GCP) or `<name>-<placement>` (AWS), so reordering placements renames nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from inferstack.clouds import cloud_for
from inferstack.clouds.base import EndpointTarget
from inferstack.plan import Plan
from inferstack.plan.traffic import GlobalRoute, global_routes

TYPE = "inferstack:index:GlobalEndpoint"


class GlobalEndpoint(pulumi.ComponentResource):
    """The records of one global name; `hostname` is the name clients resolve."""

    def __init__(
        self,
        name: str,
        route: GlobalRoute,
        targets: Mapping[str, EndpointTarget],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        missing = [t.placement for t in route.targets if t.placement not in targets]
        if missing:
            raise ValueError(
                f"global endpoint {route.name!r} spans placements {', '.join(missing)} with no endpoint target; "
                f"targets given: {', '.join(sorted(targets)) or 'none'}"
            )
        super().__init__(TYPE, name, {"hostname": route.hostname, "policy": route.policy}, opts)
        ordered = [targets[t.placement] for t in route.targets]
        self.hostname = route.hostname
        self.records = cloud_for(route.cloud).global_records(name, route, ordered, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"hostname": route.hostname})


def global_endpoints(
    plan: Plan, targets: Mapping[str, EndpointTarget], opts: pulumi.ResourceOptions | None = None
) -> list[GlobalEndpoint]:
    """A `GlobalEndpoint` per global endpoint of the plan's spec, named `<deployment>-<endpoint>`."""
    return [GlobalEndpoint(f"{plan.spec.name}-{route.name}", route, targets, opts) for route in global_routes(plan)]
