"""The node_local cache tier under Pulumi mocks: the GPU nodes get their NVMe set up as one array, the
node-local objects become typed resources, and the fill DaemonSet and the engine wait as long as the plan says."""

from __future__ import annotations

import base64

import pytest

from inferstack.clouds.gcp.node_pool import local_ssd_config
from tests.components.harness import run_program
from tests.conftest import ROOT, SPECS

pytest.importorskip("pulumi_aws")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PREFIX = "deepseek-v3-us-east"


@pytest.fixture(scope="module")
def run():
    with pytest.MonkeyPatch.context() as mp:
        yield run_program(str(SPECS / "deepseek-v3-h200.yaml"), ROOT, monkeypatch=mp)


def test_eks_gpu_nodes_assemble_their_nvme_with_nodeadm(run):
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate", f"{PREFIX}-gpu-lt").inputs
    user_data = base64.b64decode(template["userData"]).decode()
    assert "Content-Type: application/node.eks.aws" in user_data
    assert "kind: NodeConfig\nspec:\n  instance:\n    localStorage:\n      strategy: RAID0\n" in user_data
    system = run.one("aws:ec2/launchTemplate:LaunchTemplate", f"{PREFIX}-cluster-system").inputs
    assert "userData" not in system


def test_node_local_objects_are_typed_resources_with_the_plans_budget(run):
    types = {r.typ for r in run.resources}
    assert {"kubernetes:core/v1:PersistentVolume", "kubernetes:apps/v1:DaemonSet"} <= types
    _, fill = run.serving_options[f"{PREFIX}-serving-daemonset-deepseek-v3-node-cache"]
    _, engine = run.serving_options[f"{PREFIX}-serving-deployment-deepseek-v3"]
    assert fill.custom_timeouts is not None and engine.custom_timeouts is not None
    assert fill.custom_timeouts.create == engine.custom_timeouts.create


def test_gke_local_ssd_count_is_the_machine_types():
    assert local_ssd_config("a3-highgpu-8g").local_ssd_count == 16
