"""`promtool test rules` on the quickstart's alerts: synthetic series that breach each alert must fire
it with exactly the expected labels, and healthy series must fire nothing."""

import subprocess

import yaml

from inferstack.monitoring import rules_file

SERVED, NAMESPACE, CLUSTER, PLACEMENT, POD = (
    "quickstart",
    "quickstart",
    "quickstart-us-central",
    "us-central",
    "quickstart-us-central-0",
)
LABELS = f'model_name="{SERVED}", job="{SERVED}", namespace="{NAMESPACE}", cluster="{CLUSTER}", placement="{PLACEMENT}", pod="{POD}"'
#: The router's series: its own job and pod, the placement's labels (monitoring.scrape.router_pod_monitor).
ROUTER_LABELS = (
    f'job="{SERVED}-router", namespace="{NAMESPACE}", cluster="{CLUSTER}", placement="{PLACEMENT}", '
    f'pod="{SERVED}-router-0"'
)
BUCKETS = ("0.5", "1", "2.5", "5", "10", "20", "30", "60", "+Inf")
STEPS = 90  # samples one minute apart


def _histogram(name: str, slow_from: str | None) -> list[dict]:
    """10 requests/minute, all at or under `slow_from` (bucket le), or all under 0.5s when None."""
    series = []
    for le in BUCKETS:
        fast = slow_from is None or float(le) >= float(slow_from)
        series.append({"series": f'{name}_bucket{{{LABELS}, le="{le}"}}', "values": f"0+{10 if fast else 0}x{STEPS}"})
    series.append({"series": f"{name}_count{{{LABELS}}}", "values": f"0+10x{STEPS}"})
    return series


def _series(**breach) -> list[dict]:
    """Healthy series for every signal, with the named ones breaching."""
    series = _histogram("vllm:time_to_first_token_seconds", "2.5" if breach.get("ttft") else None)
    series += _histogram("vllm:e2e_request_latency_seconds", "30" if breach.get("e2e") else None)
    failed = 5 if breach.get("errors") else 0
    series.append(
        {
            "series": f'vllm:request_success_total{{{LABELS}, finished_reason="stop"}}',
            "values": f"0+{10 - failed}x{STEPS}",
        }
    )
    series.append(
        {"series": f'vllm:request_success_total{{{LABELS}, finished_reason="error"}}', "values": f"0+{failed}x{STEPS}"}
    )
    if not breach.get("absent"):
        series.append({"series": f"up{{{LABELS}}}", "values": f"{0 if breach.get('down') else 1}x{STEPS}"})
    series.append(
        {"series": f"vllm:kv_cache_usage_perc{{{LABELS}}}", "values": f"{0.95 if breach.get('kv') else 0.5}x{STEPS}"}
    )
    series.append(
        {"series": f"vllm:num_requests_waiting{{{LABELS}}}", "values": f"{12 if breach.get('queue') else 1}x{STEPS}"}
    )
    series.append(
        {
            "series": f"vllm:num_preemptions_total{{{LABELS}}}",
            "values": f"0+{3 if breach.get('preempt') else 0}x{STEPS}",
        }
    )
    route = f'{ROUTER_LABELS}, route="/v1/chat/completions"'
    series.append({"series": f"vllm_router_requests_total{{{route}}}", "values": f"0+10x{STEPS}"})
    router_failed = 5 if breach.get("router_errors") else 0
    series.append(
        {
            "series": f'vllm_router_request_errors_total{{{route}, error_type="no_available_workers"}}',
            "values": f"0+{router_failed}x{STEPS}",
        }
    )
    workers = 0 if breach.get("no_workers") else 2
    series.append({"series": f"vllm_router_active_workers{{{ROUTER_LABELS}}}", "values": f"{workers}x{STEPS}"})
    gpu = f'DCGM_FI_DEV_GPU_UTIL{{namespace="{NAMESPACE}", pod="{POD}", cluster="{CLUSTER}", gpu="0"}}'
    series.append({"series": gpu, "values": f"{1 if breach.get('idle') else 80}x{STEPS}"})
    return series


def _alert(name: str, severity: str, **extra) -> dict:
    return {"exp_labels": {"alertname": name, "severity": severity, "model": SERVED, **extra}}


PLACED = {"cluster": CLUSTER, "placement": PLACEMENT}
WHERE = f"{SERVED} in {PLACEMENT} ({CLUSTER})"
#: alert -> (breach, eval time, expected labels, expected description as promtool renders it)
CASES = {
    "InferenceTTFTP95High": (
        {"ttft": True},
        "20m",
        _alert("InferenceTTFTP95High", "warning", **PLACED),
        f"p95 TTFT of {WHERE} is 2.425s, above the SLO of 1.5s for 10 minutes.",
    ),
    "InferenceE2ELatencyP95High": (
        {"e2e": True},
        "20m",
        _alert("InferenceE2ELatencyP95High", "warning", **PLACED),
        f"p95 end-to-end latency of {WHERE} is 29.5s, above the SLO of 20s for 10 minutes.",
    ),
    "InferenceErrorRateHigh": (
        {"errors": True},
        "20m",
        _alert("InferenceErrorRateHigh", "critical", **PLACED),
        f"50% of {SERVED}'s requests in {PLACEMENT} ({CLUSTER}) failed over 10 minutes; the SLO allows 1%.",
    ),
    "InferenceAvailabilityBurnFast": (
        {"down": True},
        "10m",
        _alert("InferenceAvailabilityBurnFast", "critical", **PLACED),
        f"{WHERE} was unavailable more than 14.4x the budget of the 99.5% availability SLO over both 1h and 5m.",
    ),
    "InferenceAvailabilityBurnSlow": (
        {"down": True},
        "20m",
        _alert("InferenceAvailabilityBurnSlow", "critical", **PLACED),
        f"{WHERE} was unavailable more than 6x the budget of the 99.5% availability SLO over both 6h and 30m.",
    ),
    "InferenceTargetsAbsent": (
        {"absent": True},
        "20m",
        _alert("InferenceTargetsAbsent", "critical", job=SERVED),
        f"Prometheus has no scrape target for {SERVED} although every placement keeps at least "
        "one replica: pods are gone, or the PodMonitor no longer matches them.",
    ),
    "InferenceRouterErrorRateHigh": (
        {"router_errors": True},
        "20m",
        _alert("InferenceRouterErrorRateHigh", "critical", **PLACED),
        f"vllm-router recorded errors (failed attempts, retries included) worth 50% of the requests it routed for "
        f"{WHERE} over 10 minutes.",
    ),
    "InferenceRouterNoWorkers": (
        {"no_workers": True},
        "10m",
        _alert("InferenceRouterNoWorkers", "critical", **PLACED),
        f"vllm-router in {PLACEMENT} ({CLUSTER}) has had no worker for 5 minutes although the placement keeps "
        "replicas: pod discovery (its Role, the labels) or the replicas' health checks are failing.",
    ),
    "InferenceKVCacheNearlyFull": (
        {"kv": True},
        "20m",
        _alert("InferenceKVCacheNearlyFull", "warning", pod=POD, **PLACED),
        f"KV cache of {POD} in {PLACEMENT} is 95% full for 15 minutes; requests will queue or be preempted.",
    ),
    "InferenceQueueBacklog": (
        {"queue": True},
        "20m",
        _alert("InferenceQueueBacklog", "warning", **PLACED),
        f"{SERVED} in {PLACEMENT} has 12 waiting requests per replica (more than 4) for 10 "
        "minutes: the autoscaler is at its maximum or cannot get GPUs.",
    ),
    "InferencePreemptions": (
        {"preempt": True},
        "20m",
        _alert("InferencePreemptions", "warning", pod=POD, **PLACED),
        f"{POD} in {PLACEMENT} preempts 0.05 requests/s for 15 minutes: the KV cache is too small for the load.",
    ),
    "InferenceGPUIdle": (
        {"idle": True},
        "70m",
        _alert("InferenceGPUIdle", "info", cluster=CLUSTER, namespace=NAMESPACE, pod=POD),
        f"GPUs of {POD} ({CLUSTER}) averaged 1% utilization for an hour: lower replicas.min or "
        "move the model to a smaller GPU.",
    ),
}


def _test_file(rules: dict, cases) -> dict:
    by_name = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    alert_names = set(by_name)
    tests = [
        {
            "name": "healthy series fire nothing",
            "interval": "1m",
            "input_series": _series(),
            "alert_rule_test": [
                {"eval_time": t, "alertname": name, "exp_alerts": []}
                for t in ("10m", "20m", "70m")
                for name in sorted(alert_names)
            ],
        }
    ]
    for name, (breach, at, expected, description) in cases.items():
        static = by_name[name]["annotations"]
        expected = {
            **expected,
            "exp_annotations": {
                "summary": static["summary"],
                "runbook_url": static["runbook_url"],
                "description": description,
            },
        }
        tests.append(
            {
                "name": f"{name} fires",
                "interval": "1m",
                "input_series": _series(**breach),
                "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": [expected]}],
            }
        )
    return {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}


def _run(promtool, tmp_path, plan, cases):
    rules = rules_file(plan)
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(_test_file(rules, cases), sort_keys=False))
    return names, subprocess.run([promtool, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True)


def test_each_alert_fires_on_breach_and_not_when_healthy(quickstart, promtool, tmp_path):
    names, result = _run(promtool, tmp_path, quickstart, CASES)
    assert names == set(CASES), "every alert needs a breach case"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_harness_catches_wrong_expectations(quickstart, promtool, tmp_path):
    breach, at, expected, description = CASES["InferenceTTFTP95High"]
    wrong = {
        "InferenceTTFTP95High": (
            breach,
            at,
            {"exp_labels": {**expected["exp_labels"], "severity": "critical"}},
            description,
        )
    }
    _, result = _run(promtool, tmp_path, quickstart, wrong)
    assert result.returncode != 0
    assert "InferenceTTFTP95High" in result.stdout + result.stderr
