import pytest

from inferstack.catalog.routers import router_for
from inferstack.monitoring import dcgm_service_monitor, placement_monitoring, pod_monitor, router_pod_monitor


def test_pod_monitor_selects_serving_pods_and_labels_placement(quickstart):
    monitor = pod_monitor(quickstart, "us-central")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["kind"] == "PodMonitor"
    assert monitor["metadata"]["name"] == "quickstart-us-central"
    assert monitor["metadata"]["namespace"] == "quickstart"
    assert monitor["spec"]["selector"] == {
        "matchLabels": {
            "app.kubernetes.io/name": "quickstart",
            "app.kubernetes.io/instance": "quickstart-us-central",
            "app.kubernetes.io/component": "inference",
        }
    }
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["quickstart"]}
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("http", "/metrics", "15s")
    assert endpoint["relabelings"] == [
        {"action": "replace", "targetLabel": "job", "replacement": "quickstart"},
        {"action": "replace", "targetLabel": "placement", "replacement": "us-central"},
        {"action": "replace", "targetLabel": "cluster", "replacement": "quickstart-us-central"},
    ]


def test_router_pod_monitor_scrapes_the_router_pods_as_their_own_job(quickstart):
    front = router_for("vllm")
    assert front is not None
    monitor = router_pod_monitor(quickstart, "us-central", front)
    assert monitor["metadata"]["name"] == "quickstart-us-central-router"
    assert monitor["spec"]["selector"] == {
        "matchLabels": {
            "app.kubernetes.io/name": "quickstart",
            "app.kubernetes.io/instance": "quickstart-us-central",
            "app.kubernetes.io/component": "router",
        }
    }
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    assert endpoint["relabelings"][0] == {"action": "replace", "targetLabel": "job", "replacement": "quickstart-router"}
    kinds = [(o["kind"], o["metadata"]["name"]) for o in placement_monitoring(quickstart, "us-central")]
    assert kinds[:2] == [("PodMonitor", "quickstart-us-central"), ("PodMonitor", "quickstart-us-central-router")]


def test_pod_monitor_uses_engine_metrics_path():
    from tests.unit.monitoring.conftest import engine_plan

    endpoint = pod_monitor(engine_plan("trtllm"), "us-central")["spec"]["podMetricsEndpoints"][0]
    assert endpoint["path"] == "/prometheus/metrics"


def test_existing_cluster_label_is_its_context():
    from inferstack.plan import plan
    from inferstack.spec import load_spec
    from tests.conftest import SPECS

    monitor = pod_monitor(plan(load_spec(SPECS / "existing-cluster.yaml")), "onprem-fra")
    labels = {r["targetLabel"]: r["replacement"] for r in monitor["spec"]["podMetricsEndpoints"][0]["relabelings"]}
    assert labels == {"job": "mistral-7b", "placement": "onprem-fra", "cluster": "fra-gpu-prod"}


def test_unknown_placement_names_the_known_ones(quickstart):
    with pytest.raises(ValueError, match="no placement named 'eu'; placements: us-central"):
        pod_monitor(quickstart, "eu")


def test_dcgm_service_monitor():
    monitor = dcgm_service_monitor(cluster="c1")
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["metadata"]["namespace"] == "gpu-operator"
    assert monitor["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "dcgm-exporter"}}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["gpu-operator"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["honorLabels"] is True
    assert endpoint["metricRelabelings"][0]["regex"] == (
        "DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_FB_FREE|DCGM_FI_DEV_POWER_USAGE"
    )
    assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "cluster", "replacement": "c1"}]
    assert "relabelings" not in dcgm_service_monitor()["spec"]["endpoints"][0]
