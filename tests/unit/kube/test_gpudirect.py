"""GKE pods on the GPU NICs: exact multi-network annotations, GPUDirect daemon sidecar and NCCL settings on
A3 High (GPUDirect-TCPX) and A3 Mega (GPUDirect-TCPXO) LeaderWorkerSets, nothing on other fabrics; the
cluster objects; INF011's daemon exception. Expected values are copied from the upstream manifests
(GoogleCloudPlatform/container-engine-accelerators@992db81), not from the catalog."""

import copy

from inferstack.catalog.multinode import Fabric
from inferstack.compliance import RESOURCE_RULES, Resource
from inferstack.kube import placement_objects
from inferstack.kube.gpudirect import cluster_objects, network_objects
from inferstack.plan import plan
from inferstack.spec.models import Compliance
from tests.conftest import spec_variant

INF011 = next(r for r in RESOURCE_RULES if r.id == "INF011")
LWS_TYPE = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
MEGA = {"placements": {0: {"cluster": {"instance_type": "a3-megagpu-8g"}}}}
GPUS = [f"/dev/nvidia{i}" for i in range(8)]


def _objects(spec="llama-405b-bf16-h100", changes=None):
    result = plan(spec_variant(spec, changes or {}))
    return placement_objects(result, result.placements[0])


def _one(objects, kind):
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def _roles(objects):
    spec = _one(objects, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    return [spec["leaderTemplate"], spec["workerTemplate"]]


def _env(container):
    return {e["name"]: e["value"] for e in container["env"]}


def _violations(resource_type, obj):
    return list(INF011.check(Resource(resource_type, obj["metadata"]["name"], obj), Compliance()))


def test_a3_high_pods_join_four_gpu_networks_with_the_tcpx_daemon():
    for role in _roles(_objects()):
        annotations = role["metadata"]["annotations"]
        assert annotations["networking.gke.io/default-interface"] == "eth0"
        assert annotations["networking.gke.io/interfaces"] == (
            '[{"interfaceName":"eth0","network":"default"},{"interfaceName":"eth1","network":"gpunet-1"},'
            '{"interfaceName":"eth2","network":"gpunet-2"},{"interfaceName":"eth3","network":"gpunet-3"},'
            '{"interfaceName":"eth4","network":"gpunet-4"}]'
        )
        assert annotations["devices.gke.io/container.tcpx-daemon"] == "".join(
            f"- path: {d}\n" for d in [*GPUS, "/dev/nvidiactl", "/dev/nvidia-uvm"]
        )
        serving, daemon = role["spec"]["containers"]
        assert daemon == {
            "name": "tcpx-daemon",
            "image": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/tcpgpudmarxd-dev:v2.0.12",
            "command": [
                "/tcpgpudmarxd/build/app/tcpgpudmarxd",
                "--gpu_nic_preset",
                "a3vm",
                "--gpu_shmem_type",
                "fd",
                "--uds_path",
                "/run/tcpx",
                "--setup_param",
                "--verbose 128 2 0 ",
            ],
            "env": [{"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"}],
            "securityContext": {
                "runAsNonRoot": False,
                "runAsUser": 0,
                "allowPrivilegeEscalation": False,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            },
            "volumeMounts": [
                {"name": "libraries", "mountPath": "/usr/local/nvidia/lib64"},
                {"name": "sys", "mountPath": "/hostsysfs"},
                {"name": "proc-sys", "mountPath": "/hostprocsysfs"},
                {"name": "tmp", "mountPath": "/run/tcpx"},
            ],
        }
        env = _env(serving)
        assert env["NCCL_GPUDIRECTTCPX_SOCKET_IFNAME"] == "eth1,eth2,eth3,eth4"
        assert env["NCCL_GPUDIRECTTCPX_CTRL_DEV"] == "eth0"
        assert env["NCCL_SOCKET_IFNAME"] == "eth0"
        assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
        assert env["NCCL_GPUDIRECTTCPX_TX_BINDINGS"] == (
            "eth1:8-21,112-125;eth2:8-21,112-125;eth3:60-73,164-177;eth4:60-73,164-177"
        )
        assert {"name": "tmp", "mountPath": "/tmp"} in serving["volumeMounts"]
        assert {"name": "libraries", "mountPath": "/usr/local/nvidia/lib64"} in serving["volumeMounts"]
        host = [(v["name"], v["hostPath"]["path"]) for v in role["spec"]["volumes"] if "hostPath" in v]
        assert host == [
            ("libraries", "/home/kubernetes/bin/nvidia/lib64"),
            ("sys", "/sys"),
            ("proc-sys", "/proc/sys"),
        ]


def test_a3_mega_pods_join_eight_gpu_networks_with_the_tcpxo_daemon():
    for role in _roles(_objects(changes=MEGA)):
        annotations = role["metadata"]["annotations"]
        assert annotations["networking.gke.io/interfaces"] == (
            '[{"interfaceName":"eth0","network":"default"},{"interfaceName":"eth1","network":"gpunet-1"},'
            '{"interfaceName":"eth2","network":"gpunet-2"},{"interfaceName":"eth3","network":"gpunet-3"},'
            '{"interfaceName":"eth4","network":"gpunet-4"},{"interfaceName":"eth5","network":"gpunet-5"},'
            '{"interfaceName":"eth6","network":"gpunet-6"},{"interfaceName":"eth7","network":"gpunet-7"},'
            '{"interfaceName":"eth8","network":"gpunet-8"}]'
        )
        assert annotations["devices.gke.io/container.tcpxo-daemon"] == "".join(
            f"- path: {d}\n" for d in [*GPUS, "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/dmabuf_import_helper"]
        )
        serving, daemon = role["spec"]["containers"]
        assert daemon["image"] == "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.21"
        assert daemon["command"] == [
            "/fts/entrypoint_rxdm_container.sh",
            "--num_hops=2",
            "--num_nics=8",
            "--alsologtostderr",
        ]
        assert daemon["securityContext"]["capabilities"] == {"add": ["NET_ADMIN", "NET_BIND_SERVICE"], "drop": ["ALL"]}
        assert daemon["volumeMounts"] == [
            {"name": "libraries", "mountPath": "/usr/local/nvidia/lib64"},
            {"name": "sys", "mountPath": "/hostsysfs"},
            {"name": "proc-sys", "mountPath": "/hostprocsysfs"},
        ]
        env = _env(serving)
        assert env["NCCL_FASTRAK_IFNAME"] == "eth1,eth2,eth3,eth4,eth5,eth6,eth7,eth8"
        assert env["NCCL_FASTRAK_CTRL_DEV"] == "eth0"
        assert env["NCCL_NVLSTREE_MAX_CHUNKSIZE"] == "131072"
        assert env["NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY"] == "/dev/aperture_devices"
        assert env["NCCL_TUNER_CONFIG_PATH"] == "/usr/local/nvidia/lib64/a3plus_tuner_config.textproto"
        assert {"name": "aperture-devices", "mountPath": "/dev/aperture_devices"} in serving["volumeMounts"]
        assert "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME" not in env


def test_a_fabric_without_gpudirect_gets_nothing_and_keeps_a_restricted_namespace():
    objects = _objects("deepseek-r1-bf16-h100")  # AWS p5, EFA
    for role in _roles(objects):
        assert not any(k.startswith("networking.gke.io/") for k in role["metadata"].get("annotations", {}))
        assert [c["name"] for c in role["spec"]["containers"]] == ["vllm"]
        assert not any(k.startswith("NCCL_") for k in _env(role["spec"]["containers"][0]))
    labels = _one(objects, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_gpudirect_namespace_is_privileged_and_says_why():
    namespace = _one(_objects(), "Namespace")["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert namespace["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert "pod-security.kubernetes.io/enforce-version" not in namespace["labels"]
    assert namespace["annotations"]["inferstack.dev/why-privileged"].startswith(
        "the GPUDirect-TCPX/TCPXO daemon sidecar runs as root with NET_ADMIN"
    )


def test_network_objects_pair_each_gpu_vpc_with_a_device_network():
    fabric = Fabric("gcp", "a3-highgpu-8g", "gpudirect-tcpx", 2, "test")
    assert network_objects(fabric, [("vpc-a", "sub-a"), ("vpc-b", "sub-b")]) == [
        {
            "apiVersion": "networking.gke.io/v1",
            "kind": "GKENetworkParamSet",
            "metadata": {"name": "gpunet-1"},
            "spec": {"vpc": "vpc-a", "vpcSubnet": "sub-a", "deviceMode": "NetDevice"},
        },
        {
            "apiVersion": "networking.gke.io/v1",
            "kind": "Network",
            "metadata": {"name": "gpunet-1"},
            "spec": {
                "type": "Device",
                "parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet", "name": "gpunet-1"},
            },
        },
        {
            "apiVersion": "networking.gke.io/v1",
            "kind": "GKENetworkParamSet",
            "metadata": {"name": "gpunet-2"},
            "spec": {"vpc": "vpc-b", "vpcSubnet": "sub-b", "deviceMode": "NetDevice"},
        },
        {
            "apiVersion": "networking.gke.io/v1",
            "kind": "Network",
            "metadata": {"name": "gpunet-2"},
            "spec": {
                "type": "Device",
                "parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet", "name": "gpunet-2"},
            },
        },
    ]


def test_cluster_objects_add_the_plugin_installer_and_device_injector_for_gpudirect_only():
    mega = Fabric("gcp", "a3-megagpu-8g", "gpudirect-tcpxo", 8, "test")
    built = cluster_objects([mega], [(f"v{i}", f"s{i}") for i in range(8)])
    daemon_sets = [o for o in built if o["kind"] == "DaemonSet"]
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in daemon_sets] == [
        ("nccl-tcpxo-installer", "kube-system"),
        ("device-injector", "kube-system"),
    ]
    installer = daemon_sets[0]["spec"]["template"]["spec"]
    assert installer["initContainers"][0]["image"] == (
        "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15"
    )
    assert "cp -r /var/lib/tcpxo/lib64/. /usr/local/nvidia/lib64\n" in installer["initContainers"][0]["args"][0]
    terms = installer["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["nvidia-h100-mega-80gb"]
    injector = daemon_sets[1]["spec"]["template"]["spec"]["containers"][0]
    assert injector["image"] == (
        "gcr.io/gke-release/nri-device-injector@sha256:6e79483d52abdc28454bf186320b10a56b0f117a10e8d65d5c74dbb821a76970"
    )
    assert [o["kind"] for o in built].count("Network") == 8
    efa = Fabric("aws", "p5.48xlarge", "efa", 32, "test", "vpc.amazonaws.com/efa")
    assert cluster_objects([efa], []) == []


def test_inf011_passes_the_gpudirect_leader_worker_set_and_its_node_set_up():
    lws = _one(_objects(changes=MEGA), "LeaderWorkerSet")
    assert _violations(LWS_TYPE, lws) == []
    mega = Fabric("gcp", "a3-megagpu-8g", "gpudirect-tcpxo", 8, "test")
    for obj in cluster_objects([mega], [(f"v{i}", f"s{i}") for i in range(8)]):
        if obj["kind"] == "DaemonSet":
            assert _violations(DAEMON_SET, obj) == []


def test_inf011_fails_a_daemon_off_its_catalog_shape_and_its_host_dirs_without_it():
    lws = _one(_objects(), "LeaderWorkerSet")
    privileged = copy.deepcopy(lws)
    worker = privileged["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]
    worker["containers"][1]["securityContext"]["privileged"] = True
    assert _violations(LWS_TYPE, privileged) == [
        "volume 'libraries' is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir",
        "volume 'sys' is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir",
        "volume 'proc-sys' is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir",
        "container 'tcpx-daemon' may run as root. Fix: set runAsNonRoot=true",
        "container 'tcpx-daemon' has no cpu or memory limit. Fix: set resource limits",
    ]
    other_host_dir = copy.deepcopy(lws)
    leader = other_host_dir["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]
    leader["volumes"].append({"name": "sys", "hostPath": {"path": "/var/lib/kubelet"}})
    assert _violations(LWS_TYPE, other_host_dir) == [
        "volume 'sys' is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir"
    ]


def test_inf011_fails_a_kube_system_daemon_set_running_another_image():
    mega = Fabric("gcp", "a3-megagpu-8g", "gpudirect-tcpxo", 8, "test")
    injector = cluster_objects([mega], [(f"v{i}", f"s{i}") for i in range(8)])[-1]
    other = copy.deepcopy(injector)
    other["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.36"
    assert "container 'device-injector' may run as root. Fix: set runAsNonRoot=true" in _violations(DAEMON_SET, other)
