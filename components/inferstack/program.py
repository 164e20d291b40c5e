"""The Pulumi program a stack runs: spec file(s) in, one `ModelDeployment` per spec, stack outputs out.

`stacks/__main__.py` calls `run(config value, base=project root)`. The value of `inferstack:spec` is a
spec file, a folder of spec files (every `*.yaml`, sorted), or a JSON list of either; relative paths
are resolved against `base` (the project root, where `Pulumi.yaml` lives, as in
`pulumi config set inferstack:spec specs/x.yaml`), never against the working directory. Every spec is loaded and planned before any resource is registered, so a bad
spec or an undeployable plan fails the whole run up front with every problem listed.

A Hugging Face token for gated models comes from the secret config `inferstack:hfToken`.

Stack outputs, keyed by deployment name: `endpoints` (per placement), `clusterNames`,
`monthlyCostMax`, and `kubeconfigs` (secret).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pulumi

from inferstack.deployment import ModelDeployment
from inferstack.plan import Plan, plan
from inferstack.spec import DeploymentSpec, load_spec

CONFIG_NAMESPACE = "inferstack"
CONFIG_KEY = "spec"
#: Secret config with a Hugging Face token for gated models (`pulumi config set --secret inferstack:hfToken`).
HF_TOKEN_KEY = "hfToken"


def spec_paths(value: str | Sequence[str], base: Path) -> list[Path]:
    """The spec files a config value names (file, folder, or a JSON list of those)."""
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
            found = sorted(path.glob("*.yaml"))
            if not found:
                raise FileNotFoundError(f"{CONFIG_NAMESPACE}:{CONFIG_KEY}: folder {path} holds no *.yaml spec")
            paths += found
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
    if problems:
        raise pulumi.RunError(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}, nothing was registered "
            "(run `inferstack plan SPEC` for details):\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
    return result


def deploy(deployment_plans: Sequence[Plan], **kwargs):
    """One `ModelDeployment` per plan, named after its spec; exports the stack outputs."""
    token = pulumi.Config(CONFIG_NAMESPACE).get_secret(HF_TOKEN_KEY) if "hf_token" not in kwargs else None
    if token is not None:
        kwargs = {**kwargs, "hf_token": token}
    deployments = [ModelDeployment.from_plan(p.spec.name, p, **kwargs) for p in deployment_plans]
    pulumi.export("endpoints", {d.plan.spec.name: d.endpoints for d in deployments})
    pulumi.export("clusterNames", {d.plan.spec.name: d.cluster_names for d in deployments})
    pulumi.export("monthlyCostMax", {d.plan.spec.name: d.monthly_cost_max for d in deployments})
    pulumi.export("kubeconfigs", pulumi.Output.secret({d.plan.spec.name: d.kubeconfigs for d in deployments}))
    return deployments


def run(value: str | Sequence[str], base: Path | str = ".", **kwargs):
    """Load, plan and deploy the specs the config value names."""
    return deploy(plans(load_spec(p) for p in spec_paths(value, Path(base))), **kwargs)


def main(base: Path | str) -> None:
    """Entry point of `stacks/__main__.py`: reads `inferstack:spec`, nothing else."""
    run(pulumi.Config(CONFIG_NAMESPACE).require(CONFIG_KEY), base)
