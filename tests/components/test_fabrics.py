"""Under Pulumi mocks: node pools of multi-node replicas get their machine type's inter-node fabric (EFA on
EKS, GPU networks on GKE), a placement that packs them, and the add-ons that run them; pools of single-node
replicas and machine types without a fabric get none."""

from __future__ import annotations

import pytest

from inferstack.clouds.addons import AddonSettings
from inferstack.offline import run_offline
from inferstack.plan import plan
from inferstack.program import deploy
from tests.conftest import spec_variant

pytest.importorskip("pulumi_aws")
pytest.importorskip("pulumi_gcp")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: DeepSeek-R1 BF16 spans 3 nodes; on GCP us-central1 the cheapest 8xH100 type, A3 High.
ON_GKE = {
    "placements": {
        0: {"cloud": "gcp", "region": "us-central1", "zones": [], "capacity": ["spot"], "name": "us-central"}
    }
}


def _run(spec):
    return run_offline(deploy, deployment_plans=[plan(spec)])


def _types(run, type_):
    return [r for r in run.of_type(type_)]


def test_p5_pool_has_32_efa_interfaces_a_cluster_placement_group_and_one_subnet():
    run = _run(spec_variant("deepseek-r1-bf16-h100", {}))
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate", "deepseek-r1-bf16-us-east-gpu-lt").inputs
    interfaces = template["networkInterfaces"]
    assert len(interfaces) == 32
    assert [(i["networkCardIndex"], i["deviceIndex"]) for i in interfaces[:3]] == [(0, 0), (1, 1), (2, 1)]
    assert {i["interfaceType"] for i in interfaces} == {"efa"}
    group = run.one("aws:ec2/placementGroup:PlacementGroup", "deepseek-r1-bf16-us-east-gpu-placement").inputs
    assert group["strategy"] == "cluster"
    # The group's name is auto-generated, unknown under mocks: the template carries it as an unknown value.
    assert "placement" in template
    node_group = run.one("aws:eks/nodeGroup:NodeGroup", "deepseek-r1-bf16-us-east-gpu").inputs
    assert len(node_group["subnetIds"]) == 1


def test_efa_security_group_admits_all_traffic_from_itself_both_ways():
    run = _run(spec_variant("deepseek-r1-bf16-h100", {}))
    sg = run.one("aws:ec2/securityGroup:SecurityGroup", "deepseek-r1-bf16-us-east-gpu-efa").inputs
    for rules in (sg["ingress"], sg["egress"]):
        assert [(r["protocol"], r["fromPort"], r["toPort"], r["self"]) for r in rules] == [("-1", 0, 0, True)]


def test_efa_device_plugin_and_lws_controller_are_installed_pinned():
    run = _run(spec_variant("deepseek-r1-bf16-h100", {}))
    efa = run.one("kubernetes:helm.sh/v3:Release", "deepseek-r1-bf16-us-east-efa-device-plugin").inputs
    assert (efa["chart"], efa["version"]) == ("aws-efa-k8s-device-plugin", "v0.5.7")
    assert efa["values"]["nodeSelector"] == {"vpc.amazonaws.com/efa.present": "true"}
    lws = run.one("kubernetes:helm.sh/v3:Release", "deepseek-r1-bf16-us-east-addons-lws").inputs
    assert (lws["chart"], lws["version"], lws["namespace"]) == (
        "oci://registry.k8s.io/lws/charts/lws",
        "0.9.0",
        "lws-system",
    )
    assert "repositoryOpts" not in lws


def test_single_node_eks_pools_get_no_fabric_and_no_lws():
    run = _run(spec_variant("deepseek-v3-h200", {}))
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate", "deepseek-v3-us-east-gpu-lt").inputs
    assert "networkInterfaces" not in template and "placement" not in template
    assert _types(run, "aws:ec2/placementGroup:PlacementGroup") == []
    names = {r.name for r in _types(run, "kubernetes:helm.sh/v3:Release")}
    assert not {n for n in names if n.endswith(("-lws", "-efa-device-plugin"))}


def test_a3_high_pool_gets_four_gpu_networks_gvnic_and_compact_placement():
    spec = spec_variant("deepseek-r1-bf16-h100", ON_GKE)
    assert plan(spec).placements[0].gpu_node_type == "a3-highgpu-8g"
    run = _run(spec)
    (pool,) = [p for p in run.of_type("gcp:container/nodePool:NodePool") if p.name.endswith("-gpu")]
    inputs = pool.inputs
    assert inputs["placementPolicy"] == {"type": "COMPACT"}
    assert len(inputs["nodeLocations"]) == 1
    assert inputs["nodeConfig"]["gvnic"] == {"enabled": True}
    assert len(inputs["networkConfig"]["additionalNodeNetworkConfigs"]) == 4
    subnets = sorted(
        s.inputs["ipCidrRange"] for s in run.of_type("gcp:compute/subnetwork:Subnetwork") if "-gpusub-" in s.name
    )
    assert subnets == ["192.168.1.0/24", "192.168.2.0/24", "192.168.3.0/24", "192.168.4.0/24"]
    networks = [n.inputs for n in run.of_type("gcp:compute/network:Network") if "-gpunet-" in n.name]
    assert {n["mtu"] for n in networks} == {8244}
    gke = run.one("gcp:container/cluster:Cluster", "deepseek-r1-bf16-us-central-cluster-gke").inputs
    assert gke["enableMultiNetworking"] is True


def test_a3_mega_pool_gets_eight_gpu_networks():
    changes = {"placements": {0: {**ON_GKE["placements"][0], "cluster": {"instance_type": "a3-megagpu-8g"}}}}
    run = _run(spec_variant("deepseek-r1-bf16-h100", changes))
    (pool,) = [p for p in run.of_type("gcp:container/nodePool:NodePool") if p.name.endswith("-gpu")]
    assert len(pool.inputs["networkConfig"]["additionalNodeNetworkConfigs"]) == 8


def test_single_node_gke_pools_get_no_gpu_networks():
    run = _run(spec_variant("quickstart", {}))
    (pool,) = [p for p in run.of_type("gcp:container/nodePool:NodePool") if p.name.endswith("-gpu")]
    assert "networkConfig" not in pool.inputs and "placementPolicy" not in pool.inputs
    assert "gvnic" not in pool.inputs["nodeConfig"]
    gke = run.one("gcp:container/cluster:Cluster", "quickstart-us-central-cluster-gke").inputs
    assert "enableMultiNetworking" not in gke


def test_private_gke_opens_the_lws_webhook_port_once_without_keda():
    spec = spec_variant("deepseek-r1-bf16-h100", ON_GKE)
    run = run_offline(deploy, deployment_plans=[plan(spec)], addons=AddonSettings(keda=False))
    (rule,) = [r for r in run.of_type("gcp:compute/firewall:Firewall") if r.name.endswith("-control-plane-addons")]
    assert rule.inputs["allows"] == [{"protocol": "tcp", "ports": ["9443"]}]
