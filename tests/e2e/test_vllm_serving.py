"""End to end with the real engine: the rendered vLLM workload serves, Prometheus scrapes it, and
every PromQL expression we ship returns data.

The vLLM command, arguments, environment, port and probe paths come from the rendered Deployment;
the only changes are the ones a pod's environment makes: the cache volume's mount path (/models) maps
to a local folder, the container's python is the vLLM environment's, the server binds to loopback on
a free port, and VLLM_CPU_KVCACHE_SPACE sizes the KV pool on this CPU-only machine. The scrape config
is made from the rendered PodMonitor (same path, port and labels, plus the target labels the
Prometheus operator adds). Processes are always stopped; only loopback addresses are used.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from inferstack.kube import placement_objects
from inferstack.monitoring import metric_names, parse, placement_monitoring, queries
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.conftest import ROOT

VLLM_PYTHON = ROOT / ".tools" / "vllm" / "bin" / "python"
TIMINGS = ROOT / "build" / "e2e-timings.json"
#: No GPU exporter runs here: queries on DCGM metrics are the one allowed exception.
NO_DATA_ALLOWED_PREFIX = "DCGM_"
COMPARISONS = {">", "<", ">=", "<=", "==", "!="}
SET_OPERATORS = {"and", "or", "unless"}

#: Runs `vllm serve` as the image's `vllm` console script does (see its docstring for the one difference).
VLLM_CLI = Path(__file__).with_name("vllm_cli.py")

pytestmark = pytest.mark.e2e


def _require(path: Path | None, what: str, script: str) -> None:
    if path is None or not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing: .ci/run must run {script}")
        pytest.skip(f"{what} not installed here; run {script}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


def _post(url: str, body: dict, timeout: float = 120) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until_healthy(base: str, path: str, budget_seconds: float, process: subprocess.Popen | None = None) -> float:
    """Seconds until GET path answers 200; AssertionError naming the path when the budget runs out."""
    start = time.monotonic()
    last = 0
    while time.monotonic() - start < budget_seconds:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with code {process.returncode} before {path} turned healthy")
        last, _ = _get(base + path)
        if last == 200:
            return time.monotonic() - start
        time.sleep(1)
    raise AssertionError(f"probe path {path} did not answer 200 within {budget_seconds:.0f} s (last status {last})")


def wait_for_series(prometheus: str, query: str, budget_seconds: float) -> float:
    """Seconds until an instant query returns at least one series."""
    start = time.monotonic()
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    while time.monotonic() - start < budget_seconds:
        status, body = _get(url)
        if status == 200 and json.loads(body)["data"]["result"]:
            return time.monotonic() - start
        time.sleep(1)
    raise AssertionError(f"Prometheus returned no series for {query} within {budget_seconds:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def make_tiny_model(root: Path) -> Path:
    """The tiny local model (tests/e2e/make_tiny_model.py, run by the vLLM environment's python) in
    `root/models/tiny`; returns that folder."""
    folder = root / "models" / "tiny"
    subprocess.run(
        [str(VLLM_PYTHON), str(Path(__file__).with_name("make_tiny_model.py")), str(folder)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder


def _tiny_spec(root: Path) -> Path:
    spec = {
        "name": "tiny",
        "model": {
            "source": "pvc://e2e-models/tiny",
            "config": "models/tiny/config.json",
            "served_name": "tiny-llama",
            "max_context": 256,
        },
        "engine": {"name": "vllm", "version": "0.32.0"},
        "resources": {"gpu": "L4:1"},
        "placements": [
            {
                "name": "local",
                "cloud": "kubernetes",
                "region": "us-east-1",
                "cluster": {
                    "kind": "existing",
                    "context": "e2e",
                    "prometheus_operator": True,
                    "prometheus_url": "http://127.0.0.1:9090",
                },
                "replicas": {"min": 1, "max": 2},
            }
        ],
        # The engine alone: tests/e2e/test_routing.py runs the router and checks its queries.
        "routing": {"enabled": False},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def server_command(container: dict, models_dir: Path, port: int) -> list[str]:
    """The rendered container command with a pod's substitutions applied, and only those: the image's
    `vllm` console script runs vLLM's CLI in the vLLM environment (through `VLLM_CLI`)."""
    scripts = {"python3": [str(VLLM_PYTHON)], "vllm": [str(VLLM_PYTHON), str(VLLM_CLI)]}
    command = [word for part in container["command"] for word in scripts.get(part, [part])]
    args = [
        arg.replace("/models", str(models_dir), 1) if arg.startswith("/models") else arg for arg in container["args"]
    ]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return command + args


def prometheus_config(pod_monitor: dict, target: str, container: str) -> dict:
    """A static scrape config equivalent to what the Prometheus operator makes of a PodMonitor."""
    endpoint = pod_monitor["spec"]["podMetricsEndpoints"][0]
    meta = pod_monitor["metadata"]
    relabel = [
        {"action": r["action"], "target_label": r["targetLabel"], "replacement": r["replacement"]}
        for r in endpoint.get("relabelings", [])
    ]
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": f"podMonitor/{meta['namespace']}/{meta['name']}/0",
                "metrics_path": endpoint["path"],
                "static_configs": [
                    {
                        "targets": [target],
                        "labels": {
                            "namespace": meta["namespace"],
                            "pod": f"{meta['namespace']}-0",
                            "container": container,
                            "endpoint": endpoint["port"],
                        },
                    }
                ],
                "relabel_configs": relabel,
            }
        ],
    }


def data_expressions(expr: str) -> list[str]:
    """The parts of an expression that must return series: comparisons against constants are
    reduced to their vector side, set operators to both sides, absent(x) to x."""
    import promql_parser

    def has_selector(node) -> bool:
        found = []
        promql_parser.walk(node, lambda n: found.append(n) if isinstance(n, promql_parser.VectorSelector) else None)
        return bool(found)

    def split(node) -> list[str]:
        if isinstance(node, promql_parser.ParenExpr) and isinstance(node.expr, promql_parser.BinaryExpr):
            return split(node.expr)
        if isinstance(node, promql_parser.BinaryExpr):
            op = str(node.op)
            if op in SET_OPERATORS:
                return split(node.lhs) + split(node.rhs)
            if op in COMPARISONS and not (node.modifier and node.modifier.return_bool):
                sides = [side for side in (node.lhs, node.rhs) if has_selector(side)]
                return [part for side in sides for part in split(side)]
        if isinstance(node, promql_parser.Call) and node.func.name in ("absent", "absent_over_time"):
            return split(node.args[0])
        return [str(node)]

    return split(parse(expr))


def grafana_concrete(expr: str) -> str:
    """Dashboard queries as Grafana sends them with 'All' selected: variables match anything."""
    for variable in ("$model", "$cluster", "$namespace"):
        expr = expr.replace(variable, ".*")
    return expr.replace("$__rate_interval", "1m")


def queries_without_data(prometheus: str, expressions: list[tuple[str, str]]) -> list[str]:
    """A line per expression part that returns no series, naming where it is used."""
    missing = []
    for where, expr in expressions:
        for part in data_expressions(grafana_concrete(expr)):
            url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": part})
            status, body = _get(url, timeout=30)
            result = json.loads(body) if status == 200 else {}
            if status != 200 or result.get("status") != "success":
                missing.append(f"{where}: query failed ({status}): {part}")
            elif not result["data"]["result"]:
                missing.append(f"{where}: no series: {part}")
    return missing


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _require(VLLM_PYTHON, "the vLLM environment", "scripts/install-vllm.sh")
    prometheus_bin = shutil.which("prometheus")
    _require(Path(prometheus_bin) if prometheus_bin else None, "prometheus", "scripts/install-prometheus.sh")
    root = tmp_path_factory.mktemp("e2e")
    timings: dict[str, float] = {}
    started = time.monotonic()
    make_tiny_model(root)
    timings["make_model_s"] = time.monotonic() - started

    result = plan(load_spec(_tiny_spec(root)))
    placement = result.placements[0]
    objects = placement_objects(result, placement) + placement_monitoring(result, placement.name)
    deployment = next(o for o in objects if (o["kind"], o["metadata"]["name"]) == ("Deployment", "tiny"))
    pod_monitor = next(o for o in objects if (o["kind"], o["metadata"]["name"]) == ("PodMonitor", "tiny-local"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = _free_port()
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}, "VLLM_CPU_KVCACHE_SPACE": "1"}
    env["HOME"] = env["XDG_CACHE_HOME"] = str(root / "home")
    env["HF_HOME"] = str(root / "hf-home")
    log = (root / "vllm.log").open("w")
    server = subprocess.Popen(
        server_command(container, root / "models", port),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes = [server]
    try:
        base = f"http://127.0.0.1:{port}"
        startup = container["startupProbe"]
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        timings["server_ready_s"] = wait_until_healthy(base, startup["httpGet"]["path"], budget, server)

        prom_port = _free_port()
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(pod_monitor, f"127.0.0.1:{port}", container["name"])))
        prometheus = subprocess.Popen(
            [
                prometheus_bin,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=(root / "prometheus.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(prometheus)
        prom = f"http://127.0.0.1:{prom_port}"
        wait_until_healthy(prom, "/-/ready", 60, prometheus)
        timings["first_scrape_s"] = wait_for_series(prom, f'up{{job="{result.spec.served_name}"}} == 1', 60)
        yield {
            "base": base,
            "prom": prom,
            "plan": result,
            "container": container,
            "timings": timings,
            "root": root,
            "budget": budget,
        }
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()
        TIMINGS.parent.mkdir(exist_ok=True)
        TIMINGS.write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=1))


def test_probes_and_model_listing(served):
    base, container = served["base"], served["container"]
    assert served["timings"]["server_ready_s"] < served["budget"]
    assert _get(base + container["readinessProbe"]["httpGet"]["path"])[0] == 200
    assert _get(base + container["livenessProbe"]["httpGet"]["path"])[0] == 200
    models = json.loads(_get(base + "/v1/models")[1])
    assert [m["id"] for m in models["data"]] == ["tiny-llama"]


def test_completion_and_chat(served):
    base = served["base"]
    completion = _post(base + "/v1/completions", {"model": "tiny-llama", "prompt": "Hello world", "max_tokens": 8})
    assert completion["choices"][0]["text"] is not None and completion["usage"]["completion_tokens"] >= 1
    chat = _post(
        base + "/v1/chat/completions",
        {"model": "tiny-llama", "max_tokens": 8, "messages": [{"role": "user", "content": "How are you?"}]},
    )
    assert chat["choices"][0]["message"]["role"] == "assistant"


def test_every_shipped_query_returns_data(served):
    base, prom, timings = served["base"], served["prom"], served["timings"]
    started = time.monotonic()
    prompts = [f"Serving request {i}: the quick brown fox" for i in range(24)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(
            pool.map(
                lambda p: _post(base + "/v1/completions", {"model": "tiny-llama", "prompt": p, "max_tokens": 24}),
                prompts,
            )
        )
    timings["burst_s"] = time.monotonic() - started
    started = time.monotonic()
    wait_for_series(prom, f"sum(vllm:request_success_total) >= {len(prompts)}", 60)
    time.sleep(3)  # a few more scrapes so every rate() window holds two samples after the burst
    timings["scrape_s"] = time.monotonic() - started

    started = time.monotonic()
    expressions = queries(served["plan"])
    gpu = [(w, e) for w, e in expressions if any(n.startswith(NO_DATA_ALLOWED_PREFIX) for n in metric_names(e))]
    engine = [(w, e) for w, e in expressions if (w, e) not in gpu]
    missing = queries_without_data(prom, engine)
    timings["queries_s"] = time.monotonic() - started
    timings["queries_checked"] = len(engine)
    assert missing == [], "\n".join(missing)
    assert len(engine) >= 30
    assert [w for w, _ in gpu] == [
        "alert:InferenceGPUIdle",
        "dashboard:inferstack-gpu/GPU utilization/A",
        "dashboard:inferstack-gpu/GPU memory used/A",
        "dashboard:inferstack-gpu/GPU memory used (fraction)/A",
        "dashboard:inferstack-gpu/GPU power/A",
        "dashboard:inferstack-gpu/Mean GPU utilization/A",
        "dashboard:inferstack-fleet/GPU utilization/A",
    ]


def test_a_wrong_metric_name_is_reported_by_name(served):
    broken = [("dashboard:test/Queue depth/A", 'sum(vllm:num_requests_waitin{model_name=~"$model"})')]
    assert queries_without_data(served["prom"], broken) == [
        'dashboard:test/Queue depth/A: no series: sum(vllm:num_requests_waitin{model_name=~".*"})'
    ]


def test_a_wrong_probe_path_is_reported_by_path(served):
    with pytest.raises(AssertionError, match=r"probe path /healthz did not answer 200 within 3 s \(last status 404\)"):
        wait_until_healthy(served["base"], "/healthz", 3)
