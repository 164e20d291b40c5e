"""The cache tiers' objects: node_local (owner DaemonSet, local volume, fill DaemonSet, serving pods on the
copy) and streaming (no cache, the engine streams from the bucket under the reader identity)."""

from inferstack.engines import adapter_for
from inferstack.kube import placement_objects
from inferstack.plan import plan
from tests.conftest import spec_variant

S3_DEEPSEEK = {
    "model": {"source": "s3://weights/deepseek-v3", "revision": None, "architecture": "deepseek-v3"},
    "slo": {"cold_start_s": 1300},
}


def _objects(changes=None):
    result = plan(spec_variant("deepseek-v3-h200", changes or {}))
    objects = placement_objects(result, result.placements[0])
    return result, {(o["kind"], o["metadata"]["name"]): o for o in objects}, objects


def test_node_local_objects_in_dependency_order():
    _, _, objects = _objects()
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    at = names.index(("Deployment", "deepseek-v3"))
    assert names[at - 6 : at] == [
        ("Namespace", "deepseek-v3-node-cache-owner"),
        ("NetworkPolicy", "deepseek-v3-node-cache-owner"),
        ("DaemonSet", "deepseek-v3-node-cache-owner"),
        ("PersistentVolume", "deepseek-v3--deepseek-v3-node-cache"),
        ("PersistentVolumeClaim", "deepseek-v3-node-cache"),
        ("DaemonSet", "deepseek-v3-node-cache"),
    ]
    assert names[-1] == ("NetworkPolicy", "deepseek-v3-node-cache")
    assert ("Job", "deepseek-v3-prefetch") in names  # the shared volume is still filled once


def test_node_local_directory_is_created_by_the_only_hostpath_in_its_own_namespace():
    _, objects, _ = _objects()
    namespace = objects[("Namespace", "deepseek-v3-node-cache-owner")]["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "the only hostPath in inferstack" in namespace["annotations"]["inferstack.dev/why-privileged"]
    owner = objects[("DaemonSet", "deepseek-v3-node-cache-owner")]["spec"]["template"]["spec"]
    assert owner["volumes"] == [
        {
            "name": "node-cache",
            "hostPath": {"path": "/mnt/k8s-disks/0/inferstack/deepseek-v3--deepseek-v3", "type": "DirectoryOrCreate"},
        }
    ]
    (hold,) = owner["containers"]
    assert hold["securityContext"]["runAsNonRoot"] is True
    assert hold["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert hold["volumeMounts"] == [{"name": "node-cache", "mountPath": "/owned", "readOnly": True}]
    assert owner["nodeSelector"]["node.kubernetes.io/instance-type"] == "p5en.48xlarge"


def test_node_local_volume_is_the_same_directory_on_the_placements_gpu_nodes():
    _, objects, _ = _objects()
    volume = objects[("PersistentVolume", "deepseek-v3--deepseek-v3-node-cache")]["spec"]
    assert volume["local"] == {"path": "/mnt/k8s-disks/0/inferstack/deepseek-v3--deepseek-v3"}
    terms = volume["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["p5en.48xlarge"]} in terms
    assert volume["claimRef"] == {"namespace": "deepseek-v3", "name": "deepseek-v3-node-cache"}
    claim = objects[("PersistentVolumeClaim", "deepseek-v3-node-cache")]["spec"]
    assert claim["volumeName"] == "deepseek-v3--deepseek-v3-node-cache"
    assert claim["storageClassName"] == ""


def test_node_local_fill_copies_the_shared_cache_with_the_fetcher_and_is_ready_on_the_marker():
    result, objects, _ = _objects()
    pod = objects[("DaemonSet", "deepseek-v3-node-cache")]["spec"]["template"]["spec"]
    (fill,) = pod["initContainers"]
    subpath = "hf--deepseek-ai--DeepSeek-V3-0324/e9b33add76883f293d6bf61f6bd89b497e80e335"
    assert fill["args"] == [
        "--source",
        "hf://deepseek-ai/DeepSeek-V3-0324",
        "--dest",
        f"/node-cache/{subpath}",
        "--marker",
        ".inferstack-complete",
        "--revision",
        "e9b33add76883f293d6bf61f6bd89b497e80e335",
        "--copy-from",
        f"/models/{subpath}",
    ]
    assert "HF_TOKEN" not in {e["name"] for e in fill["env"]}  # a copy between volumes needs no hub token
    (hold,) = pod["containers"]
    assert hold["readinessProbe"]["exec"]["command"] == ["test", "-f", f"/node-cache/{subpath}/.inferstack-complete"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "deepseek-v3-weights", "readOnly": True}
    assert volumes["node-cache"]["persistentVolumeClaim"] == {"claimName": "deepseek-v3-node-cache"}
    policy = objects[("NetworkPolicy", "deepseek-v3-node-cache")]["spec"]
    assert (policy["ingress"], policy["egress"]) == ([], [])
    assert result.cold_start.tier == "node_local"


def test_node_local_serving_pods_read_the_nodes_copy_with_the_streamer():
    _, objects, _ = _objects()
    pod = objects[("Deployment", "deepseek-v3")]["spec"]["template"]["spec"]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["persistentVolumeClaim"] == {"claimName": "deepseek-v3-node-cache", "readOnly": True}
    args = pod["containers"][0]["args"]
    assert args[args.index("--load-format") + 1] == "runai_streamer"
    assert args[args.index("--model-loader-extra-config") + 1] == '{"distributed":true}'


def test_streaming_has_no_cache_and_streams_from_the_bucket():
    result, objects, _ = _objects(S3_DEEPSEEK)
    assert result.cold_start.tier == "streaming"
    kinds = {k for k, _ in objects}
    assert (
        "Job" not in kinds
        and "PersistentVolumeClaim" not in kinds
        and "ConfigMap" not in {k for k, n in objects if n == "deepseek-v3-fetcher"}
    )
    pod = objects[("Deployment", "deepseek-v3")]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "deepseek-v3-prefetch"  # the account bound to the reader identity
    assert "initContainers" not in pod
    assert "models" not in {v["name"] for v in pod["volumes"]}
    container = pod["containers"][0]
    assert container["args"][0] == "s3://weights/deepseek-v3"
    assert container["args"][container["args"].index("--load-format") + 1] == "runai_streamer"
    assert "models" not in {m["name"] for m in container["volumeMounts"]}
    egress = objects[("NetworkPolicy", "deepseek-v3")]["spec"]["egress"]
    assert {"ports": [{"protocol": "TCP", "port": 443}]} in egress
    assert {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]} in egress


def test_shared_volume_args_carry_no_load_format():
    result = plan(spec_variant("quickstart", {}))
    assert "--load-format" not in adapter_for("vllm").args(result)
