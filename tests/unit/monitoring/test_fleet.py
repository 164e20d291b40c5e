"""The platform dashboard: its panels, that every query parses, and (with promtool) that the pool,
model and team joins give the right numbers on synthetic kube-state-metrics and DCGM series."""

from __future__ import annotations

import subprocess

import yaml

from inferstack.monitoring import dashboard_queries, parse
from inferstack.monitoring.fleet import KSM_POOL_LABEL, NODE_LABELS_ALLOWLIST, platform_dashboard, platform_monitoring
from inferstack.plan.fleet import plan_fleet
from inferstack.spec.fleet import load_fleet
from tests.fleet_folder import FLEET


def _dashboard() -> dict:
    return platform_dashboard(plan_fleet(load_fleet(FLEET)))


def test_panels_cover_pools_models_and_teams():
    dashboard = _dashboard()
    assert dashboard["uid"] == "inferstack-platform-prod"
    assert dashboard["title"] == "inferstack / platform prod"
    assert [p["title"] for p in dashboard["panels"]] == [
        "GPUs allocated per pool",
        "Pool allocation",
        "GPU utilization per pool",
        "GPUs allocated per model",
        "GPU utilization per model",
        "GPU quota used per team",
        "GPU utilization per team",
    ]
    model = next(v for v in dashboard["templating"]["list"] if v["name"] == "model")
    assert model["query"] == "llama-3.1-8b,llama-3.1-8b-mig,mistral-7b,qwen2.5-7b"


def test_platform_clusters_ship_the_dcgm_monitor_and_dashboard_once():
    result = plan_fleet(load_fleet(FLEET))
    east = platform_monitoring(result, "us-east")
    assert [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in east] == [
        ("ServiceMonitor", "gpu-operator", "nvidia-dcgm-exporter"),
        ("ConfigMap", "monitoring", "inferstack-platform"),
    ]
    assert east[1]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert platform_monitoring(result, "onprem") == []  # an existing cluster: not our monitoring stack


def test_pool_label_names_as_kube_state_metrics_exports_them():
    assert KSM_POOL_LABEL == "label_inferstack_dev_pool"
    assert NODE_LABELS_ALLOWLIST == "nodes=[inferstack.dev/pool]"


def test_every_query_parses():
    queries = dashboard_queries(_dashboard())
    assert len(queries) == 7
    for where, expr in queries:
        assert parse(expr) is not None, where


SERIES = [
    ('kube_node_labels{cluster="c", node="n1", label_inferstack_dev_pool="gpu-l40s"}', "1x10"),
    ('kube_node_labels{cluster="c", node="n2", label_inferstack_dev_pool="gpu-h100-mig"}', "1x10"),
    ('kube_node_status_allocatable{cluster="c", node="n1", resource="nvidia_com_gpu"}', "4x10"),
    ('kube_node_status_allocatable{cluster="c", node="n2", resource="nvidia_com_mig_3g_40gb"}', "16x10"),
    (
        'kube_pod_container_resource_requests{cluster="c", node="n1", namespace="chat", pod="a", resource="nvidia_com_gpu"}',
        "1x10",
    ),
    (
        'kube_pod_container_resource_requests{cluster="c", node="n1", namespace="chat", pod="b", resource="nvidia_com_gpu"}',
        "2x10",
    ),
    ('kube_pod_container_resource_requests{cluster="c", node="n1", namespace="chat", pod="b", resource="cpu"}', "8x10"),
    (
        'kube_pod_container_resource_requests{cluster="c", node="n2", namespace="chat", pod="m", resource="nvidia_com_mig_3g_40gb"}',
        "1x10",
    ),
    ('up{cluster="c", namespace="chat", pod="a", job="llama"}', "1x10"),
    ('up{cluster="c", namespace="chat", pod="b", job="llama"}', "1x10"),
    ('up{cluster="c", namespace="chat", pod="m", job="llama-mig"}', "1x10"),
    ('DCGM_FI_DEV_GPU_UTIL{cluster="c", Hostname="n1", namespace="chat", pod="a", gpu="0"}', "60x10"),
    ('DCGM_FI_DEV_GPU_UTIL{cluster="c", Hostname="n1", namespace="chat", pod="b", gpu="1"}', "20x10"),
    ('kube_resourcequota{cluster="c", namespace="chat", resource="requests.nvidia.com/gpu", type="used"}', "3x10"),
    ('kube_resourcequota{cluster="c", namespace="chat", resource="requests.nvidia.com/gpu", type="hard"}', "12x10"),
]

EXPECTED = {
    "GPUs allocated per pool": [('{cluster="c", pool="gpu-h100-mig"}', 1), ('{cluster="c", pool="gpu-l40s"}', 3)],
    "Pool allocation": [('{cluster="c", pool="gpu-h100-mig"}', 0.0625), ('{cluster="c", pool="gpu-l40s"}', 0.75)],
    "GPU utilization per pool": [('{cluster="c", pool="gpu-l40s"}', 40)],
    "GPUs allocated per model": [('{job="llama"}', 3), ('{job="llama-mig"}', 1)],
    "GPU utilization per model": [('{job="llama"}', 40)],
    "GPU quota used per team": [('{cluster="c", namespace="chat"}', 0.25)],
    "GPU utilization per team": [('{cluster="c", namespace="chat"}', 40)],
}


def _concrete(expr: str) -> str:
    for variable in ("$cluster", "$model", "$namespace"):
        expr = expr.replace(variable, ".*")
    return expr


def test_joins_give_allocation_and_utilisation_per_pool_model_and_team(promtool, tmp_path):
    panels = {p["title"]: p["targets"][0]["expr"] for p in _dashboard()["panels"]}
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES],
                "promql_expr_test": [
                    {
                        "expr": _concrete(panels[title]),
                        "eval_time": "5m",
                        "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
                    }
                    for title, samples in EXPECTED.items()
                ],
            }
        ],
    }
    path = tmp_path / "fleet.test.yaml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
