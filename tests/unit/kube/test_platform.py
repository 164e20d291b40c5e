"""Shared platform objects: team namespaces under Pod Security `restricted`, GPU quotas per cluster
(whole GPUs, and MIG slices where a pool is partitioned)."""

from __future__ import annotations

from inferstack.kube.platform import platform_objects
from inferstack.plan.fleet import plan_fleet
from inferstack.spec.fleet import load_fleet
from tests.conftest import SPECS
from tests.fleet_folder import FLEET


def _objects(placement: str) -> dict[tuple[str, str], dict]:
    result = plan_fleet(load_fleet(FLEET))
    return {(o["kind"], o["metadata"]["name"]): o for o in platform_objects(result, placement)}


def test_each_team_gets_a_restricted_namespace_then_its_quota():
    result = plan_fleet(load_fleet(FLEET))
    objects = platform_objects(result, "us-central")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "chat"),
        ("ResourceQuota", "chat-gpus"),
        ("Namespace", "search"),
        ("ResourceQuota", "search-gpus"),
    ]
    assert objects[0]["metadata"]["labels"] == {
        "app.kubernetes.io/name": "chat",
        "app.kubernetes.io/component": "team-namespace",
        "app.kubernetes.io/managed-by": "inferstack",
        "inferstack.dev/platform": "prod",
        "inferstack.dev/team": "chat",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }


def test_quota_caps_whole_gpus():
    quota = _objects("us-central")[("ResourceQuota", "search-gpus")]
    assert quota["metadata"]["namespace"] == "search"
    assert quota["spec"] == {"hard": {"requests.nvidia.com/gpu": "8"}}


def test_quota_on_a_mig_cluster_counts_each_slice_as_one_device():
    # us-central's h100-mig pool is partitioned by GKE, which advertises a slice as one nvidia.com/gpu.
    quota = _objects("us-central")[("ResourceQuota", "chat-gpus")]
    assert quota["spec"] == {"hard": {"requests.nvidia.com/gpu": "12"}}


def test_a_folder_without_platform_has_no_shared_objects(tmp_path):
    (tmp_path / "q.yaml").write_text((SPECS / "quickstart.yaml").read_text())
    assert platform_objects(plan_fleet(load_fleet(tmp_path)), "us-central") == []
