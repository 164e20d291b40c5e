"""Run the Pulumi program in-process under the SDK's mocks and record every registered resource.

No Pulumi CLI, engine or cloud account is involved: `pulumi.runtime.set_mocks` answers each
registration. Mocks echo inputs back (camelCased, whole numbers as floats) and add the few outputs
the program reads (cluster endpoints and CAs, a Filestore IP, launch template versions, ACM validation
records); invokes answer availability zones and the GCP project. `inferstack check` evaluates the compliance rules on
what this records; the component tests assert on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from inferstack.deployment import InferenceService
from inferstack.plan import Plan
from inferstack.program import deploy, run

GCP_PROJECT = ("inferstack-offline", "123456789")


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    provider: str | None

    @property
    def provider_name(self) -> str | None:
        """The provider resource's logical name (`urn:...::<type>::<name>::<id>`)."""
        if not self.provider:
            return None
        urn = self.provider.rsplit("::", 1)[0]
        return urn.rsplit("::", 1)[-1]


def load_balancer_status(name: str) -> dict:
    """The status a load balancer controller writes back on the LoadBalancer Service registered as `name`
    (one ingress with a host name and an IP, as AWS and GCP report one or the other)."""
    return {"loadBalancer": {"ingress": [{"hostname": f"{name}.lb.example", "ip": f"10.9.0.{len(name)}"}]}}


def acm_validation_option(name: str, domain: str) -> dict:
    """The DNS validation ACM asks for the certificate registered as `name` for `domain` (one CNAME)."""
    return {
        "domainName": domain,
        "resourceRecordName": f"_{name}.{domain}.",
        "resourceRecordType": "CNAME",
        "resourceRecordValue": f"_{name}.acm-validations.aws.",
    }


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Registered] = []
        self.calls: list[tuple[str, dict]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), args.provider))
        outputs = dict(args.inputs)
        if args.typ.startswith("aws:"):
            outputs.setdefault("arn", f"arn:aws:mock:::{args.name}")
        if args.typ == "aws:eks/cluster:Cluster":
            outputs.update(endpoint=f"https://{args.name}.eks.example", certificateAuthority={"data": "Q0E="})
        elif args.typ == "gcp:container/cluster:Cluster":
            outputs.update(endpoint="10.0.0.2", masterAuth={"clusterCaCertificate": "Q0E="})
        elif args.typ == "gcp:filestore/instance:Instance":
            outputs["name"] = args.name
            outputs["networks"] = [{**n, "ipAddresses": ["10.1.0.2"]} for n in outputs.get("networks", [])]
        elif args.typ in ("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"):
            outputs.setdefault("name", args.name)  # auto-named in a real run: the logical name stands in
        elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        elif args.typ == "aws:ec2/vpc:Vpc":
            outputs["cidrBlock"] = args.inputs.get("cidrBlock")
        elif args.typ == "aws:acm/certificate:Certificate":
            outputs["domainValidationOptions"] = [acm_validation_option(args.name, args.inputs["domainName"])]
        elif args.typ == "aws:route53/record:Record":
            outputs["fqdn"] = args.inputs.get("name")
        elif args.typ == "kubernetes:core/v1:Service" and (args.inputs.get("spec") or {}).get("type") == "LoadBalancer":
            outputs["status"] = load_balancer_status(args.name)
        return f"{args.name}_id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # pyright: ignore[reportIncompatibleMethodOverride]
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            region = args.args.get("region", "us-east-1")
            return {"names": [f"{region}{s}" for s in "abc"], "zoneIds": [], "groupNames": [], "id": region}
        if args.token == "gcp:organizations/getProject:getProject":
            return {"projectId": GCP_PROJECT[0], "number": GCP_PROJECT[1], "id": f"projects/{GCP_PROJECT[0]}"}
        raise NotImplementedError(f"no offline answer for invoke {args.token}")


@dataclass
class Run:
    mocks: RecordingMocks
    deployments: list
    serving_options: dict[str, tuple[dict, pulumi.ResourceOptions]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    #: The stack outputs the program exported (`pulumi.export`), resolved.
    stack_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def resources(self) -> list[Registered]:
        return self.mocks.resources

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str) -> Registered:
        found = [r for r in self.resources if r.typ == typ and r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name}, found {len(found)}"
        return found[0]

    def type_names(self) -> list[list[str]]:
        return sorted([r.typ, r.name] for r in self.resources)


def run_offline(program, record_serving_options: bool = False, **kwargs) -> Run:
    """Run `program(**kwargs)` (returning ModelDeployments) under mocks; returns what was registered.

    With `record_serving_options`, the resource options each serving object got (protect,
    depends_on, timeouts), which mocks do not see, are recorded too.
    """
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="inferstack", stack="offline", preview=False)
    result = Run(mocks, [])
    original = InferenceService.__dict__["_create"]

    def recording(name: str, obj: dict, opts: pulumi.ResourceOptions):
        result.serving_options[name] = (obj, opts)
        return original.__func__(name, obj, opts)

    if record_serving_options:
        InferenceService._create = staticmethod(recording)
    exported: dict[str, Any] = {}
    export = pulumi.export
    pulumi.export = exported.__setitem__

    @pulumi.runtime.test
    def run():
        result.deployments = program(**kwargs)
        per_deployment = pulumi.Output.all(
            *[
                pulumi.Output.all(d.endpoints, d.cluster_names, d.monthly_cost_max, d.kubeconfigs)
                for d in result.deployments
            ]
        ).apply(
            lambda values: result.outputs.update(
                {d.plan.spec.name: v for d, v in zip(result.deployments, values, strict=True)}
            )
        )
        return pulumi.Output.all(per_deployment, pulumi.Output.from_input(exported)).apply(
            lambda values: result.stack_outputs.update(values[1])
        )

    try:
        run()
    finally:
        InferenceService._create = original
        pulumi.export = export
    return result


def deploy_offline(plans: Sequence[Plan]) -> Run:
    """Register the ModelDeployments of `plans` under mocks (what `pulumi up` would register)."""
    return run_offline(deploy, deployment_plans=plans)


def deploy_folder_offline(folder: str | Path) -> Run:
    """Register what `pulumi up` registers for a stack whose `inferstack:spec` is `folder` (a fleet: a
    platform document and its models), under mocks, through the stack's own program (`program.run`)."""
    return run_offline(run, value=str(Path(folder).resolve()))
