"""The Pulumi program a stack runs: spec file(s) and folders in, a `Platform` per platform folder, one
`ModelDeployment` per spec, stack outputs out.

`stacks/__main__.py` calls `run(config value, base=project root)`. The value of `inferstack:spec` is a
spec file, a folder, or a JSON list of either; relative paths are resolved against `base` (the project
root, where `Pulumi.yaml` lives, as in `pulumi config set inferstack:spec specs/x.yaml`), never against
the working directory. A folder holding a platform document (`kind: Platform`) deploys that platform's
clusters once and every model spec beside it on them; a folder without one deploys each spec alone.
Every spec is loaded and planned before any resource is registered, so a bad spec or an undeployable
plan fails the whole run up front with every problem listed.

Models on a platform deployed by another stack: name that stack in `inferstack:platformStack`
(`org/project/stack`); the platform document beside the spec binds it, and the platform stack's
`platform` output connects it (`PlatformCluster.from_outputs`).

A Hugging Face token for gated models comes from the secret config `inferstack:hfToken`.

Stack outputs, keyed by deployment name: `endpoints` (per placement), `clusterNames`,
`monthlyCostMax`, and `kubeconfigs` (secret); with a platform, `platform` (see `Platform.outputs`).
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pulumi

from inferstack.calibrate import user_calibration
from inferstack.clouds.addons import AddonSettings
from inferstack.deployment import ModelDeployment, PlatformCluster
from inferstack.plan import Plan, plan
from inferstack.plan.fleet import FleetPlan, plan_fleet
from inferstack.platform import Platform, SharedCluster, shared_existing_clusters
from inferstack.spec import DeploymentSpec
from inferstack.spec.fleet import load_fleet

CONFIG_NAMESPACE = "inferstack"
CONFIG_KEY = "spec"
#: Secret config with a Hugging Face token for gated models (`pulumi config set --secret inferstack:hfToken`).
HF_TOKEN_KEY = "hfToken"
#: The stack that deployed the platform the specs run on, when it is not this one (`org/project/stack`).
PLATFORM_STACK_KEY = "platformStack"


def spec_paths(value: str | Sequence[str], base: Path) -> list[Path]:
    """The spec files and folders a config value names (file, folder, or a JSON list of those)."""
    if isinstance(value, str):
        text = value.strip()
        items: Sequence[str] = json.loads(text) if text.startswith("[") else [text]
    else:
        items = value
    paths: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        path = path if path.is_absolute() else (base / path)
        if path.is_dir():
            if not any(path.glob("*.yaml")):
                raise FileNotFoundError(f"{CONFIG_NAMESPACE}:{CONFIG_KEY}: folder {path} holds no *.yaml spec")
            paths.append(path)
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(
                f"{CONFIG_NAMESPACE}:{CONFIG_KEY} = {item!r}: no such file or folder ({path}); relative paths are "
                f"relative to {base}"
            )
    return paths


def plans(specs: Iterable[DeploymentSpec]) -> list[Plan]:
    """Plan every spec and judge them all before anything is registered: names must be unique (they
    name every resource) and every plan deployable. Raises `pulumi.RunError` listing every problem."""
    result = [plan(s) for s in specs]
    _judge(result, [])
    return result


def fleet_plans(paths: Sequence[Path]) -> list[FleetPlan]:
    """Load and plan every fleet (a folder, or one spec file) and judge them all, as `plans` does, with
    the fleets' own findings (over-subscribed pools, team quotas and budgets)."""
    calibration = user_calibration()  # the same rows `inferstack plan` reads, so both plan alike
    result = [plan_fleet(load_fleet(path), calibration) for path in paths]
    _judge([m for f in result for m in f.models], [finding for f in result for finding in f.findings])
    return result


def _judge(result: Sequence[Plan], fleet_findings: Sequence) -> None:
    names = [p.spec.name for p in result]
    problems = [
        f"spec names must be unique in one stack; repeated: {name}"
        for name in sorted({n for n in names if names.count(n) > 1})
    ]
    problems += [
        f"{p.spec.name}: not deployable: {finding.message}"
        for p in result
        for finding in p.findings
        if finding.blocking
    ]
    problems += [f"platform: {finding.message}" for finding in fleet_findings if finding.blocking]
    if problems:
        raise pulumi.RunError(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}, nothing was registered "
            "(run `inferstack plan SPEC` for details):\n" + "\n".join(f"  - {problem}" for problem in problems)
        )


def deploy(
    deployment_plans: Sequence[Plan],
    platform_clusters: Mapping[str, Mapping[str, PlatformCluster]] | None = None,
    **kwargs,
):
    """One `ModelDeployment` per plan, named after its spec, on its platform's clusters
    (`platform_clusters`: spec name -> placement -> cluster) or its own; exports the stack outputs.
    An existing cluster that several standalone specs use gets its add-ons once (`SharedCluster`)."""
    token = pulumi.Config(CONFIG_NAMESPACE).get_secret(HF_TOKEN_KEY) if "hf_token" not in kwargs else None
    if token is not None:
        kwargs = {**kwargs, "hf_token": token}
    clusters = {name: dict(by_placement) for name, by_placement in (platform_clusters or {}).items()}
    by_name = {p.spec.name: p.spec for p in deployment_plans}
    for users in shared_existing_clusters(list(by_name.values())).values():
        first_spec, first_placement = users[0]
        where = by_name[first_spec].placement(first_placement)
        shared = SharedCluster(
            f"shared-{where.cluster_name(first_spec)}",
            where.cluster,
            where.cloud,
            where.region,
            kwargs.get("addons", AddonSettings()),
        )
        for spec_name, placement in users:
            clusters.setdefault(spec_name, {})[placement] = shared.cluster
    deployments = [
        ModelDeployment.from_plan(p.spec.name, p, platform=clusters.get(p.spec.name), **kwargs)
        for p in deployment_plans
    ]
    pulumi.export("endpoints", {d.plan.spec.name: d.endpoints for d in deployments})
    pulumi.export("clusterNames", {d.plan.spec.name: d.cluster_names for d in deployments})
    pulumi.export("monthlyCostMax", {d.plan.spec.name: d.monthly_cost_max for d in deployments})
    pulumi.export("kubeconfigs", pulumi.Output.secret({d.plan.spec.name: d.kubeconfigs for d in deployments}))
    return deployments


def deploy_fleets(fleets: Sequence[FleetPlan], deploys_platform: Sequence[bool], **kwargs):
    """Each fleet's platform (built here where `deploys_platform`, else read from the stack named by
    `inferstack:platformStack`), then every model on it; returns the ModelDeployments."""
    platform_clusters: dict[str, dict[str, PlatformCluster]] = {}
    exported: dict[str, dict] = {}
    for fleet, here in zip(fleets, deploys_platform, strict=True):
        platform = fleet.fleet.platform
        if platform is None:
            continue
        if here:
            built = Platform(platform.name, fleet)
            clusters = built.clusters
            exported[platform.name] = built.outputs
        else:
            clusters = _referenced_clusters(fleet)
        for spec in fleet.fleet.specs:
            platform_clusters[spec.name] = {w.name: clusters[w.name] for w in spec.placements if w.platform}
    if exported:
        pulumi.export("platform", next(iter(exported.values())) if len(exported) == 1 else exported)
    return deploy([m for f in fleets for m in f.models], platform_clusters, **kwargs)


def _referenced_clusters(fleet: FleetPlan) -> dict[str, PlatformCluster]:
    """The clusters the fleet's specs use, read from the platform stack's `platform` output."""
    platform = fleet.fleet.platform
    assert platform is not None
    stack = pulumi.Config(CONFIG_NAMESPACE).get(PLATFORM_STACK_KEY)
    if not stack:
        raise pulumi.RunError(
            f"the specs run on platform {platform.name!r}, which this stack does not deploy: set "
            f"{CONFIG_NAMESPACE}:{PLATFORM_STACK_KEY} to the stack that does (org/project/stack), or point "
            f"{CONFIG_NAMESPACE}:{CONFIG_KEY} at the folder holding the platform document"
        )
    outputs = pulumi.StackReference(f"platform-{platform.name}", stack_name=stack).get_output("platform")
    used = sorted({w.name for spec in fleet.fleet.specs for w in spec.placements if w.platform})
    return {
        name: PlatformCluster.from_outputs(f"platform-{platform.name}-{name}", platform.placement(name), outputs)
        for name in used
    }


def run(value: str | Sequence[str], base: Path | str = ".", **kwargs):
    """Load, plan and deploy the specs and folders the config value names. A folder's platform is
    built by this stack unless `inferstack:platformStack` names the stack that builds it."""
    paths = spec_paths(value, Path(base))
    fleets = fleet_plans(paths)
    elsewhere = bool(pulumi.Config(CONFIG_NAMESPACE).get(PLATFORM_STACK_KEY))
    return deploy_fleets(fleets, [path.is_dir() and not elsewhere for path in paths], **kwargs)


def tune_gc() -> None:
    """For processes inferstack owns (the stack program, `inferstack check`), not library callers: the
    SDK keeps every registered resource, its Outputs and futures alive to the end, so each full
    collection rescans all of them and a large fleet spends half its time there. Freezing what is
    loaded and collecting the oldest generation 20x less often keeps cycles collected, just rarely."""
    if os.environ.get("INFERSTACK_DEFAULT_GC") == "1":  # the benchmark's baseline
        return
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 10_000), middle, old * 20)


def main(base: Path | str) -> None:
    """Entry point of `stacks/__main__.py`: reads `inferstack:spec`, nothing else."""
    tune_gc()
    run(pulumi.Config(CONFIG_NAMESPACE).require(CONFIG_KEY), base)
