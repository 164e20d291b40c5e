"""The router in front of a placement's replicas: the engine's real router with pod discovery, its RBAC,
Services, disruption budget, NetworkPolicies, and scaling from zero on its request metric."""

from inferstack.catalog.routers import RetryPolicy, hold_retries, router_for, routers
from inferstack.kube import placement_objects
from inferstack.kube.router import notice_seconds
from inferstack.plan import plan
from inferstack.report import traffic
from tests.conftest import spec_variant
from tests.unit.monitoring.conftest import engine_plan

ROUTER_LABELS = {
    "app.kubernetes.io/name": "quickstart",
    "app.kubernetes.io/instance": "quickstart-us-central",
    "app.kubernetes.io/component": "router",
    "app.kubernetes.io/managed-by": "inferstack",
}
SERVING_LABELS = {**ROUTER_LABELS, "app.kubernetes.io/component": "inference"}
FROM_ZERO = {"placements": {0: {"replicas": {"min": 0, "max": 2}}}}


def _objects(result, index=0):
    return {(o["kind"], o["metadata"]["name"]): o for o in placement_objects(result, result.placements[index])}


def _quickstart(changes=None):
    result = plan(spec_variant("quickstart", changes or {}))
    return result, _objects(result)


def test_the_routers_catalog_rows():
    """Facts from the routers' sources (routers.yaml cites each): images, ports, flags, metric names."""
    vllm, sglang = router_for("vllm"), router_for("sglang")
    assert vllm is not None and sglang is not None
    assert (vllm.package, vllm.version, vllm.image) == ("vllm-router", "0.1.17", "vllm/vllm-router:v0.1.17")
    assert (vllm.command, vllm.port, vllm.metrics_port) == (("vllm-router",), 8080, 29000)
    assert (sglang.command, sglang.port, sglang.image) == (
        ("python3", "-m", "sglang_router.launch_router"),
        30000,
        None,
    )
    assert vllm.metrics.requests == "vllm_router_requests_total"
    assert vllm.metrics.ttft is None and sglang.metrics.ttft is None
    assert not vllm.checks_client_keys and vllm.holds_requests_without_workers
    assert not sglang.holds_requests_without_workers and sglang.retry is None
    # vllm_router router_args.py defaults: 5 tries, 50 ms first wait, x1.5, 30 s cap, +-20 % jitter.
    assert vllm.retry == RetryPolicy(5, 50, 30000, 1.5, 0.2)
    assert set(routers()) == {"vllm", "sglang"}
    assert router_for("tgi") is None and router_for("vllm", enabled=False) is None


def test_router_deployment_runs_the_real_router_with_pod_discovery():
    result, objects = _quickstart()
    deployment = objects[("Deployment", "quickstart-router")]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "quickstart-router"
    assert pod["automountServiceAccountToken"] is True  # pod discovery reads the API
    (container,) = pod["containers"]
    assert container["image"] == "vllm/vllm-router:v0.1.17"
    assert container["command"] == ["vllm-router"]
    # startup probe budget 420 s (quickstart's plan) + 20 s e2e SLO: the router waits through a restart.
    assert result.cold_start.startup_probe_seconds == 420
    assert container["args"] == [
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--policy",
        "cache_aware",
        "--service-discovery",
        "--selector",
        "app.kubernetes.io/name=quickstart",
        "app.kubernetes.io/instance=quickstart-us-central",
        "app.kubernetes.io/component=inference",
        "app.kubernetes.io/managed-by=inferstack",
        "--service-discovery-port",
        "8000",
        "--service-discovery-namespace",
        "quickstart",
        "--prometheus-host",
        "0.0.0.0",
        "--prometheus-port",
        "29000",
        "--request-timeout-secs",
        "440",
        "--health-check-interval-secs",
        "10",
        "--health-failure-threshold",
        "3",
        "--health-check-timeout-secs",
        "5",
    ]
    assert container["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 29000, "protocol": "TCP"},
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/liveness", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/liveness", "port": "http"}
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert deployment["metadata"]["annotations"]["checkov.io/skip2"].startswith("CKV_K8S_38=the router discovers")


def test_a_dead_replica_leaves_the_rotation_within_45_seconds():
    """3 health checks, 10 s apart, each timing out after 5 s."""
    assert notice_seconds() == 45


def test_policy_and_replicas_come_from_the_spec():
    _, objects = _quickstart({"routing": {"policy": "round_robin", "replicas": 3}})
    deployment = objects[("Deployment", "quickstart-router")]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--policy") + 1] == "round_robin"
    assert deployment["spec"]["replicas"] == 3


def test_rbac_reads_pods_in_its_own_namespace_only():
    _, objects = _quickstart()
    role = objects[("Role", "quickstart-router")]
    assert role["metadata"]["namespace"] == "quickstart"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    binding = objects[("RoleBinding", "quickstart-router")]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "quickstart-router"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "quickstart-router", "namespace": "quickstart"}]
    assert not [key for key in objects if key[0] in ("ClusterRole", "ClusterRoleBinding")]


def test_the_models_service_fronts_the_router_and_the_engine_keeps_its_own():
    result = plan(spec_variant("quickstart", {}))
    services = [o for o in placement_objects(result, result.placements[0]) if o["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == ["quickstart", "quickstart-engine"]  # clients' URL first
    assert services[0]["spec"]["selector"] == ROUTER_LABELS
    assert services[0]["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert services[1]["spec"]["selector"] == SERVING_LABELS


def test_router_disruption_budget():
    _, objects = _quickstart()
    assert objects[("PodDisruptionBudget", "quickstart-router")]["spec"] == {
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": {"matchLabels": ROUTER_LABELS},
    }
    _, single = _quickstart({"routing": {"replicas": 1}})
    assert single[("PodDisruptionBudget", "quickstart-router")]["spec"]["minAvailable"] == 1


def test_network_policies_route_clients_through_the_router():
    _, objects = _quickstart()
    namespace = lambda name: {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}  # noqa: E731
    serving = objects[("NetworkPolicy", "quickstart")]["spec"]
    assert serving["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": ROUTER_LABELS}}, namespace("monitoring")],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]
    router = objects[("NetworkPolicy", "quickstart-router")]["spec"]
    assert router["podSelector"] == {"matchLabels": ROUTER_LABELS}
    assert router["ingress"] == [
        {
            "from": [{"podSelector": {}}, namespace("ingress"), namespace("monitoring")],
            "ports": [{"protocol": "TCP", "port": 8080}],
        },
        {"from": [namespace("monitoring")], "ports": [{"protocol": "TCP", "port": 29000}]},
    ]
    assert router["egress"][1:] == [
        {"to": [{"podSelector": {"matchLabels": SERVING_LABELS}}], "ports": [{"protocol": "TCP", "port": 8000}]},
        {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]},
    ]
    assert router["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def test_without_a_router_the_service_selects_the_replicas():
    result = engine_plan("tgi")
    objects = _objects(result)
    assert not [key for key in objects if key[1].endswith("-router")]
    assert objects[("Service", "quickstart")]["spec"]["selector"] == SERVING_LABELS
    assert traffic(result, result.placements[0]) == (
        "Service only (tgi ships no router): kube-proxy spreads connections across replicas, blind to their "
        "prefix caches"
    )
    _, off = _quickstart({"routing": {"enabled": False}})
    assert ("Deployment", "quickstart-router") not in off and ("Service", "quickstart-engine") not in off


def test_sglang_runs_its_router_from_the_engine_image():
    result = engine_plan("sglang")
    objects = _objects(result)
    (router,) = objects[("Deployment", "quickstart-router")]["spec"]["template"]["spec"]["containers"]
    (engine,) = objects[("Deployment", "quickstart")]["spec"]["template"]["spec"]["containers"]
    assert router["image"] == engine["image"]
    assert router["command"] == ["python3", "-m", "sglang_router.launch_router"]
    assert router["args"][router["args"].index("--service-discovery-port") + 1] == "30000"


def test_scaling_from_zero_wakes_on_the_routers_request_metric():
    _, objects = _quickstart(FROM_ZERO)
    assert objects[("Deployment", "quickstart")]["spec"]["replicas"] == 0
    assert objects[("ScaledObject", "quickstart")]["spec"] == {
        "scaleTargetRef": {"name": "quickstart"},
        "minReplicaCount": 0,
        "maxReplicaCount": 2,
        "pollingInterval": 15,
        "cooldownPeriod": 600,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}}}},
        "triggers": [
            {
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
                    "query": 'clamp_max((sum(rate(vllm_router_requests_total{job="quickstart-router", '
                    'placement="us-central"}[1m])) or vector(0)) + (sum(rate(vllm_router_request_errors_total'
                    '{job="quickstart-router", placement="us-central", error_type="no_available_workers"}[1m])) '
                    "or vector(0)), 1)",
                    "threshold": "1",
                    "activationThreshold": "0",
                },
            },
            {
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
                    "query": 'sum(vllm:num_requests_waiting{model_name="quickstart"})',
                    "threshold": "4",
                },
            },
        ],
    }


def test_wake_up_time_is_the_cold_start_budget():
    """Zero replicas on a GKE pool that then keeps zero nodes: the startup-probe budget (420 s for the
    quickstart) plus the node-provisioning stage (600 s, catalog/data/cold_start.yaml); the router's
    timeout adds the 20 s end-to-end SLO. Held requests: waits of 12870 ms growing, then 202 of 5000 ms
    (1022870 ms >= 1020 s; 201 would make 1017870): 214 waits, 215 tries."""
    result, objects = _quickstart(FROM_ZERO)
    placement = result.placements[0]
    assert (placement.nodes_min, result.cold_start.node_provisioning_seconds) == (0, 600)
    args = objects[("Deployment", "quickstart-router")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--request-timeout-secs") + 1] == "1040"
    assert traffic(result, placement) == (
        "vllm-router 0.1.17, policy cache_aware, 2 pod(s) behind the model's Service; scales from zero: a replica "
        "serves 1020 s after the first request (cold-start budget), router request timeout 1040 s; requests are "
        "held up to 1023 s while it wakes (215 tries, at most 5 s apart)"
    )


def test_the_router_holds_requests_while_the_placement_wakes():
    """Min 0 with another cold start (the existing cluster's: startup probe 480 s, its nodes stay, so
    that is the wake-up): the waits 50, 75, 112, 168, 253, 379, 569, 854, 1281, 1922, 2883, 4324 ms
    (x1.5, truncated) sum to 12870 ms; 94 more waits of 5000 ms reach 482870 ms >= 480 s (93 would make
    477870): 106 waits, 107 tries."""
    spec = spec_variant("existing-cluster", {"placements": {0: {"replicas": {"min": 0, "max": 2}}}})
    result = plan(spec)
    assert result.cold_start.startup_probe_seconds == 480
    (router,) = _objects(result)[("Deployment", "mistral-7b-router")]["spec"]["template"]["spec"]["containers"]
    assert router["args"][-10:] == [
        "--retry-max-retries",
        "107",
        "--retry-initial-backoff-ms",
        "50",
        "--retry-max-backoff-ms",
        "5000",
        "--retry-backoff-multiplier",
        "1.5",
        "--retry-jitter-factor",
        "0",
    ]
    assert traffic(result, result.placements[0]).endswith(
        "; requests are held up to 483 s while it wakes (107 tries, at most 5 s apart)"
    )


def test_a_placement_that_keeps_a_replica_keeps_the_routers_default_retries():
    _, objects = _quickstart()
    (router,) = objects[("Deployment", "quickstart-router")]["spec"]["template"]["spec"]["containers"]
    assert not any(arg.startswith("--retry-") for arg in router["args"])


def test_hold_retries_wait_at_least_the_wake_up_and_less_than_one_wait_more():
    """10 s: the 12 growing waits (12870 ms) already cover it, the 11 before them (8546 ms) do not."""
    defaults = RetryPolicy(5, 50, 30000, 1.5, 0.2)
    assert hold_retries(defaults, 10) == RetryPolicy(13, 50, 5000, 1.5, 0.0)
    assert hold_retries(defaults, 10).total_wait_ms == 12870
    assert defaults.total_wait_ms == 405  # 50 + 75 + 112 + 168: the 0.39 s measured with no worker


def test_a_router_without_checked_retries_holds_nothing():
    sglang = router_for("sglang")
    assert sglang is not None and sglang.hold(600) is None


def test_wake_up_on_an_existing_cluster_is_the_replica_start_alone():
    spec = spec_variant("existing-cluster", {"placements": {0: {"replicas": {"min": 0, "max": 2}}}})
    result = plan(spec)
    budget = result.cold_start.startup_probe_seconds
    text = traffic(result, result.placements[0])
    assert f"a replica serves {budget} s after the first request" in text
