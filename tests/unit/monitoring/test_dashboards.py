import json

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from inferstack.monitoring import engine_dashboard, fleet_dashboard, gpu_dashboard, grafana_configmap
from tests.unit.monitoring.conftest import engine_plan


def _roundtrip(d: dict) -> dict:
    return json.loads(json.dumps(Dashboard.from_json(d), cls=JSONEncoder))


def _variables(d: dict) -> dict:
    return {v["name"]: v for v in d["templating"]["list"]}


def _panels(d: dict) -> dict:
    return {p["title"]: p for p in d["panels"]}


def _all_dashboards(plans):
    yield gpu_dashboard()
    yield fleet_dashboard(plans)
    for plan in plans:
        yield engine_dashboard(plan)


def test_every_dashboard_roundtrips_and_has_the_variables(example_plans):
    uids = set()
    for d in _all_dashboards(example_plans):
        assert _roundtrip(d) == d, d["uid"]
        variables = _variables(d)
        assert {"datasource", "cluster", "namespace", "model"} <= set(variables), d["uid"]
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), d["uid"]
        for panel in d["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["fieldConfig"]["defaults"]["unit"]
            assert panel["targets"], panel["title"]
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        assert len(d["uid"]) <= 40
        uids.add(d["uid"])
    assert len(uids) == len(example_plans) + 2


def test_engine_dashboard_panels_units_and_slo_thresholds(quickstart):
    d = engine_dashboard(quickstart)
    panels = _panels(d)
    assert list(panels) == [
        "TTFT p95",
        "End-to-end p95",
        "Replicas up",
        "KV cache (fullest replica)",
        "Requests per second",
        "Time to first token",
        "Inter-token latency",
        "End-to-end latency p95",
        "Tokens per second",
        "Queue depth",
        "Running requests",
        "KV cache usage",
        "Preemptions",
        "Error rate",
        "Router: requests per second",
        "Router: latency p95",
        "Router: error rate",
        "Router: replicas routed to",
    ]
    ttft = panels["Time to first token"]
    assert ttft["type"] == "timeseries"
    assert ttft["fieldConfig"]["defaults"]["unit"] == "s"
    assert ttft["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"value": None, "color": "green"},
        {"value": 1.5, "color": "red"},
    ]
    assert [t["expr"] for t in ttft["targets"]] == [
        f"histogram_quantile({q}, sum by (le, cluster, placement) (rate(vllm:time_to_first_token_seconds_bucket"
        '{model_name=~"$model", cluster=~"$cluster", namespace=~"$namespace"}[$__rate_interval])))'
        for q in ("0.5", "0.95")
    ]
    assert panels["End-to-end latency p95"]["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 20
    assert panels["Error rate"]["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 0.01
    kv = panels["KV cache (fullest replica)"]
    assert kv["type"] == "gauge"
    assert (kv["fieldConfig"]["defaults"]["unit"], kv["fieldConfig"]["defaults"]["max"]) == ("percentunit", 1)
    assert panels["Tokens per second"]["fieldConfig"]["defaults"]["unit"] == "suffix: tok/s"
    assert _variables(d)["model"]["current"]["value"] == "quickstart"
    assert d["uid"] == "inferstack-quickstart"


def test_router_panels_read_the_routers_series(quickstart):
    panels = _panels(engine_dashboard(quickstart))
    sel = 'job=~"$model-router", cluster=~"$cluster", namespace=~"$namespace"'
    assert [t["expr"] for t in panels["Router: requests per second"]["targets"]] == [
        f"sum by (cluster, placement) (rate(vllm_router_requests_total{{{sel}}}[$__rate_interval]))"
    ]
    assert [t["expr"] for t in panels["Router: latency p95"]["targets"]] == [
        "histogram_quantile(0.95, sum by (le, cluster, placement) "
        f"(rate(vllm_router_generate_duration_seconds_bucket{{{sel}}}[$__rate_interval])))"
    ]
    assert [t["expr"] for t in panels["Router: error rate"]["targets"]] == [
        f"sum by (cluster, placement) (rate(vllm_router_request_errors_total{{{sel}}}[$__rate_interval])) / "
        f"sum by (cluster, placement) (rate(vllm_router_requests_total{{{sel}}}[$__rate_interval]))"
    ]
    assert [t["expr"] for t in panels["Router: replicas routed to"]["targets"]] == [
        f"max by (cluster, placement) (vllm_router_active_workers{{{sel}}})"
    ]
    assert panels["Router: latency p95"]["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 20
    assert panels["Router: error rate"]["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 0.01


def test_no_router_panels_without_a_router():
    assert not [t for t in _panels(engine_dashboard(engine_plan("tgi"))) if t.startswith("Router")]


def test_engine_dashboard_skips_panels_the_engine_lacks():
    titles = set(_panels(engine_dashboard(engine_plan("tgi"))))
    assert {
        "TTFT p95",
        "Time to first token",
        "KV cache usage",
        "KV cache (fullest replica)",
        "Tokens per second",
        "Preemptions",
    }.isdisjoint(titles)
    assert {"Queue depth", "Running requests", "End-to-end latency p95", "Error rate"} <= titles
    trt = set(_panels(engine_dashboard(engine_plan("trtllm"))))
    assert {"Queue depth", "Running requests", "KV cache usage"}.isdisjoint(trt)
    assert "Time to first token" in trt


def test_gpu_dashboard_uses_dcgm():
    panels = _panels(gpu_dashboard())
    assert panels["GPU utilization"]["fieldConfig"]["defaults"]["unit"] == "percent"
    assert panels["GPU memory used"]["fieldConfig"]["defaults"]["unit"] == "mbytes"
    assert panels["GPU power"]["fieldConfig"]["defaults"]["unit"] == "watt"
    assert "DCGM_FI_DEV_FB_FREE" in panels["GPU memory used (fraction)"]["targets"][0]["expr"]


def test_fleet_dashboard_spans_engines_and_models(quickstart):
    d = fleet_dashboard([quickstart, engine_plan("sglang")])
    rps = _panels(d)["Requests per second"]
    exprs = [t["expr"] for t in rps["targets"]]
    assert len(exprs) == 2
    assert "vllm:request_success_total" in exprs[0] and "sglang:num_requests_total" in exprs[1]
    assert [t["refId"] for t in rps["targets"]] == ["A", "B"]
    assert _variables(d)["model"]["query"] == "quickstart"
    with pytest.raises(ValueError):
        fleet_dashboard([])


def test_grafana_configmap():
    d = gpu_dashboard()
    cm = grafana_configmap("inferstack-gpu", "monitoring", d, folder="inferstack")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "inferstack"}
    assert json.loads(cm["data"]["inferstack-gpu.json"]) == d
