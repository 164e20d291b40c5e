"""Serving objects: probes, shared memory, drain timing, rollout, node placement per cloud, isolation."""

import pytest

from inferstack.engines import adapter_for
from inferstack.kube import placement_objects
from inferstack.kube.objects import PRESTOP_SLEEP_SECONDS, termination_grace_seconds
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.conftest import SPECS


def _objects(spec_name, placement_index=0):
    result = plan(load_spec(SPECS / spec_name))
    return result, {
        (o["kind"], o["metadata"]["name"]): o for o in placement_objects(result, result.placements[placement_index])
    }


def _pod(objects, name):
    return objects[("Deployment", name)]["spec"]["template"]["spec"]


def test_probes_are_distinct_and_startup_budget_comes_from_the_plan():
    result, objects = _objects("quickstart.yaml")
    container = _pod(objects, "quickstart")["containers"][0]
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/models", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == result.cold_start.startup_probe_seconds


def test_shared_memory_is_memory_backed_and_weights_are_read_only():
    _, objects = _objects("multi-cloud-qwen.yaml")
    pod = _pod(objects, "qwen3-32b")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["shm"]["mountPath"] == "/dev/shm"
    assert mounts["models"] == {"name": "models", "mountPath": "/models", "readOnly": True}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "qwen3-32b-weights", "readOnly": True}


def test_drain_outlasts_prestop_plus_slowest_request_plus_engine_shutdown():
    result, objects = _objects("quickstart.yaml")
    pod = _pod(objects, "quickstart")
    assert pod["containers"][0]["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", str(PRESTOP_SLEEP_SECONDS)]}}
    assert pod["terminationGracePeriodSeconds"] == 15 + 20 + 30
    assert termination_grace_seconds(result, adapter_for("vllm")) == pod["terminationGracePeriodSeconds"]


def test_rollout_never_needs_a_spare_gpu_and_drains_proceed():
    _, objects = _objects("quickstart.yaml")
    deployment = objects[("Deployment", "quickstart")]
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    assert objects[("PodDisruptionBudget", "quickstart")]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(
    "spec_name, index, selector",
    [
        (
            "quickstart.yaml",
            0,
            {
                "node.kubernetes.io/instance-type": "g2-standard-4",
                "cloud.google.com/gke-accelerator": "nvidia-l4",
                "inferstack.dev/gpu": "L4",
            },
        ),
        ("aws-llama-8b-us.yaml", 0, {"node.kubernetes.io/instance-type": "g6e.xlarge", "inferstack.dev/gpu": "L40S"}),
        ("existing-cluster.yaml", 0, {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}),
    ],
)
def test_node_selectors_per_cloud(spec_name, index, selector):
    result, objects = _objects(spec_name, index)
    pod = _pod(objects, result.spec.name)
    assert pod["nodeSelector"] == selector
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_gpu_limits_equal_tensor_parallel_size_and_qos_is_guaranteed():
    _, objects = _objects("deepseek-v3-h200.yaml")
    resources = _pod(objects, "deepseek-v3")["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "8"
    assert resources["requests"] == resources["limits"]


def test_hardened_pod_and_no_token():
    _, objects = _objects("quickstart.yaml")
    pod = _pod(objects, "quickstart")
    assert pod["automountServiceAccountToken"] is False
    assert objects[("ServiceAccount", "quickstart")]["automountServiceAccountToken"] is False
    security = pod["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]} and security["runAsUser"] >= 10000


def test_serving_waits_for_the_prefetch_and_the_prefetch_pins_the_revision():
    _, objects = _objects("quickstart.yaml")
    job = objects[("Job", "quickstart-prefetch")]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--revision") + 1] == "0e9e39f249a16976918f6564b8830bc894c89659"
    dest = args[args.index("--dest") + 1]
    wait = _pod(objects, "quickstart")["initContainers"][0]
    assert f"{dest}/.inferstack-complete" in wait["command"][2]
    model_arg = _pod(objects, "quickstart")["containers"][0]["args"]
    assert model_arg[model_arg.index("--model") + 1] == dest


def test_pvc_source_needs_no_cache_claim_or_prefetch():
    result = plan(load_spec(SPECS / "quickstart.yaml"))
    spec = result.spec.model_copy(
        update={
            "model": result.spec.model.model_copy(
                update={"source": "pvc://team-models/llama", "revision": None, "architecture": "llama-3.1-8b"}
            )
        }
    )
    pvc_plan = plan(spec)
    objects = placement_objects(pvc_plan, pvc_plan.placements[0])
    kinds = [o["kind"] for o in objects]
    deployment = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert deployment["volumes"][0]["persistentVolumeClaim"] == {"claimName": "team-models", "readOnly": True}
    assert "initContainers" not in deployment
    assert "Job" not in kinds and "PersistentVolumeClaim" not in kinds


def test_serving_egress_is_dns_only_and_prefetch_gets_https():
    _, objects = _objects("quickstart.yaml")
    serving = objects[("NetworkPolicy", "quickstart")]["spec"]
    assert [rule["ports"] for rule in serving["egress"]] == [
        [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    ]
    prefetch = objects[("NetworkPolicy", "quickstart-prefetch")]["spec"]
    assert {"ports": [{"protocol": "TCP", "port": 443}]} in prefetch["egress"]


def test_keda_scales_on_the_engine_queue_within_placement_bounds():
    _, objects = _objects("aws-llama-8b-us.yaml")
    scaler = objects[("ScaledObject", "llama-8b-us")]["spec"]
    assert (scaler["minReplicaCount"], scaler["maxReplicaCount"]) == (2, 6)
    trigger = scaler["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == 'sum(vllm:num_requests_waiting{model_name="llama-3.1-8b"})'
    assert trigger["metadata"]["threshold"] == "4"


def test_deployment_carries_a_provenance_record():
    _, objects = _objects("quickstart.yaml")
    annotations = objects[("Deployment", "quickstart")]["metadata"]["annotations"]
    record = {k: v for k, v in annotations.items() if k.startswith("inferstack.dev/")}
    assert record == {
        "inferstack.dev/engine": "vllm",
        "inferstack.dev/engine-version": "0.32.0",
        "inferstack.dev/quantization": "fp8",
        "inferstack.dev/model-source": "hf://meta-llama/Llama-3.1-8B-Instruct",
        "inferstack.dev/model-revision": "0e9e39f249a16976918f6564b8830bc894c89659",
        "inferstack.dev/gpu": "L4",
        "inferstack.dev/gpus-per-replica": "1",
        "inferstack.dev/replicas-max": "2",
        "inferstack.dev/capacity": "node-pool",
    }


def test_existing_cluster_scales_on_its_own_prometheus():
    _, objects = _objects("existing-cluster.yaml")
    trigger = objects[("ScaledObject", "mistral-7b")]["spec"]["triggers"][0]["metadata"]
    assert trigger["serverAddress"] == "http://prometheus-operated.monitoring.svc:9090"


def test_existing_cluster_without_the_operator_gets_no_operator_kinds():
    from inferstack.monitoring import placement_monitoring

    result = plan(load_spec(SPECS / "existing-cluster.yaml"))
    spec = result.spec
    cluster = spec.placements[0].cluster.model_copy(update={"prometheus_operator": False})
    spec = spec.model_copy(update={"placements": [spec.placements[0].model_copy(update={"cluster": cluster})]})
    assert [o["kind"] for o in placement_monitoring(plan(spec), "onprem-fra")] == ["ConfigMap"]
    assert [o["kind"] for o in placement_monitoring(result, "onprem-fra")] == [
        "PodMonitor",
        "PrometheusRule",
        "ConfigMap",
    ]
