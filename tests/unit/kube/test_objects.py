"""Serving objects: probes, shared memory, drain timing, rollout, node placement per cloud, isolation."""

import math

import pytest

from inferstack.engines import adapter_for
from inferstack.kube import placement_objects
from inferstack.kube.objects import PRESTOP_SLEEP_SECONDS, termination_grace_seconds
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.conftest import SPECS, spec_variant


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


def test_rollout_surges_one_replica_where_the_pool_has_room():
    # quickstart: replicas 1-2 on one-GPU nodes, so the pool's second node can take the new replica first.
    _, objects = _objects("quickstart.yaml")
    deployment = objects[("Deployment", "quickstart")]
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }


def test_rollout_replaces_in_place_where_the_pool_has_no_room():
    result = plan(spec_variant("quickstart", {"placements": {0: {"replicas": {"min": 2, "max": 2}}}}))
    objects = placement_objects(result, result.placements[0])
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "quickstart")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


def test_a_drain_never_evicts_the_last_replica_but_never_waits_on_a_broken_one():
    # policy/v1 eviction: an eviction is refused when it would break the budget; with one replica,
    # maxUnavailable: 1 allows evicting it (a full outage on every drain), minAvailable: 1 does not.
    single = _objects("quickstart.yaml")[1][("PodDisruptionBudget", "quickstart")]["spec"]
    assert single["minAvailable"] == 1 and "maxUnavailable" not in single
    several = _objects("aws-llama-8b-us.yaml")[1][("PodDisruptionBudget", "llama-8b-us")]["spec"]
    assert several["maxUnavailable"] == 1 and "minAvailable" not in several
    # A pod that is not Ready (crash-looping, still loading) is evicted anyway: it serves nothing.
    assert single["unhealthyPodEvictionPolicy"] == several["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


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
    assert wait["env"] == [{"name": "MARKER", "value": f"{dest}/.inferstack-complete"}]
    container = _pod(objects, "quickstart")["containers"][0]
    assert container["command"] == ["vllm", "serve"] and container["args"][0] == dest


def test_the_wait_loop_never_runs_a_path_as_shell(tmp_path):
    # A path holding shell syntax is data: the script is constant and reads it quoted from $MARKER.
    import subprocess

    _, objects = _objects("quickstart.yaml")
    wait = _pod(objects, "quickstart")["initContainers"][0]
    hostile = tmp_path / "x'; touch pwned; '"
    hostile.mkdir()
    marker = hostile / ".inferstack-complete"
    marker.write_text("{}")
    script = wait["command"][2]
    assert "/models" not in script and "'" not in script
    subprocess.run([*wait["command"][:2], script], env={"MARKER": str(marker)}, cwd=tmp_path, check=True, timeout=10)
    assert not (tmp_path / "pwned").exists()


def test_engine_gets_a_login_name_for_its_uid_without_a_passwd_entry():
    # Python's getpass.getuser(): "checks the environment variables LOGNAME, USER, LNAME and USERNAME,
    # in order ... If none are set, the login name from the password database is returned" - which
    # raises for a UID with no entry (torch calls it for its cache and compile directories).
    _, objects = _objects("quickstart.yaml")
    env = {e["name"]: e["value"] for e in _pod(objects, "quickstart")["containers"][0]["env"]}
    assert env["USER"] and env["LOGNAME"]


def test_prefetch_runs_on_the_system_pool_and_fits_its_smallest_node():
    # EKS AL2023 nodeadm kube-reserved on m6i.large (2 vCPU, 8 GiB, 3 ENIs x 10 IPs): CPU 60 + 10 = 70m,
    # memory 11 x (3 x 9 + 2) + 255 = 574 MiB, eviction 100 MiB. Allocatable: 1930m CPU; memory
    # 8192 - 574 - 100 = 7518 MiB before the kernel's share. The old Job asked for 2 CPU: never scheduled.
    from inferstack.catalog import cloud_facts

    _, objects = _objects("aws-llama-8b-us.yaml")
    pod = objects[("Job", "llama-8b-us-prefetch")]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"inferstack.dev/pool": "system"}
    assert "tolerations" not in pod
    requests = pod["containers"][0]["resources"]["requests"]
    cpu_m = int(requests["cpu"][:-1]) if requests["cpu"].endswith("m") else int(requests["cpu"]) * 1000
    memory_mib = int(requests["memory"][:-2]) * (1024 if requests["memory"].endswith("Gi") else 1)
    facts = cloud_facts.node_facts("aws", "m6i.large")
    assert (facts.allocatable_cpu_m, facts.formula_allocatable_memory_mib) == (1930, 7518)
    budget = cloud_facts.daemonset_budget("aws")
    assert cpu_m <= 1930 - budget.cpu_m and memory_mib <= facts.allocatable_memory_mib - budget.memory_mib


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
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "quickstart")
    deployment = deployment["spec"]["template"]["spec"]
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
    # An hf:// source needs no cloud identity, so no link-local address is reachable.
    assert not any("to" in rule and "ipBlock" in rule["to"][0] for rule in prefetch["egress"])


@pytest.mark.parametrize(
    "spec_name, source, endpoint",
    [
        # EKS Pod Identity agent: "169.254.170.23 for IPv4" (EKS user guide, pod-id-agent-setup), HTTP.
        ("aws-llama-8b-us", "s3://acme-models/llama", {"cidr": "169.254.170.23/32", "port": 80}),
        # GKE metadata server for Workload Identity on Dataplane V2: 169.254.169.254/32 port 80.
        ("quickstart", "gs://acme-models/llama", {"cidr": "169.254.169.254/32", "port": 80}),
    ],
)
def test_prefetch_from_cloud_storage_reaches_exactly_the_identity_endpoint(spec_name, source, endpoint):
    changed = plan(
        spec_variant(spec_name, {"model": {"source": source, "revision": None, "architecture": "llama-3.1-8b"}})
    )
    policy = next(
        o
        for o in placement_objects(changed, changed.placements[0])
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].endswith("-prefetch")
    )
    link_local = [rule for rule in policy["spec"]["egress"] if "to" in rule and "ipBlock" in rule["to"][0]]
    assert link_local == [
        {"to": [{"ipBlock": {"cidr": endpoint["cidr"]}}], "ports": [{"protocol": "TCP", "port": endpoint["port"]}]}
    ]


def test_keda_scales_on_the_engine_queue_within_placement_bounds():
    _, objects = _objects("aws-llama-8b-us.yaml")
    scaler = objects[("ScaledObject", "llama-8b-us")]["spec"]
    assert (scaler["minReplicaCount"], scaler["maxReplicaCount"]) == (2, 6)
    trigger = scaler["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == 'sum(vllm:num_requests_waiting{model_name="llama-3.1-8b"})'
    assert trigger["metadata"]["threshold"] == "4"
    # A sum over pods: AverageValue divides it by the replica count, so 4 is "waiting requests per replica".
    assert trigger["metricType"] == "AverageValue"
    # KEDA: cooldownPeriod is "the period to wait after the last trigger reported active before scaling
    # the resource back to 0"; with min replicas >= 1 the delay must be the HPA's stabilization window.
    assert "cooldownPeriod" not in scaler
    assert scaler["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 600
    }


def test_kv_cache_usage_target_is_per_replica_and_can_reach_max_replicas():
    # HPA algorithm: desiredReplicas = ceil[currentReplicas * (currentMetricValue / desiredMetricValue)].
    # AverageValue first divides the metric by the replica count; an avg() is already per replica, so
    # under AverageValue 2 replicas at 100 % usage read 0.5 and never pass a 0.8 target: stuck at 2.
    changed = plan(spec_variant("aws-llama-8b-us", {"autoscaling": {"signal": "kv_cache_usage", "target": 0.8}}))
    scaler = next(o for o in placement_objects(changed, changed.placements[0]) if o["kind"] == "ScaledObject")
    trigger = scaler["spec"]["triggers"][0]
    assert trigger["metadata"]["query"].startswith("avg(")
    assert trigger["metricType"] == "Value"
    replicas, usage, target = 2, 1.0, float(trigger["metadata"]["threshold"])
    for _ in range(6):
        replicas = min(scaler["spec"]["maxReplicaCount"], math.ceil(replicas * usage / target))
    assert replicas == 6


def test_scale_down_window_is_capped_where_the_hpa_accepts_it():
    # autoscaling/v2 validation: "stabilizationWindowSeconds: Invalid value: 18000: must be less than or
    # equal to 3600" (kedacore/keda#4976: the HPA was never created).
    changed = plan(spec_variant("aws-llama-8b-us", {"autoscaling": {"scale_down_delay_seconds": 18000}}))
    scaler = next(o for o in placement_objects(changed, changed.placements[0]) if o["kind"] == "ScaledObject")
    assert scaler["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 3600
    }
    assert "scale-down-delay-capped" in [f.code for f in changed.findings]


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
    # A URL unlike the default kube-prometheus-stack one, so ignoring the spec's value cannot pass.
    spec = spec_variant(
        "existing-cluster", {"placements": {0: {"cluster": {"prometheus_url": "http://vm.obs.svc:8428"}}}}
    )
    result = plan(spec)
    (scaler,) = [o for o in placement_objects(result, result.placements[0]) if o["kind"] == "ScaledObject"]
    assert scaler["spec"]["triggers"][0]["metadata"]["serverAddress"] == "http://vm.obs.svc:8428"


def test_existing_cluster_without_the_operator_gets_no_operator_kinds():
    from inferstack.monitoring import placement_monitoring

    result = plan(load_spec(SPECS / "existing-cluster.yaml"))
    spec = result.spec
    spec = spec_variant("existing-cluster", {"placements": {0: {"cluster": {"prometheus_operator": False}}}})
    assert [o["kind"] for o in placement_monitoring(plan(spec), "onprem-fra")] == ["ConfigMap"]
    assert [o["kind"] for o in placement_monitoring(result, "onprem-fra")] == [
        "PodMonitor",
        "PodMonitor",
        "PrometheusRule",
        "ConfigMap",
    ]
