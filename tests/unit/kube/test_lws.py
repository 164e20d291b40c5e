"""Multi-node replicas as LeaderWorkerSets: the upstream CRD's schema, the leader's and workers' launch,
leaders-only Services and routers, scaling, disruption and group traffic."""

import copy
import functools
from pathlib import Path

import jsonschema
import pytest
import yaml

from inferstack.engines import adapter_for
from inferstack.engines.surface import argument_problems, load_surface
from inferstack.kube import placement_objects
from inferstack.kube.leaders import WORKER_INDEX_LABEL
from inferstack.plan import plan
from tests.conftest import spec_variant
from tests.unit.engines.test_adapters import _vllm_parse
from tests.unit.test_render import checkov_report

CRD = Path(__file__).with_name("data") / "leaderworkerset.x-k8s.io_leaderworkersets.yaml"


@functools.cache
def _schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def _objects(name="llama-405b-bf16-h100", changes=None):
    result = plan(spec_variant(name, changes or {}))
    return result, placement_objects(result, result.placements[0])


def _one(objects, kind, name=None):
    (found,) = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found


def _errors(obj):
    return sorted(e.message for e in jsonschema.Draft4Validator(_schema()).iter_errors(obj))


def test_the_vendored_crd_names_its_release():
    assert CRD.read_text().startswith("# Vendored unchanged from kubernetes-sigs/lws, tag v0.9.0")
    assert yaml.safe_load(CRD.read_text())["metadata"]["name"] == "leaderworkersets.leaderworkerset.x-k8s.io"


@pytest.mark.parametrize(
    ("spec", "changes"),
    [
        ("llama-405b-bf16-h100", {}),
        ("deepseek-r1-bf16-h100", {}),
        ("deepseek-r1-bf16-h100", {"engine": {"name": "sglang"}}),
    ],
)
def test_rendered_leader_worker_set_validates_against_the_upstream_crd(spec, changes):
    _, objects = _objects(spec, changes)
    lws = _one(objects, "LeaderWorkerSet")
    assert _errors(lws) == []


def test_the_schema_check_has_teeth():
    _, objects = _objects()
    broken = copy.deepcopy(_one(objects, "LeaderWorkerSet"))
    broken["spec"]["leaderWorkerTemplate"]["restartPolicy"] = "Always"
    broken["spec"]["startupPolicy"] = "WhenReady"
    assert _errors(broken) == [
        "'Always' is not one of ['Default', 'RecreateGroupOnPodRestart', 'RecreateGroupAfterStart', 'None']",
        "'WhenReady' is not one of ['LeaderCreated', 'LeaderReady']",
    ]


def test_a_multi_node_replica_is_one_group_per_replica_instead_of_a_deployment():
    result, objects = _objects("deepseek-r1-bf16-h100")
    assert "Deployment" not in {o["kind"] for o in objects if o["metadata"]["name"] == "deepseek-r1-bf16"}
    spec = _one(objects, "LeaderWorkerSet")["spec"]
    assert spec["replicas"] == 1
    assert spec["startupPolicy"] == "LeaderCreated"
    assert spec["leaderWorkerTemplate"]["size"] == 3
    assert spec["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
    # The pool holds 2 groups at most and 1 runs at min: room to surge by one group.
    assert spec["rolloutStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdateConfiguration": {"maxSurge": 1, "maxUnavailable": 0},
    }
    for role in ("leaderTemplate", "workerTemplate"):
        pod = spec["leaderWorkerTemplate"][role]["spec"]
        (container,) = pod["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}} in pod["volumes"]
        assert [c["name"] for c in pod["initContainers"]] == ["wait-for-weights"]
    assert result.fit.nodes == 3


def test_vllm_leader_starts_ray_head_then_serves_and_workers_join():
    _, objects = _objects()
    template = _one(objects, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    worker = template["workerTemplate"]["spec"]["containers"][0]
    assert leader["command"] == [
        "sh",
        "-c",
        'bash "$RAY_HELPER" leader --ray_port="$RAY_PORT" --ray_cluster_size="$LWS_GROUP_SIZE" '
        '--ray_init_timeout="$RAY_INIT_TIMEOUT" && exec "$0" "$@"',
        "vllm",
    ]
    assert leader["args"][:2] == [
        "serve",
        "/models/hf--meta-llama--Llama-3.1-405B-Instruct/f9801cba95a53242b3cc928a4a418d12571d1c5f",
    ]
    assert leader["args"][-4:] == ["--pipeline-parallel-size", "2", "--distributed-executor-backend", "ray"]
    assert worker["command"] == [
        "sh",
        "-c",
        'exec bash "$RAY_HELPER" worker --ray_address="$LWS_LEADER_ADDRESS" --ray_port="$RAY_PORT" '
        '--ray_init_timeout="$RAY_INIT_TIMEOUT"',
    ]
    assert worker["args"] == []
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert env["RAY_HELPER"] == "/vllm-workspace/examples/online_serving/multi-node-serving.sh"
    assert env["RAY_PORT"] == "6379"
    assert "readinessProbe" in leader and "ports" in leader
    assert not {"ports", "startupProbe", "readinessProbe", "livenessProbe"} & set(worker)


def test_vllm_accepts_the_leaders_arguments():
    result, objects = _objects()
    leader = _one(objects, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    container = leader["spec"]["containers"][0]
    # The leader execs "$0" "$@": the vllm console script with these arguments.
    assert container["command"][-1] == "vllm"
    (parsed,) = _vllm_parse([container["args"]])
    assert parsed["ok"], parsed
    assert parsed["parsed"]["tensor_parallel_size"] == 8
    assert parsed["parsed"]["pipeline_parallel_size"] == 2
    assert parsed["parsed"]["distributed_executor_backend"] == "ray"
    assert parsed["parsed"]["kv_cache_memory_bytes"] == int(result.fit.kv_pool_bytes)


def test_sglang_snapshot_accepts_the_leaders_and_workers_arguments():
    result, objects = _objects("deepseek-r1-bf16-h100", {"engine": {"name": "sglang"}})
    template = _one(objects, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    surface = load_surface("sglang")
    for role, rank in (("leaderTemplate", "0"), ("workerTemplate", "$(LWS_WORKER_INDEX)")):
        container = template[role]["spec"]["containers"][0]
        assert container["command"] == list(adapter_for("sglang").command)
        args = container["args"]
        assert argument_problems(surface, args) == []
        assert args[-6:] == ["--dist-init-addr", "$(LWS_LEADER_ADDRESS):20000", "--nnodes", "4", "--node-rank", rank]
        assert args[args.index("--tp-size") + 1] == "32"
    assert result.fit.nodes == 4


def test_requests_reach_leaders_only():
    _, objects = _objects()
    service = _one(objects, "Service", "llama-405b-engine")
    assert service["spec"]["selector"][WORKER_INDEX_LABEL] == "0"
    router = _one(objects, "Deployment", "llama-405b-router")
    args = router["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"{WORKER_INDEX_LABEL}=0" in args


def test_keda_scales_the_leader_worker_set_groups():
    _, objects = _objects("deepseek-r1-bf16-h100")
    target = _one(objects, "ScaledObject")["spec"]["scaleTargetRef"]
    assert target == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "deepseek-r1-bf16",
    }


def test_the_crd_has_the_scale_subresource_keda_uses():
    (version,) = yaml.safe_load(CRD.read_text())["spec"]["versions"]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"


def test_one_replica_keeps_every_pod_of_its_group_through_drains():
    _, objects = _objects()
    budget = _one(objects, "PodDisruptionBudget", "llama-405b")
    assert budget["spec"]["minAvailable"] == 2


def test_pods_of_a_group_reach_each_other_on_every_port():
    _, objects = _objects()
    policy = _one(objects, "NetworkPolicy", "llama-405b-group")
    group = {
        "podSelector": {
            "matchLabels": _one(objects, "NetworkPolicy", "llama-405b")["spec"]["podSelector"]["matchLabels"]
        }
    }
    assert policy["spec"]["ingress"] == [{"from": [group]}]
    assert policy["spec"]["egress"] == [{"to": [group]}]


def test_single_node_replicas_are_unchanged_deployments():
    _, objects = _objects("deepseek-v3-h200")
    assert "LeaderWorkerSet" not in {o["kind"] for o in objects}
    assert WORKER_INDEX_LABEL not in _one(objects, "Service", "deepseek-v3-engine")["spec"]["selector"]


def test_checkov_passes_the_leader_and_worker_pods(tmp_path):
    """checkov knows no LeaderWorkerSet (it reports 0 resources for one), so each role's pod template is
    checked as the Pod LWS creates from it, with the LeaderWorkerSet's and the template's skip annotations,
    beside the placement's NetworkPolicies."""
    _, objects = _objects()
    lws = _one(objects, "LeaderWorkerSet")
    for role in ("leaderTemplate", "workerTemplate"):
        template = lws["spec"]["leaderWorkerTemplate"][role]
        annotations = {**lws["metadata"]["annotations"], **template["metadata"].get("annotations", {})}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"llama-405b-{role.removesuffix('Template')}",
                "namespace": lws["metadata"]["namespace"],
                "labels": template["metadata"]["labels"],
                "annotations": annotations,
            },
            "spec": template["spec"],
        }
        (tmp_path / f"{role}.yaml").write_text(yaml.safe_dump(pod))
    for i, policy in enumerate(o for o in objects if o["kind"] == "NetworkPolicy"):
        (tmp_path / f"policy-{i}.yaml").write_text(yaml.safe_dump(policy))
    report = checkov_report(tmp_path)
    assert [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]] == []
    assert report["summary"]["resource_count"] >= 2 and report["summary"]["passed"] > 100
