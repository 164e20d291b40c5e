"""The Platform component under Pulumi mocks: a platform folder builds each cluster once and its models
attach; names are stable when models come and go; shared existing clusters no longer collide; a model
stack reads the platform stack's exported outputs."""

from __future__ import annotations

import collections
import json
import os
import shutil

import pulumi
import pytest

from tests.components.harness import Run, run_program
from tests.components.large_fleet import PLATFORM, model_spec, write_fleet
from tests.conftest import ROOT

pytest.importorskip("pulumi_aws")
pytest.importorskip("pulumi_gcp")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GOLDEN = ROOT / "tests" / "golden" / "resources"
UPDATE = os.environ.get("INFERSTACK_UPDATE_GOLDEN") == "1"
FLEET_SIZE = 50


def run_with_urns(value: str, monkeypatch=None) -> tuple[Run, set[str]]:
    """The program run under mocks, and the URN of every resource it registered."""
    run = run_program(value, ROOT, monkeypatch)
    urns = set(pulumi.runtime.settings.SETTINGS.monitor.resources)  # pyright: ignore[reportAttributeAccessIssue]
    return run, urns


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory) -> tuple[Run, set[str]]:
    return run_with_urns(str(write_fleet(tmp_path_factory.mktemp("fleet") / "acme", FLEET_SIZE)))


def test_fifty_models_register_two_clusters_and_platform_objects_once(fleet_run):
    run, _ = fleet_run
    kinds = collections.Counter(r.typ for r in run.resources)
    assert kinds["aws:eks/cluster:Cluster"] == 1 and kinds["gcp:container/cluster:Cluster"] == 1
    assert kinds["inferstack:index:Platform"] == 1 and kinds["inferstack:index:ModelDeployment"] == FLEET_SIZE
    # One set of add-ons per cluster, installed by the platform: EKS and GKE get the device plugin (EKS
    # only), DCGM exporter, KEDA and kube-prometheus-stack; the existing cluster gets KEDA alone.
    releases = sorted(r.name for r in run.of_type("kubernetes:helm.sh/v3:Release"))
    assert releases == [
        "acme-onprem-addons-keda",
        "acme-us-central-addons-dcgm-exporter",
        "acme-us-central-addons-keda",
        "acme-us-central-addons-kube-prometheus-stack",
        "acme-us-east-addons-dcgm-exporter",
        "acme-us-east-addons-keda",
        "acme-us-east-addons-kube-prometheus-stack",
        "acme-us-east-addons-nvidia-device-plugin",
        "acme-us-east-cluster-autoscaler",
    ]
    # A node pool per platform GPU pool (the system pools come with the clusters).
    gpu_groups = sorted(r.name for r in run.of_type("aws:eks/nodeGroup:NodeGroup") if "-gpu-" in r.name)
    assert gpu_groups == ["acme-us-east-gpu-h100", "acme-us-east-gpu-l40s"]
    gke_pools = sorted(r.name for r in run.of_type("gcp:container/nodePool:NodePool") if "-gpu-" in r.name)
    assert gke_pools == ["acme-us-central-gpu-l4"]
    system = run.one("aws:eks/nodeGroup:NodeGroup", "acme-us-east-cluster-system").inputs
    assert system["instanceTypes"] == ["m6i.xlarge"]
    assert system["scalingConfig"] == {"minSize": 3, "desiredSize": 3, "maxSize": 6}
    assert {r.inputs["instanceTypes"][0] for r in run.of_type("aws:eks/nodeGroup:NodeGroup") if "-gpu-" in r.name} == {
        "g6e.xlarge",
        "p5.48xlarge",
    }
    # Each model's serving objects, in its team's namespace, and no cluster-level object twice.
    deployments = {r.name: r.inputs["metadata"] for r in run.of_type("kubernetes:apps/v1:Deployment")}
    assert len(deployments) == 2 * FLEET_SIZE  # each model's engine and its router
    assert deployments["m-007-us-east-serving-deployment-m-007"]["namespace"] == "search"
    assert deployments["m-000-us-east-serving-deployment-m-000"]["namespace"] == "chat"
    seen = collections.Counter(
        (
            r.provider_name,
            r.typ,
            r.inputs.get("metadata", {}).get("namespace"),
            r.inputs.get("metadata", {}).get("name"),
        )
        for r in run.resources
        if r.typ.startswith("kubernetes:") and r.typ != "kubernetes:helm.sh/v3:Release"
    )
    assert [key for key, count in seen.items() if count > 1] == []


def test_team_namespaces_and_quotas_once_per_cluster(fleet_run):
    run, _ = fleet_run
    namespaces = sorted(r.name for r in run.of_type("kubernetes:core/v1:Namespace") if r.name.startswith("acme-"))
    assert namespaces == [
        f"acme-{p}-namespace-{t}" for p in ("onprem", "us-central", "us-east") for t in ("chat", "search")
    ]
    quota = run.one("kubernetes:core/v1:ResourceQuota", "acme-us-east-resourcequota-chat-gpus").inputs
    assert quota["metadata"]["namespace"] == "chat"
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": "1000"}
    # The platform dashboard and the DCGM ServiceMonitor once per new cluster, none on the existing one.
    assert sorted(r.name for r in run.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")) == [
        "acme-us-central-servicemonitor-nvidia-dcgm-exporter",
        "acme-us-east-servicemonitor-nvidia-dcgm-exporter",
    ]
    dashboards = [r for r in run.of_type("kubernetes:core/v1:ConfigMap") if r.name.endswith("inferstack-platform")]
    assert sorted(r.name for r in dashboards) == [
        "acme-us-central-configmap-inferstack-platform",
        "acme-us-east-configmap-inferstack-platform",
    ]


def test_models_share_the_cluster_cache_storage_and_own_their_caches(fleet_run):
    run, _ = fleet_run
    assert len(run.of_type("aws:efs/fileSystem:FileSystem")) == 1
    assert sorted(r.name for r in run.of_type("kubernetes:storage.k8s.io/v1:StorageClass")) == [
        "acme-us-central-cache-storage-storage-class",
        "acme-us-east-cache-storage-storage-class",
        "acme-us-east-metrics-storage-class",
    ]
    # Each AWS model: its own access point on the platform's file system and a volume reserved for it.
    ap = run.one("aws:efs/accessPoint:AccessPoint", "m-000-us-east-weights-efs").inputs
    assert ap["fileSystemId"] == "acme-us-east-cache-storage-efs_id"
    assert ap["rootDirectory"]["path"] == "/inferstack/m-000"
    # Each GCP model: its own Filestore instance, after the platform's key grant and StorageClass.
    stores = sorted(r.name for r in run.of_type("gcp:filestore/instance:Instance"))
    assert stores == [f"m-{i:03d}-us-central-cache-filestore" for i in range(1, FLEET_SIZE, 4)]
    # A platform's kubeconfig is the platform's output, not each model's.
    assert run.outputs["m-000"][3] == {}


def test_fleet_resources_match_golden(fleet_run):
    run, _ = fleet_run
    actual = run.type_names()
    golden = GOLDEN / "fleet-50.json"
    if UPDATE:
        golden.write_text(json.dumps(actual, indent=1) + "\n")
        pytest.fail(f"{golden} written; review the diff and re-run without INFERSTACK_UPDATE_GOLDEN")
    assert golden.is_file(), f"{golden} is missing; write it with INFERSTACK_UPDATE_GOLDEN=1 and review it"
    assert actual == json.loads(golden.read_text())


def _own(urns: set[str], model: str) -> set[str]:
    """The URNs of one model's resources: named after it."""
    return {u for u in urns if u.rsplit("::", 1)[-1].startswith(f"{model}-") or u.endswith(f"::{model}")}


def test_adding_removing_or_reordering_models_changes_no_other_resource(fleet_run, tmp_path):
    _, base = fleet_run
    added = write_fleet(tmp_path / "added" / "acme", FLEET_SIZE + 1)
    _, with_added = run_with_urns(str(added))
    assert with_added - base == _own(with_added, f"m-{FLEET_SIZE:03d}")
    assert base <= with_added

    removed = write_fleet(tmp_path / "removed" / "acme", [i for i in range(FLEET_SIZE) if i != 10])
    _, without = run_with_urns(str(removed))
    assert base - without == _own(base, "m-010")
    assert without <= base

    # Reordered: the same specs under file names that sort the other way round.
    reordered = write_fleet(tmp_path / "reordered" / "acme", FLEET_SIZE, file_name=lambda i: f"z{999 - i:03d}.yaml")
    _, shuffled = run_with_urns(str(reordered))
    assert shuffled == base


def test_two_standalone_specs_on_one_existing_cluster_share_its_add_ons(tmp_path):
    import yaml

    source = yaml.safe_load((ROOT / "specs" / "existing-cluster.yaml").read_text())
    for name in ("team-a", "team-b"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**source, "name": name}))
    run, _ = run_with_urns(str(tmp_path))
    releases = [(r.name, r.inputs["name"], r.inputs["namespace"]) for r in run.of_type("kubernetes:helm.sh/v3:Release")]
    # Named after the cluster (its kubeconfig context), not after either spec.
    assert releases == [("shared-fra-gpu-prod-addons-keda", "keda", "keda")]
    assert len(run.of_type("inferstack:index:SharedCluster")) == 1
    assert {r.inputs["metadata"]["namespace"] for r in run.of_type("kubernetes:apps/v1:Deployment")} == {
        "team-a",
        "team-b",
    }


def test_platform_exports_exactly_what_model_stacks_need(fleet_run):
    run, _ = fleet_run
    exported = run.stack_outputs["platform"]
    assert sorted(exported) == ["onprem", "us-central", "us-east"]
    east = exported["us-east"]
    assert sorted(east) == [
        "cacheStorageClass",
        "cloud",
        "clusterName",
        "kubeconfig",
        "pools",
        "prometheusUrl",
        "region",
    ]
    assert (east["cloud"], east["region"], east["clusterName"]) == ("aws", "us-east-1", "acme-us-east")
    assert east["cacheStorageClass"] == "inferstack-efs"
    assert east["prometheusUrl"] == "http://prometheus-operated.monitoring.svc:9090"
    assert json.loads(east["kubeconfig"])["current-context"] == "acme-us-east"
    assert east["pools"]["h100"] == {
        "gpu": "H100",
        "nodeType": "p5.48xlarge",
        "nodeLabels": {"inferstack.dev/gpu": "H100", "inferstack.dev/pool": "gpu"},
        "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
        "migProfile": None,
    }
    # GKE's dynamically provisioned Filestore shares stay root-owned: no class model stacks can use alone.
    assert exported["us-central"]["cacheStorageClass"] is None
    assert exported["onprem"]["kubeconfig"] is None and exported["onprem"]["cacheStorageClass"] is None


def test_a_model_stack_attaches_to_the_platform_stack_through_its_outputs(tmp_path, monkeypatch):
    """The model stack holds the platform document (to bind its specs) and one model on the AWS
    placement; the platform itself comes from a mocked StackReference."""
    from inferstack import offline

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(write_fleet(tmp_path / "platform", 0) / "platform.yaml", folder / "platform.yaml")
    (folder / "m-000.yaml").write_text(json.dumps(model_spec(0)))
    kubeconfig = json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "acme-us-east"})
    exported = {
        "us-east": {"cloud": "aws", "region": "us-east-1", "clusterName": "acme-us-east", "kubeconfig": kubeconfig}
    }
    original = offline.RecordingMocks.new_resource

    def new_resource(self, args):
        if args.typ == "pulumi:pulumi:StackReference":
            assert args.inputs["name"] == "acme/platform/prod"
            return f"{args.name}_id", {**args.inputs, "outputs": {"platform": exported}}
        return original(self, args)

    monkeypatch.setattr(offline.RecordingMocks, "new_resource", new_resource)
    monkeypatch.setitem(pulumi.runtime.config.CONFIG.get(), "inferstack:platformStack", "acme/platform/prod")
    run, _ = run_with_urns(str(folder))
    kinds = collections.Counter(r.typ for r in run.resources)
    assert kinds["inferstack:index:Platform"] == 0 and kinds["aws:eks/cluster:Cluster"] == 0
    assert kinds["aws:efs/fileSystem:FileSystem"] == 0 and kinds["kubernetes:helm.sh/v3:Release"] == 0
    provider = run.one("pulumi:providers:kubernetes", "platform-acme-us-east-k8s")
    secret = provider.inputs["kubeconfig"]  # the exported kubeconfig, kept secret (Pulumi's secret signature)
    assert secret[pulumi.runtime.rpc._special_sig_key] == pulumi.runtime.rpc._special_secret_sig
    assert json.loads(secret["value"])["current-context"] == "acme-us-east"
    # The cache claim provisions its own access point from the platform's EFS class.
    claim = run.one(
        "kubernetes:core/v1:PersistentVolumeClaim", "m-000-us-east-serving-persistentvolumeclaim-m-000-weights"
    )
    assert claim.inputs["spec"]["storageClassName"] == "inferstack-efs"
    assert run.of_type("kubernetes:core/v1:PersistentVolume") == []
    deployment = run.one("kubernetes:apps/v1:Deployment", "m-000-us-east-serving-deployment-m-000")
    assert deployment.provider_name == "platform-acme-us-east-k8s"


def test_a_model_stack_without_the_platform_stack_named_is_refused(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(write_fleet(tmp_path / "platform", 0) / "platform.yaml", folder / "platform.yaml")
    (folder / "m-000.yaml").write_text(json.dumps(model_spec(0)))
    with pytest.raises(Exception, match="set inferstack:platformStack to the stack that does"):
        run_program(str(folder / "m-000.yaml"), ROOT)


def test_platform_document_is_the_one_the_tests_describe():
    assert [p["name"] for p in PLATFORM["placements"]] == ["us-east", "us-central", "onprem"]


def test_gke_mig_pool_partitions_its_gpus_and_models_land_on_the_slices(tmp_path):
    """An 8B model on H100s cut into 3g.40gb slices (two per GPU): GKE partitions the pool
    (`gpu_partition_size`), its nodes carry the slice as their GPU label, and each replica asks for one
    `nvidia.com/gpu` (GKE advertises a slice as one) on those nodes."""
    import yaml

    platform = {
        **PLATFORM,
        "placements": [
            {
                **PLATFORM["placements"][1],
                "gpu_pools": [
                    {"name": "h100-mig", "gpu": "H100", "mig": "3g.40gb", "max_nodes": 2, "capacity": ["spot"]}
                ],
            }
        ],
    }
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "platform.yaml").write_text(yaml.safe_dump(platform))
    spec = model_spec(1)
    spec["resources"] = {"gpu": "H100"}
    spec["placements"] = [{"platform": "acme", "placement": "us-central", "replicas": {"min": 2, "max": 4}}]
    (folder / "chat.yaml").write_text(yaml.safe_dump(spec))
    run, _ = run_with_urns(str(folder))
    pool = run.one("gcp:container/nodePool:NodePool", "acme-us-central-gpu-h100-mig").inputs["nodeConfig"]
    assert pool["guestAccelerators"][0]["gpuPartitionSize"] == "3g.40gb"
    assert pool["labels"]["inferstack.dev/gpu"] == "H100-MIG-3g.40gb"
    pod = run.one("kubernetes:apps/v1:Deployment", "m-001-us-central-serving-deployment-m-001").inputs["spec"]
    template = pod["template"]["spec"]
    assert template["nodeSelector"]["inferstack.dev/gpu"] == "H100-MIG-3g.40gb"
    engine = template["containers"][0]
    assert engine["resources"]["limits"]["nvidia.com/gpu"] == "1"
