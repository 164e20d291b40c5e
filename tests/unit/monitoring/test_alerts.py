import subprocess

import yaml

from inferstack.monitoring import prometheus_rule, rules_file
from inferstack.plan import plan as make_plan
from tests.conftest import spec_variant
from tests.unit.monitoring.conftest import engine_plan

RUNBOOK = "https://github.com/inferstack/inferstack/blob/main/docs/runbooks.md#"
ALL = {
    "InferenceTTFTP95High",
    "InferenceE2ELatencyP95High",
    "InferenceErrorRateHigh",
    "InferenceAvailabilityBurnFast",
    "InferenceAvailabilityBurnSlow",
    "InferenceTargetsAbsent",
    "InferenceRouterErrorRateHigh",
    "InferenceRouterNoWorkers",
    "InferenceKVCacheNearlyFull",
    "InferenceQueueBacklog",
    "InferencePreemptions",
    "InferenceGPUIdle",
}


def _rules(doc: dict) -> dict:
    return {rule["alert"]: rule for group in doc["groups"] for rule in group["rules"]}


def test_quickstart_alerts_from_slos(quickstart):
    rules = _rules(rules_file(quickstart))
    assert set(rules) == ALL
    assert rules["InferenceTTFTP95High"]["expr"] == (
        "histogram_quantile(0.95, sum by (le, cluster, placement) (rate(vllm:time_to_first_token_seconds_bucket"
        '{model_name="quickstart"}[5m]))) > 1.5'
    )
    assert rules["InferenceTTFTP95High"]["for"] == "10m"
    assert rules["InferenceE2ELatencyP95High"]["expr"].endswith(" > 20")
    assert rules["InferenceErrorRateHigh"]["expr"].endswith(") > 0.01")
    assert rules["InferenceAvailabilityBurnFast"]["expr"] == (
        '(1 - avg by (cluster, placement) (avg_over_time(up{job="quickstart"}[1h]))) > (14.4 * 0.005) and '
        '(1 - avg by (cluster, placement) (avg_over_time(up{job="quickstart"}[5m]))) > (14.4 * 0.005)'
    )
    assert (
        "[6h]" in rules["InferenceAvailabilityBurnSlow"]["expr"]
        and "(6 * 0.005)" in rules["InferenceAvailabilityBurnSlow"]["expr"]
    )
    assert rules["InferenceKVCacheNearlyFull"]["for"] == "15m"
    assert (
        rules["InferenceQueueBacklog"]["expr"]
        == 'avg by (cluster, placement) (vllm:num_requests_waiting{model_name="quickstart"}) > 4'
    )
    assert rules["InferenceGPUIdle"] == {
        **rules["InferenceGPUIdle"],
        "for": "1h",
        "expr": 'avg by (cluster, namespace, pod) (DCGM_FI_DEV_GPU_UTIL{namespace="quickstart"}) < 5',
    }
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["labels"]["model"] == "quickstart"
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == RUNBOOK + name.lower()


def test_slo_values_flow_into_thresholds(example_plans):
    for plan in example_plans:
        slo = plan.spec.slo
        rules = _rules(rules_file(plan))
        assert rules["InferenceTTFTP95High"]["expr"].endswith(f" > {slo.ttft_p95_ms / 1000:.10g}")
        assert rules["InferenceE2ELatencyP95High"]["expr"].endswith(f" > {slo.e2e_p95_ms / 1000:.10g}")
        assert rules["InferenceErrorRateHigh"]["expr"].endswith(f" > {slo.error_rate:.10g}")
        assert f"(14.4 * {1 - slo.availability:.10g})" in rules["InferenceAvailabilityBurnFast"]["expr"]


def test_engines_without_a_metric_drop_its_alert():
    tgi = set(_rules(rules_file(engine_plan("tgi"))))
    assert {"InferenceTTFTP95High", "InferenceKVCacheNearlyFull", "InferencePreemptions"}.isdisjoint(tgi)
    assert {"InferenceE2ELatencyP95High", "InferenceErrorRateHigh", "InferenceQueueBacklog"} <= tgi
    trt = set(_rules(rules_file(engine_plan("trtllm"))))
    assert {"InferenceQueueBacklog", "InferenceKVCacheNearlyFull"}.isdisjoint(trt)
    assert "InferenceTTFTP95High" in trt
    tgi_rules = _rules(rules_file(engine_plan("tgi")))
    assert 'tgi_request_duration_bucket{job="quickstart"}' in tgi_rules["InferenceE2ELatencyP95High"]["expr"]


def test_prometheus_rule_wraps_the_same_groups(quickstart):
    rule = prometheus_rule(quickstart)
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["namespace"] == "quickstart"
    assert rule["spec"]["groups"] == rules_file(quickstart)["groups"]
    assert [g["name"] for g in rule["spec"]["groups"]] == [
        "inferstack.quickstart.slo",
        "inferstack.quickstart.router",
        "inferstack.quickstart.saturation",
        "inferstack.quickstart.waste",
    ]


def test_promtool_check_rules(example_plans, promtool, tmp_path):
    for plan in example_plans:
        path = tmp_path / f"{plan.spec.name}.rules.yaml"
        path.write_text(yaml.safe_dump(rules_file(plan), sort_keys=False))
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(_rules(rules_file(plan)))} rules found" in result.stdout


def test_every_runbook_link_has_a_section():
    import re

    from inferstack.monitoring import prometheus_rule
    from inferstack.plan import plan
    from inferstack.spec import load_spec
    from tests.conftest import EXAMPLE_SPECS, ROOT

    text = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = {heading.lower() for heading in re.findall(r"^## (\w+)$", text, flags=re.M)}
    for spec in EXAMPLE_SPECS:
        for group in prometheus_rule(plan(load_spec(spec)))["spec"]["groups"]:
            for rule in group["rules"]:
                url = rule["annotations"]["runbook_url"]
                assert url.endswith("docs/runbooks.md#" + rule["alert"].lower())
                assert rule["alert"].lower() in anchors, rule["alert"]


def test_inter_token_latency_alert_only_when_the_spec_sets_its_slo():
    from inferstack.monitoring import prometheus_rule
    from inferstack.plan import plan
    from inferstack.spec import load_spec
    from tests.conftest import SPECS

    def alerts(name):
        rule = prometheus_rule(plan(load_spec(SPECS / name)))
        return {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}

    assert "InferenceITLP95High" not in alerts("quickstart.yaml")
    itl = alerts("aws-llama-8b-us.yaml")["InferenceITLP95High"]
    assert itl["expr"] == (
        "histogram_quantile(0.95, sum by (le, cluster, placement) "
        '(rate(vllm:inter_token_latency_seconds_bucket{model_name="llama-3.1-8b"}[5m]))) > 0.06'
    )
    assert itl["for"] == "10m" and itl["labels"]["severity"] == "warning"


def test_router_alerts_read_the_routers_own_series(quickstart):
    rules = _rules(rules_file(quickstart))
    assert rules["InferenceRouterErrorRateHigh"]["expr"] == (
        '(sum by (cluster, placement) (rate(vllm_router_request_errors_total{job="quickstart-router"}[5m])) / '
        'sum by (cluster, placement) (rate(vllm_router_requests_total{job="quickstart-router"}[5m]))) > 0.01'
    )
    assert rules["InferenceRouterNoWorkers"]["expr"] == (
        'max by (cluster, placement) (vllm_router_active_workers{job="quickstart-router"}) == 0'
    )
    assert (rules["InferenceRouterErrorRateHigh"]["for"], rules["InferenceRouterNoWorkers"]["for"]) == ("10m", "5m")


def test_no_router_alerts_without_a_router():
    names = set(_rules(rules_file(make_plan(spec_variant("quickstart", {"routing": {"enabled": False}})))))
    assert names == ALL - {"InferenceRouterErrorRateHigh", "InferenceRouterNoWorkers"}
    assert not {n for n in _rules(rules_file(engine_plan("tgi"))) if n.startswith("InferenceRouter")}


def test_scaling_from_zero_drops_the_alerts_that_expect_a_replica():
    spec = spec_variant("quickstart", {"placements": {0: {"replicas": {"min": 0, "max": 2}}}})
    names = set(_rules(rules_file(make_plan(spec))))
    assert names == ALL - {"InferenceTargetsAbsent", "InferenceRouterNoWorkers"}
