"""Real-world constraints the cloud components must meet on a first `pulumi up`, each written from its
source (the numbers are the providers' and charts', not the code's), checked on what the program
registers under mocks."""

from __future__ import annotations

import json

import pytest

from inferstack.clouds.addons import AddonSettings
from inferstack.offline import run_offline
from inferstack.plan import plan
from inferstack.program import deploy
from tests.components.test_model_deployment import program_run
from tests.conftest import EXAMPLE_SPECS, spec_variant

pytest.importorskip("pulumi_aws")
pytest.importorskip("pulumi_gcp")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: KEDA docs, "Cluster" > Firewall: "6443 | Used by Kubernetes API server to get metrics | Only required
#: for Google Cloud"; the KEDA chart's admission webhooks listen on 9443. GKE private clusters allow
#: only 443 and 10250 from the control plane (GKE firewall rules page).
KEDA_PORTS = ["6443", "9443"]


def test_private_gke_opens_the_keda_ports_to_the_control_plane():
    run = program_run("quickstart")
    rule = run.one("gcp:compute/firewall:Firewall", "quickstart-us-central-cluster-control-plane-addons").inputs
    assert rule["direction"] == "INGRESS"
    assert rule["allows"] == [{"protocol": "tcp", "ports": KEDA_PORTS}]
    gke = run.one("gcp:container/cluster:Cluster", "quickstart-us-central-cluster-gke").inputs
    assert rule["sourceRanges"] == [gke["privateClusterConfig"]["masterIpv4CidrBlock"]]


def test_without_keda_no_control_plane_ports_are_opened():
    result = run_offline(
        deploy, deployment_plans=[plan(spec_variant("quickstart", {}))], addons=AddonSettings(keda=False)
    )
    assert result.of_type("gcp:compute/firewall:Firewall") == []


def test_eks_runs_a_kubernetes_version_in_standard_support():
    # EKS gives each minor 14 months of standard support; on 2026-12-01 only 1.34 (until 2026-12-02)
    # and 1.35 (until 2027-03-27) are in it (AWS EKS Kubernetes version calendar).
    run = program_run("aws-llama-8b-us")
    cluster = run.one("aws:eks/cluster:Cluster", "llama-8b-us-us-east-cluster-eks").inputs
    assert cluster["version"] == "1.35"


def test_a_public_eks_endpoint_answers_only_the_operators():
    spec = spec_variant(
        "aws-llama-8b-us",
        {
            "compliance": {"private_networking": False},
            "placements": {0: {"cluster": {"operator_cidrs": ["203.0.113.0/24"]}}},
        },
    )
    run = run_offline(deploy, deployment_plans=[plan(spec)])
    vpc = run.one("aws:eks/cluster:Cluster", "llama-8b-us-us-east-cluster-eks").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_the_autoscaler_may_scale_only_this_clusters_node_groups():
    run = program_run("aws-llama-8b-us")
    role = run.one("aws:iam/role:Role", "llama-8b-us-us-east-autoscaler").inputs
    (policy,) = role["inlinePolicies"]
    statements = json.loads(policy["policy"])["Statement"]
    (scaling,) = [s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"]]
    # kubernetes/autoscaler cloudprovider/aws README, "Full Cluster Autoscaler Features Policy (Recommended)".
    assert scaling["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
            "aws:ResourceTag/k8s.io/cluster-autoscaler/llama-8b-us-us-east": "owned",
        }
    }
    assert "autoscaling:TerminateInstanceInAutoScalingGroup" not in [
        a for s in statements if "Condition" not in s for a in s["Action"]
    ]


@pytest.mark.parametrize(("stem", "placement"), [("aws-llama-8b-us", "us-east"), ("quickstart", "us-central")])
def test_prometheus_scrapes_no_hidden_control_plane_targets(stem, placement):
    run = program_run(stem)
    spec_name = run.deployments[0].plan.spec.name
    release = run.one("kubernetes:helm.sh/v3:Release", f"{spec_name}-{placement}-addons-kube-prometheus-stack")
    values = release.inputs["values"]
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd"):
        assert values[component] == {"enabled": False}
    assert values["prometheus"]["prometheusSpec"]["retention"] == "30d"


def test_gke_prometheus_keeps_its_samples_on_a_disk_and_skips_kube_proxy():
    run = program_run("quickstart")
    values = run.one("kubernetes:helm.sh/v3:Release", "quickstart-us-central-addons-kube-prometheus-stack").inputs[
        "values"
    ]
    claim = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "standard-rwo"
    assert claim["accessModes"] == ["ReadWriteOnce"]
    assert values["kubeProxy"] == {"enabled": False}


def test_s3_sources_are_read_through_pod_identity_scoped_to_their_prefix():
    spec = spec_variant(
        "aws-llama-8b-us",
        {"model": {"source": "s3://acme-models/llama/3.1-8b", "revision": None, "architecture": "llama-3.1-8b"}},
    )
    run = run_offline(deploy, deployment_plans=[plan(spec)])
    association = run.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "llama-8b-us-us-east-weights-reader")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "llama-8b-us",
        "llama-8b-us-prefetch",
    )
    jobs = [r for r in run.of_type("kubernetes:batch/v1:Job") if r.name.startswith("llama-8b-us-us-east-")]
    assert [j.inputs["spec"]["template"]["spec"]["serviceAccountName"] for j in jobs] == ["llama-8b-us-prefetch"]
    role = run.one("aws:iam/role:Role", "llama-8b-us-us-east-weights-reader").inputs
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    statements = json.loads(role["inlinePolicies"][0]["policy"])["Statement"]
    assert statements == [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": "arn:aws:s3:::acme-models",
            "Condition": {"StringLike": {"s3:prefix": ["llama/3.1-8b", "llama/3.1-8b/*"]}},
        },
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::acme-models/llama/3.1-8b/*"},
    ]


def test_gs_sources_are_read_through_workload_identity():
    spec = spec_variant(
        "quickstart",
        {"model": {"source": "gs://acme-models/llama/3.1-8b", "revision": None, "architecture": "llama-3.1-8b"}},
    )
    run = run_offline(deploy, deployment_plans=[plan(spec)])
    grant = run.one("gcp:storage/bucketIAMMember:BucketIAMMember", "quickstart-us-central-weights-reader-acme-models")
    assert grant.inputs["bucket"] == "acme-models"
    assert grant.inputs["role"] == "roles/storage.objectViewer"
    # Workload Identity Federation for GKE principal for a Kubernetes service account (GKE docs).
    assert grant.inputs["member"] == (
        "principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/"
        "inferstack-offline.svc.id.goog/subject/ns/quickstart/sa/quickstart-prefetch"
    )


def test_hub_token_from_config_becomes_the_secret_the_prefetch_job_waits_for():
    import pulumi

    result = run_offline(
        deploy, record_serving_options=True, deployment_plans=[plan(spec_variant("quickstart", {}))], hf_token="hf_x"
    )
    secret = result.one("kubernetes:core/v1:Secret", "quickstart-us-central-serving-secret-quickstart-hub-token")
    assert secret.inputs["metadata"]["namespace"] == "quickstart"
    # Pulumi's secret envelope (signature key and value from the engine's wire format): stored encrypted.
    assert secret.inputs["stringData"] == {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "value": {"token": "hf_x"},
    }
    (job_options,) = [o for n, (obj, o) in result.serving_options.items() if obj["kind"] == "Job"]
    depends = [d for d in job_options.depends_on if isinstance(d, pulumi.Resource)]
    assert any(getattr(d, "_name", "") == "quickstart-us-central-serving-secret-quickstart-hub-token" for d in depends)


H200_ON_GKE = {
    "placements": {0: {"cloud": "gcp", "region": "us-central1", "capacity": ["spot"]}},
    "compliance": {"allowed_gpus": ["H200"]},
}


def _gpu_pool(spec):
    run = run_offline(deploy, deployment_plans=[plan(spec)])
    (pool,) = [p for p in run.of_type("gcp:container/nodePool:NodePool") if p.name.endswith("-gpu")]
    return pool.inputs, plan(spec).placements[0]


def test_a3_ultra_boots_from_hyperdisk_balanced_on_spot_capacity():
    # GCP accelerator-optimized machines: A3 Ultra supports only Hyperdisk (hyperdisk-balanced boot disks),
    # and is sold with a reservation, as Spot or through Flex-start, not on demand.
    pool, placement = _gpu_pool(spec_variant("deepseek-v3-h200", H200_ON_GKE))
    assert placement.node.node_type == "a3-ultragpu-8g"
    assert pool["nodeConfig"]["diskType"] == "hyperdisk-balanced"
    assert pool["nodeConfig"]["spot"] is True
    assert "flexStart" not in pool["nodeConfig"]


def test_a3_ultra_on_a_named_reservation_consumes_exactly_it():
    changes = {**H200_ON_GKE, "placements": {0: {**H200_ON_GKE["placements"][0], "capacity": ["reservation:h200-res"]}}}
    pool, _ = _gpu_pool(spec_variant("deepseek-v3-h200", changes))
    assert pool["nodeConfig"]["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION",
        "key": "compute.googleapis.com/reservation-name",
        "values": ["h200-res"],
    }


def test_flex_start_pools_consume_no_reservation_and_skip_auto_repair():
    changes = {**H200_ON_GKE, "placements": {0: {**H200_ON_GKE["placements"][0], "capacity": ["flex_start"]}}}
    pool, _ = _gpu_pool(spec_variant("deepseek-v3-h200", changes))
    assert pool["nodeConfig"]["flexStart"] is True
    assert pool["nodeConfig"]["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    assert pool["management"]["autoRepair"] is False


def test_gke_gpu_pools_use_only_zones_that_offer_the_gpu():
    pool, placement = _gpu_pool(spec_variant("deepseek-v3-h200", H200_ON_GKE))
    assert pool["nodeLocations"] == list(placement.gpu_zones)
    assert placement.gpu_zones, "the facts list A3 Ultra zones in us-central1"


def test_eks_spot_capacity():
    spec = spec_variant("aws-llama-8b-us", {"placements": {0: {"capacity": ["spot"]}}})
    run = run_offline(deploy, deployment_plans=[plan(spec)])
    group = run.one("aws:eks/nodeGroup:NodeGroup", "llama-8b-us-us-east-gpu").inputs
    assert group["capacityType"] == "SPOT"


def test_a_fresh_gcp_project_gets_the_apis_the_stack_uses_enabled_first():
    run = program_run("quickstart")
    services = {r.inputs["service"]: r.inputs for r in run.of_type("gcp:projects/service:Service")}
    assert set(services) == {
        "compute.googleapis.com",
        "container.googleapis.com",
        "file.googleapis.com",
        "cloudkms.googleapis.com",
        "iam.googleapis.com",
    }
    assert all(inputs["disableOnDestroy"] is False for inputs in services.values())


def test_the_filestore_share_is_handed_to_the_serving_uid_before_the_prefetch_job():
    # The Filestore CSI driver applies fsGroup only to ReadWriteOnce volumes (its fsgroup docs); a fresh
    # share root is root-owned, so the non-root fetcher (UID 10001) needs the share handed over first.
    run = program_run("quickstart")
    job = run.one("kubernetes:batch/v1:Job", "quickstart-us-central-cache-share-owner").inputs
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["chown", "10001:10001", "/share"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    (volume,) = job["spec"]["template"]["spec"]["volumes"]
    assert volume["nfs"] == {"server": "10.1.0.2", "path": "/weights"}
    namespace = run.one("kubernetes:core/v1:Namespace", "quickstart-us-central-cache-share-owner-namespace").inputs
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_each_placement_network_is_its_own_slash_16_cut_the_same_way():
    spec = spec_variant(
        "multi-cloud-qwen", {"placements": {0: {"network_cidr": "10.42.0.0/16"}, 1: {"network_cidr": "10.43.0.0/16"}}}
    )
    run = run_offline(deploy, deployment_plans=[plan(spec)])
    vpc = run.one("aws:ec2/vpc:Vpc", "qwen3-32b-aws-us-east-network-vpc").inputs
    assert vpc["cidrBlock"] == "10.42.0.0/16"
    subnets = sorted(r.inputs["cidrBlock"] for r in run.of_type("aws:ec2/subnet:Subnet"))
    assert subnets == sorted(
        ["10.42.0.0/18", "10.42.64.0/18", "10.42.128.0/18", "10.42.192.0/22", "10.42.196.0/22", "10.42.200.0/22"]
    )
    subnet = run.one("gcp:compute/subnetwork:Subnetwork", "qwen3-32b-gcp-us-central-network-subnet").inputs
    assert subnet["ipCidrRange"] == "10.43.0.0/20"
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]} == {
        "pods": "10.43.128.0/17",
        "services": "10.43.16.0/20",
    }
    gke = run.one("gcp:container/cluster:Cluster", "qwen3-32b-gcp-us-central-cluster-gke").inputs
    assert gke["privateClusterConfig"]["masterIpv4CidrBlock"] == "10.43.48.0/28"


def test_no_two_example_placements_share_an_address():
    import ipaddress

    from tests.conftest import EXAMPLE_SPECS

    networks = []
    for path in EXAMPLE_SPECS:
        run = run_offline(deploy, deployment_plans=[plan(spec_variant(path, {}))])
        networks += [ipaddress.ip_network(r.inputs["cidrBlock"]) for r in run.of_type("aws:ec2/vpc:Vpc")]
        # GPU NIC subnets (multi-node replicas on GKE) sit in their own unpeered VPCs, out of the VPN's reach.
        networks += [
            ipaddress.ip_network(r.inputs["ipCidrRange"])
            for r in run.of_type("gcp:compute/subnetwork:Subnetwork")
            if "-gpusub-" not in r.name
        ]
    assert len(networks) == 9
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            assert not a.overlaps(b), (a, b)


def test_a3_high_pools_in_the_examples_are_bought_as_spot_or_flex_start():
    # GCP sells a3-highgpu-1g/2g/4g only as Spot or Flex-start (accelerator-optimized machines docs).
    found = 0
    for path in EXAMPLE_SPECS:
        run = run_offline(deploy, deployment_plans=[plan(spec_variant(path, {}))])
        for pool in run.of_type("gcp:container/nodePool:NodePool"):
            config = pool.inputs["nodeConfig"]
            if config["machineType"] in ("a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"):
                found += 1
                assert config.get("spot") is True or config.get("flexStart") is True, pool.name
    assert found >= 1, "multi-cloud-qwen plans an a3-highgpu-2g pool"


def test_eks_prometheus_keeps_its_samples_on_an_encrypted_ebs_volume():
    # EKS ships no block-storage provisioner; the EBS CSI driver add-on needs the AWS-managed
    # AmazonEBSCSIDriverPolicy on its controller's service account, ebs-csi-controller-sa (EKS user guide).
    run = program_run("aws-llama-8b-us")
    addon = run.one("aws:eks/addon:Addon", "llama-8b-us-us-east-ebs-csi").inputs
    assert addon["addonName"] == "aws-ebs-csi-driver"
    assert addon["podIdentityAssociations"][0]["serviceAccount"] == "ebs-csi-controller-sa"
    attached = run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llama-8b-us-us-east-ebs-csi-ebs").inputs
    assert attached["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    sc = run.one("kubernetes:storage.k8s.io/v1:StorageClass", "llama-8b-us-us-east-metrics-storage-class").inputs
    assert (sc["provisioner"], sc["parameters"]) == ("ebs.csi.aws.com", {"type": "gp3", "encrypted": "true"})
    values = run.one("kubernetes:helm.sh/v3:Release", "llama-8b-us-us-east-addons-kube-prometheus-stack").inputs[
        "values"
    ]
    claim = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == sc["metadata"]["name"]
