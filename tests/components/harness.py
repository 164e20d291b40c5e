"""Run inferstack's Pulumi program under mocks for the component tests (see `inferstack.offline`)."""

from __future__ import annotations

from pathlib import Path

import pulumi

from inferstack.globaldns import global_endpoints
from inferstack.offline import RecordingMocks, Run, run_offline


def run_program(value: str | list[str], base: Path, monkeypatch=None, **kwargs) -> Run:
    """Run `inferstack.program.run(value, base)` under mocks; with `monkeypatch`, also record the
    resource options each serving object got."""
    from inferstack.program import run

    return run_offline(run, record_serving_options=monkeypatch is not None, value=value, base=base, **kwargs)


def children(resource: pulumi.Resource) -> set[pulumi.Resource]:
    """Every resource parented (directly or not) to `resource`."""
    found: set[pulumi.Resource] = set()
    stack = [resource]
    while stack:
        for child in stack.pop()._childResources:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def register_global_endpoints(plan, targets) -> list:
    """The resources `inferstack.globaldns.global_endpoints(plan, targets)` registers under mocks
    (`inferstack.offline.Registered`, inputs camelCased as the engine and the policy pack see them)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="inferstack", stack="offline", preview=False)

    @pulumi.runtime.test
    def run():
        return pulumi.Output.all(*[endpoint.urn for endpoint in global_endpoints(plan, targets)])

    run()
    return mocks.resources
