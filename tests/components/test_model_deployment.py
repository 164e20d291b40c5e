"""ModelDeployment under Pulumi mocks, for every example spec: exact resource types and names (golden
files), key inputs per cloud, region on every regional resource and provider, parenting, options the
serving objects carry, and the component package schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.components.harness import Run, children, run_program
from tests.conftest import EXAMPLE_SPECS, ROOT, SPECS, spec_variant

pytest.importorskip("pulumi_aws")
pytest.importorskip("pulumi_gcp")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GOLDEN = ROOT / "tests" / "golden" / "resources"
UPDATE = os.environ.get("INFERSTACK_UPDATE_GOLDEN") == "1"
#: AWS resources that are global (IAM) and so carry no region.
AWS_GLOBAL = ("aws:iam/",)
#: GCP resources that are global or project-level and so carry no region/location.
GCP_GLOBAL = (
    "gcp:compute/network:Network",
    "gcp:serviceaccount/",
    "gcp:projects/",
    "gcp:kms/cryptoKey:",
    "gcp:kms/cryptoKeyIAMMember:",
    "gcp:container/nodePool:",
    "gcp:compute/firewall:",
    "gcp:projects/service:",
)

_runs: dict[str, Run] = {}


def program_run(stem: str) -> Run:
    if stem not in _runs:
        with pytest.MonkeyPatch.context() as mp:
            _runs[stem] = run_program(str(SPECS / f"{stem}.yaml"), ROOT, monkeypatch=mp)
    return _runs[stem]


def plan_of(stem: str):
    from inferstack.plan import plan
    from inferstack.spec import load_spec

    return plan(load_spec(SPECS / f"{stem}.yaml"))


def placement_of(plan, name: str):
    """The placement a resource belongs to, from its name (`<spec>-<placement>-...`)."""
    matches = [p for p in plan.placements if name.startswith(f"{plan.spec.name}-{p.name}-")]
    assert matches, f"{name} is not named after a placement of {plan.spec.name}"
    return max(matches, key=lambda p: len(p.name))


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_resource_types_and_names_match_golden(spec: Path):
    actual = program_run(spec.stem).type_names()
    golden = GOLDEN / f"{spec.stem}.json"
    if UPDATE:
        golden.write_text(json.dumps(actual, indent=1) + "\n")
        pytest.fail(f"{golden} written; review the diff and re-run without INFERSTACK_UPDATE_GOLDEN")
    assert golden.is_file(), f"{golden} is missing; write it with INFERSTACK_UPDATE_GOLDEN=1 and review it"
    assert actual == json.loads(golden.read_text()), (
        f"resources of {spec.name} changed; renames replace live resources. If intended, regenerate with "
        "INFERSTACK_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_every_resource_is_named_after_its_deployment_and_parented(spec: Path):
    run = program_run(spec.stem)
    plan = plan_of(spec.stem)
    (deployment,) = run.deployments
    assert len(children(deployment)) == len(run.resources) - 1
    for r in run.resources:
        if r.typ != "inferstack:index:ModelDeployment":
            placement_of(plan, r.name)
    names = [(r.typ, r.name) for r in run.resources]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_every_cloud_resource_uses_its_placements_region(spec: Path):
    run = program_run(spec.stem)
    plan = plan_of(spec.stem)
    for r in run.resources:
        cloud = r.typ.split(":", 1)[0]
        if cloud not in ("aws", "gcp"):
            continue
        placement = placement_of(plan, r.name)
        prefix = f"{plan.spec.name}-{placement.name}"
        assert r.provider_name == f"{prefix}-{cloud}", f"{r.typ} {r.name} uses provider {r.provider_name}"
        if cloud == "aws" and not r.typ.startswith(AWS_GLOBAL):
            assert r.inputs.get("region") == placement.region, f"{r.typ} {r.name}: region {r.inputs.get('region')}"
        if cloud == "gcp" and not r.typ.startswith(GCP_GLOBAL):
            where = r.inputs.get("region") or r.inputs.get("location")
            assert where == placement.region, f"{r.typ} {r.name}: {where}"
    for provider in run.of_type("pulumi:providers:aws") + run.of_type("pulumi:providers:gcp"):
        assert provider.inputs["region"] == placement_of(plan, provider.name).region
    for pool in run.of_type("gcp:container/nodePool:NodePool"):
        placement = placement_of(plan, pool.name)
        assert pool.inputs["location"] == placement.region
        for zone in pool.inputs.get("nodeLocations", []):
            assert zone.startswith(placement.region)


def test_aws_gpu_node_group_launch_template_and_cluster():
    run, plan = program_run("aws-llama-8b-us"), plan_of("aws-llama-8b-us")
    for placement in plan.placements:
        prefix = f"llama-8b-us-{placement.name}"
        group = run.one("aws:eks/nodeGroup:NodeGroup", f"{prefix}-gpu").inputs
        assert group["amiType"] == "AL2023_x86_64_NVIDIA"
        assert group["instanceTypes"] == [placement.node.node_type] == ["g6e.xlarge"]
        assert group["labels"]["inferstack.dev/gpu"] == "L40S"
        assert group["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        assert group["scalingConfig"] == {
            "minSize": placement.nodes_min,
            "desiredSize": placement.nodes_min,
            "maxSize": placement.nodes_max,
        }
        assert "diskSize" not in group  # the launch template owns the root volume
        template = run.one("aws:ec2/launchTemplate:LaunchTemplate", f"{prefix}-gpu-lt").inputs
        assert template["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
        }
        (root,) = template["blockDeviceMappings"]
        assert root["ebs"] == {
            "volumeSize": 200,
            "volumeType": "gp3",
            "encrypted": "true",
            "deleteOnTermination": "true",
        }
        cluster = run.one("aws:eks/cluster:Cluster", f"{prefix}-cluster-eks").inputs
        assert cluster["name"] == prefix
        assert cluster["vpcConfig"]["endpointPublicAccess"] is False  # compliance.private_networking
        assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
        assert cluster["encryptionConfig"]["resources"] == ["secrets"]
        assert cluster["encryptionConfig"]["provider"]["keyArn"] == f"arn:aws:mock:::{prefix}-cluster-kms"
        assert set(cluster["enabledClusterLogTypes"]) == {
            "api",
            "audit",
            "authenticator",
            "controllerManager",
            "scheduler",
        }
        assert run.one("aws:kms/key:Key", f"{prefix}-cluster-kms").inputs["enableKeyRotation"] is True
        cni = run.one("aws:eks/addon:Addon", f"{prefix}-cluster-vpc-cni").inputs
        assert json.loads(cni["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_aws_network_spreads_private_subnets_over_the_spec_zones():
    run = program_run("aws-llama-8b-us")
    east = sorted(
        r.inputs["availabilityZone"]
        for r in run.of_type("aws:ec2/subnet:Subnet")
        if r.name.startswith("llama-8b-us-us-east-network-private-")
    )
    assert east == ["us-east-1a", "us-east-1b"]
    west = [
        r for r in run.of_type("aws:ec2/subnet:Subnet") if r.name.startswith("llama-8b-us-us-west-network-private-")
    ]
    assert len(west) == 3  # no zones in the spec: the region's first three available
    assert all(r.inputs["mapPublicIpOnLaunch"] is False for r in run.of_type("aws:ec2/subnet:Subnet"))
    assert len([r for r in run.of_type("aws:ec2/natGateway:NatGateway") if "us-east" in r.name]) == 2


def test_aws_weight_cache_is_encrypted_efs_with_storage_class_and_reserved_volume():
    run = program_run("aws-llama-8b-us")
    storage, model = "llama-8b-us-us-east-cache-storage", "llama-8b-us-us-east-weights"
    efs = run.one("aws:efs/fileSystem:FileSystem", f"{storage}-efs").inputs
    assert efs["encrypted"] is True and efs["kmsKeyId"] == "arn:aws:mock:::llama-8b-us-us-east-cluster-kms"
    assert len([r for r in run.of_type("aws:efs/mountTarget:MountTarget") if r.name.startswith(storage)]) == 2
    sg = run.one("aws:ec2/securityGroup:SecurityGroup", f"{storage}-efs").inputs
    assert [(i["fromPort"], i["toPort"]) for i in sg["ingress"]] == [(2049, 2049)]
    ap = run.one("aws:efs/accessPoint:AccessPoint", f"{model}-efs").inputs
    assert ap["posixUser"] == {"uid": 10001, "gid": 10001}
    assert ap["fileSystemId"] == f"{storage}-efs_id"
    assert ap["rootDirectory"]["path"] == "/inferstack/llama-8b-us"
    assert run.one("aws:eks/addon:Addon", f"{storage}-efs-csi").inputs["addonName"] == "aws-efs-csi-driver"
    sc = run.one("kubernetes:storage.k8s.io/v1:StorageClass", f"{storage}-storage-class").inputs
    assert sc["metadata"]["name"] == "inferstack-efs" and sc["provisioner"] == "efs.csi.aws.com"
    assert sc["parameters"]["provisioningMode"] == "efs-ap" and sc["parameters"]["uid"] == "10001"
    pv = run.one("kubernetes:core/v1:PersistentVolume", f"{model}-volume").inputs["spec"]
    assert pv["storageClassName"] == "inferstack-efs"
    assert pv["claimRef"] == {"namespace": "llama-8b-us", "name": "llama-8b-us-weights"}
    assert pv["csi"]["volumeHandle"] == f"{storage}-efs_id::{model}-efs_id"
    assert pv["capacity"]["storage"] == f"{plan_of('aws-llama-8b-us').cache_size_gib}Gi"


def test_aws_add_ons_include_device_plugin_and_cluster_autoscaler():
    run = program_run("aws-llama-8b-us")
    charts = {
        (r.inputs["chart"], r.inputs["version"])
        for r in run.of_type("kubernetes:helm.sh/v3:Release")
        if r.name.startswith("llama-8b-us-us-east-")
    }
    assert {c for c, _ in charts} == {
        "nvidia-device-plugin",
        "dcgm-exporter",
        "keda",
        "cluster-autoscaler",
        "kube-prometheus-stack",
    }
    assert all(v and v[0].isdigit() for _, v in charts)  # pinned


def test_gcp_private_cluster_gpu_pool_and_filestore():
    run, plan = program_run("gcp-llama-70b-eu-strict"), plan_of("gcp-llama-70b-eu-strict")
    (placement,) = plan.placements
    prefix = "llama-70b-eu-eu-west"
    pool = run.one("gcp:container/nodePool:NodePool", f"{prefix}-gpu").inputs
    config = pool["nodeConfig"]
    # a3-highgpu-2g would hold one TP-2 replica, but GCP sells it only as Spot or Flex-start and the spec
    # asks for on-demand capacity: the planner takes the on-demand a3-highgpu-8g instead.
    assert config["machineType"] == placement.node.node_type == "a3-highgpu-8g"
    assert config["guestAccelerators"] == [
        {
            "type": "nvidia-h100-80gb",
            "count": 8,
            "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"},
        }
    ]
    assert config["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert config["labels"]["inferstack.dev/gpu"] == "H100"
    assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pool["autoscaling"]["totalMinNodeCount"] == placement.nodes_min
    assert pool["autoscaling"]["totalMaxNodeCount"] == placement.nodes_max
    cluster = run.one("gcp:container/cluster:Cluster", f"{prefix}-cluster-gke").inputs
    assert cluster["location"] == "europe-west4"
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": f"{prefix}-cluster-key_id"}
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "inferstack-offline.svc.id.goog"}
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["removeDefaultNodePool"] is True
    assert run.one("gcp:kms/keyRing:KeyRing", f"{prefix}-cluster-keyring").inputs["location"] == "europe-west4"
    subnet = run.one("gcp:compute/subnetwork:Subnetwork", f"{prefix}-network-subnet").inputs
    assert subnet["privateIpGoogleAccess"] is True
    assert run.one("gcp:compute/routerNat:RouterNat", f"{prefix}-network-nat").inputs["region"] == "europe-west4"
    store = run.one("gcp:filestore/instance:Instance", f"{prefix}-cache-filestore").inputs
    assert store["location"] == "europe-west4" and store["kmsKeyName"] == f"{prefix}-cluster-key_id"
    assert store["fileShares"]["capacityGb"] >= plan.cache_size_gib
    sc = run.one("kubernetes:storage.k8s.io/v1:StorageClass", f"{prefix}-cache-storage-storage-class").inputs
    assert sc["metadata"]["name"] == "inferstack-filestore" and sc["provisioner"] == "filestore.csi.storage.gke.io"
    releases = {r.inputs["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases == {"dcgm-exporter", "keda", "kube-prometheus-stack"}  # GKE ships the device plugin


def test_cluster_endpoint_is_private_by_default():
    run = program_run("multi-cloud-qwen")
    cluster = run.one("gcp:container/cluster:Cluster", "qwen3-32b-gcp-us-central-cluster-gke").inputs
    # multi-cloud-qwen does not set compliance.private_networking; it defaults to true.
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True


def test_multi_cloud_creates_both_clouds_stacks():
    run = program_run("multi-cloud-qwen")
    assert [r.name for r in run.of_type("aws:eks/cluster:Cluster")] == ["qwen3-32b-aws-us-east-cluster-eks"]
    assert [r.name for r in run.of_type("gcp:container/cluster:Cluster")] == ["qwen3-32b-gcp-us-central-cluster-gke"]
    group = run.one("aws:eks/nodeGroup:NodeGroup", "qwen3-32b-aws-us-east-gpu").inputs
    assert group["instanceTypes"] == ["p5.48xlarge"]
    pool = run.one("gcp:container/nodePool:NodePool", "qwen3-32b-gcp-us-central-gpu").inputs
    assert pool["nodeConfig"]["guestAccelerators"][0]["count"] == 2
    assert sorted(run.outputs["qwen3-32b"][0]) == ["aws-us-east", "gcp-us-central"]
    assert len(run.of_type("pulumi:providers:kubernetes")) == 2


def test_existing_cluster_creates_no_cloud_resources_and_uses_the_context():
    run = program_run("existing-cluster")
    assert not [
        r for r in run.resources if r.typ.startswith(("aws:", "gcp:", "pulumi:providers:aws", "pulumi:providers:gcp"))
    ]
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "fra-gpu-prod"
    releases = {r.inputs["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases == {"keda"}
    (deployment,) = [
        r.inputs for r in run.of_type("kubernetes:apps/v1:Deployment") if r.inputs["metadata"]["name"] == "mistral-7b"
    ]
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    pvc = run.of_type("kubernetes:core/v1:PersistentVolumeClaim")[0].inputs
    assert "storageClassName" not in pvc["spec"]
    _endpoints, clusters, cost, kubeconfigs = run.outputs["mistral-7b"]
    assert kubeconfigs == {} and clusters == {"onprem-fra": "fra-gpu-prod"}
    assert cost == pytest.approx(plan_of("existing-cluster").monthly_cost_max, abs=0.01)


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_serving_objects_match_the_rendered_dicts_and_carry_the_right_options(spec: Path):
    from inferstack.kube import placement_objects
    from inferstack.monitoring import placement_monitoring

    run, plan = program_run(spec.stem), plan_of(spec.stem)
    for placement in plan.placements:
        prefix = f"{plan.spec.name}-{placement.name}-serving"
        expected = placement_objects(plan, placement) + placement_monitoring(plan, placement.name)
        recorded = {n: v for n, v in run.serving_options.items() if n.startswith(prefix + "-")}
        assert [o for o, _ in recorded.values()] == expected
        by_kind = {obj["kind"]: (name, opts) for name, (obj, opts) in recorded.items()}
        if "PersistentVolumeClaim" in by_kind:
            assert by_kind["PersistentVolumeClaim"][1].protect is True
        job_name, job_opts = by_kind["Job"]
        if "LeaderWorkerSet" in by_kind:  # a multi-node engine: a custom resource Pulumi does not await
            _, group_opts = by_kind["LeaderWorkerSet"]
            assert any(getattr(d, "_name", None) == job_name for d in group_opts.depends_on)
            assert group_opts.custom_timeouts is None
            scaled = ["spec.replicas"] if "ScaledObject" in by_kind else None
            assert group_opts.ignore_changes == scaled
            continue
        deploy_name, deploy_opts = by_kind["Deployment"]
        assert any(getattr(d, "_name", None) == job_name for d in deploy_opts.depends_on)
        minutes = int(deploy_opts.custom_timeouts.create.rstrip("m"))
        assert minutes * 60 >= plan.cold_start.first_rollout_seconds > 600
        assert int(job_opts.custom_timeouts.create.rstrip("m")) * 60 >= plan.cold_start.prefetch_deadline_seconds
        if "ScaledObject" in by_kind:
            assert deploy_opts.ignore_changes == ["spec.replicas"]
        deployment = run.one("kubernetes:apps/v1:Deployment", deploy_name).inputs
        assert deployment["metadata"]["name"] == plan.spec.name
        routers = [
            (o, opts)
            for o, opts in recorded.values()
            if o["kind"] == "Deployment" and o["metadata"]["name"] != plan.spec.name
        ]
        assert bool(routers) == (spec.stem not in ("aws-llama-8b-us", "gcp-llama-70b-eu-strict"))  # routing off there
        for router, opts in routers:
            # The router waits for its RBAC (it never retries discovery), not for the weights; KEDA does
            # not scale it, so its replicas stay Pulumi's.
            waits_for = {getattr(d, "_name", "") for d in opts.depends_on}
            assert f"{prefix}-role-{router['metadata']['name']}" in waits_for
            assert f"{prefix}-rolebinding-{router['metadata']['name']}" in waits_for
            assert job_name not in waits_for
            assert opts.ignore_changes is None and opts.custom_timeouts is None


def test_outputs_endpoint_per_placement_kubeconfig_secret_and_cost():
    run, plan = program_run("aws-llama-8b-us"), plan_of("aws-llama-8b-us")
    endpoints, clusters, cost, kubeconfigs = run.outputs["llama-8b-us"]
    assert endpoints == {p: "http://llama-8b-us.llama-8b-us.svc.cluster.local:8000" for p in ("us-east", "us-west")}
    assert clusters == {"us-east": "llama-8b-us-us-east", "us-west": "llama-8b-us-us-west"}
    assert cost == round(plan.monthly_cost_max, 2)
    config = json.loads(kubeconfigs["us-west"])
    assert config["users"][0]["user"]["exec"]["args"][-3:] == ["us-west-2", "--output", "json"]


def test_extra_objects_join_each_placement(monkeypatch):
    def extra(plan, placement):
        return [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PodMonitor",
                "metadata": {"name": f"{plan.spec.name}-{placement.name}", "namespace": plan.spec.name},
                "spec": {},
            }
        ]

    run = run_program(str(SPECS / "aws-llama-8b-us.yaml"), ROOT, monkeypatch, extra_objects=extra)
    monitors = sorted(r.name for r in run.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor"))
    assert monitors == [
        "llama-8b-us-us-east-serving-podmonitor-llama-8b-us-us-east",
        "llama-8b-us-us-west-serving-podmonitor-llama-8b-us-us-west",
    ]


def test_spec_yaml_args_and_errors_name_the_property():
    import pulumi

    from inferstack.deployment import plan_from_args

    text = (SPECS / "quickstart.yaml").read_text()
    assert plan_from_args({"spec_yaml": text}).spec.name == "quickstart"
    with pytest.raises(pulumi.InputPropertiesError):
        plan_from_args({"spec_yaml": text, "spec_path": "x.yaml"})
    with pytest.raises(pulumi.InputPropertyError) as err:
        plan_from_args({"spec_yaml": text.replace("gpu: L4:1", "gpu: L44:1")})
    assert err.value.property_path == "specYaml"
    assert err.value.reason.splitlines()[1] == (
        "  - resources.gpu.sku = 'L44': unknown GPU. Did you mean 'L4'? "
        "Allowed: A100-40GB, A100-80GB, A10G, B200, H100, H200, L4, L40S."
    )


def test_unknown_cloud_is_an_error_with_a_suggestion():
    from inferstack.clouds import UnknownCloudError, cloud_for

    with pytest.raises(UnknownCloudError, match="Did you mean 'gcp'"):
        cloud_for("gpc")
    assert type(cloud_for("aws")).__name__ == "AwsCloud"


def test_program_resolves_spec_paths_against_the_project_root(tmp_path):
    import yaml

    from inferstack.program import spec_paths

    assert spec_paths("specs/quickstart.yaml", ROOT) == [ROOT / "specs/quickstart.yaml"]
    assert len(spec_paths('["specs/quickstart.yaml", "specs/aws-llama-8b-us.yaml"]', ROOT)) == 2
    assert spec_paths("specs", ROOT) == [ROOT / "specs"]
    assert spec_paths("specs/fleet", ROOT) == [ROOT / "specs/fleet"]
    with pytest.raises(FileNotFoundError, match="relative to"):
        spec_paths("quickstart.yaml", ROOT)
    for stack in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        value = yaml.safe_load(stack.read_text())["config"]["inferstack:spec"]
        assert spec_paths(value, ROOT), stack.name


def test_component_package_schema_is_inferred():
    import importlib.util

    from pulumi.provider.experimental.analyzer import Analyzer
    from pulumi.provider.experimental.schema import generate_schema

    spec = importlib.util.spec_from_file_location("inferstack_package_main", ROOT / "components" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # guarded by __name__: does not start the provider
    analyzed = Analyzer("inferstack").analyze(module.COMPONENTS)
    schema = generate_schema(
        "inferstack",
        module.__version__,
        None,
        analyzed["component_definitions"],
        analyzed["type_definitions"],
        analyzed["dependencies"],
    ).to_json()
    resource = schema["resources"]["inferstack:index:ModelDeployment"]
    assert resource["isComponent"] is True
    assert set(resource["inputProperties"]) == {
        "specYaml",
        "specPath",
        "devicePlugin",
        "dcgmExporter",
        "keda",
        "prometheusStack",
        "hfToken",
    }
    inputs = resource["inputProperties"]
    assert all(p["description"] for p in inputs.values())
    assert all(p["plain"] for name, p in inputs.items() if name != "hfToken")
    assert "plain" not in inputs["hfToken"], "the token may be a secret Output, so it is not plain"
    assert resource["properties"]["endpoints"]["additionalProperties"]["type"] == "string"
    assert resource["properties"]["monthlyCostMax"]["type"] == "number"
    assert set(resource["required"]) == {"endpoints", "kubeconfigs", "clusterNames", "monthlyCostMax"}
    assert (ROOT / "components" / "PulumiPlugin.yaml").read_text().count("name: python") == 1


def test_operator_ranges_reach_the_private_cluster_apis():
    from inferstack.offline import deploy_offline
    from inferstack.plan import plan

    operators = {"cluster": {"operator_cidrs": ["10.8.0.0/16"]}}
    spec = spec_variant("multi-cloud-qwen", {"placements": {0: operators, 1: operators}})
    run = deploy_offline([plan(spec)])
    rule = run.one("aws:ec2/securityGroupRule:SecurityGroupRule", "qwen3-32b-aws-us-east-cluster-operators-0").inputs
    assert (rule["type"], rule["fromPort"], rule["toPort"], rule["cidrBlocks"]) == (
        "ingress",
        443,
        443,
        ["10.8.0.0/16"],
    )
    gke = run.one("gcp:container/cluster:Cluster", "qwen3-32b-gcp-us-central-cluster-gke").inputs
    blocks = [b["cidrBlock"] for b in gke["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert blocks[1:] == ["10.8.0.0/16"]


def test_gke_dcgm_exporter_mounts_the_host_driver_libraries():
    release = (
        program_run("quickstart")
        .one("kubernetes:helm.sh/v3:Release", "quickstart-us-central-addons-dcgm-exporter")
        .inputs
    )
    values = release["values"]
    assert values["extraHostVolumes"] == [
        {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"}
    ]
    assert values["extraVolumeMounts"][0]["mountPath"] == "/usr/local/nvidia"
    aws = (
        program_run("aws-llama-8b-us")
        .one("kubernetes:helm.sh/v3:Release", "llama-8b-us-us-east-addons-dcgm-exporter")
        .inputs
    )
    assert "extraHostVolumes" not in aws["values"]


def test_an_undeployable_spec_stops_the_stack_before_anything_is_registered(tmp_path, monkeypatch):
    """Two specs in one stack, the second does not fit: the run fails listing why, and the first
    spec's resources are not registered either (no half-built stack)."""
    import pulumi
    import yaml

    from inferstack import offline

    created: list[offline.RecordingMocks] = []

    class Recording(offline.RecordingMocks):
        def __init__(self) -> None:
            super().__init__()
            created.append(self)

    monkeypatch.setattr(offline, "RecordingMocks", Recording)
    data = yaml.safe_load((SPECS / "quickstart.yaml").read_text())
    data.update(name="too-big")
    data["model"].update(source="hf://meta-llama/Llama-3.1-70B-Instruct", architecture="llama-3.1-70b")
    (tmp_path / "a-quickstart.yaml").write_text((SPECS / "quickstart.yaml").read_text())
    (tmp_path / "b-too-big.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(pulumi.RunError) as err:
        run_program(str(tmp_path), tmp_path)
    lines = str(err.value).splitlines()
    assert lines[0] == "1 problem, nothing was registered (run `inferstack plan SPEC` for details):"
    assert lines[1].startswith("  - too-big: not deployable: too-big does not fit on 1x L4: ")
    assert len(created) == 1 and created[0].resources == []
    (tmp_path / "b-too-big.yaml").unlink()
    assert run_program(str(tmp_path), tmp_path).resources, "the deployable spec alone registers its resources"
