"""Under Pulumi mocks: a GKE cluster with a GPUDirect-TCPX pool gets one GKENetworkParamSet + Network per
GPU NIC over that pool's own VPCs and subnets, the NCCL plugin installer and the NRI device injector;
a cluster whose pools have no GPUDirect fabric gets none."""

import pytest

from tests.components.test_model_deployment import program_run

pytest.importorskip("pulumi_gcp")

PARAMS = "kubernetes:networking.gke.io/v1:GKENetworkParamSet"
NETWORK = "kubernetes:networking.gke.io/v1:Network"


def test_a3_high_cluster_gets_its_gpu_networks_and_the_tcpx_plugin():
    run = program_run("llama-405b-bf16-h100")
    params = [(r.inputs["metadata"]["name"], r.inputs["spec"]) for r in run.of_type(PARAMS)]
    assert params == [
        (
            f"gpunet-{i}",
            {
                "deviceMode": "NetDevice",
                "vpc": f"llama-405b-us-central-gpu-gpunet-{i}",
                "vpcSubnet": f"llama-405b-us-central-gpu-gpusub-{i}",
            },
        )
        for i in range(1, 5)
    ]
    assert [r.inputs["spec"]["type"] for r in run.of_type(NETWORK)] == ["Device"] * 4
    daemon_sets = {r.name for r in run.of_type("kubernetes:apps/v1:DaemonSet")}
    assert {
        "llama-405b-us-central-nccl-tcpx-installer-daemonset",
        "llama-405b-us-central-device-injector-daemonset",
    } <= daemon_sets


@pytest.mark.parametrize("stem", ["deepseek-r1-bf16-h100", "gcp-llama-70b-eu-strict"])
def test_clusters_without_gpudirect_get_no_gpu_networks(stem):
    run = program_run(stem)
    assert run.of_type(PARAMS) == [] and run.of_type(NETWORK) == []
    assert not any("tcpx" in r.name or "device-injector" in r.name for r in run.resources)
