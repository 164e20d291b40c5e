"""End to end with the real router: two vLLM CPU servers and vllm-router from PyPI, all started from
the rendered manifests (tests/e2e/routing.py lists the substitutions).

- The rendered router arguments, pod discovery included, are accepted by the real router, which then
  answers its liveness path, refuses traffic while it holds no worker, and counts those refusals
  under the names the scale-from-zero trigger reads.
- A shared-prefix multi-conversation workload reaches a higher prefix-cache hit rate (vLLM's own
  counters) under the rendered cache_aware policy than under round_robin.
- Stopping one replica mid-run loses no request once the router has noticed: the bounded window is
  `kube.router.notice_seconds()` (3 health checks 10 s apart, 5 s timeout each = 45 s); inside it the
  router's retries (5 by default) carry requests to the other replica.
- API keys: vllm-router cannot check its clients' keys (its `--api-key` is the key it sends to the
  workers; catalog/data/routers.yaml `checks_client_keys: false`), so no key test runs here.
"""

from __future__ import annotations

import time
import urllib.request

import pytest

from inferstack.catalog.routers import router_for
from inferstack.kube.router import notice_seconds
from inferstack.monitoring import metric_names, queries
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.e2e import routing
from tests.e2e.test_vllm_serving import VLLM_PYTHON, _free_port, _require, _stop, wait_until_healthy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    _require(VLLM_PYTHON, "the vLLM environment", "scripts/install-vllm.sh")
    _require(routing.ROUTER_BIN, "vllm-router", "scripts/install-router.sh")
    servers = routing.start_servers(tmp_path_factory.mktemp("routing"))
    yield servers
    servers.stop()


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_the_rendered_router_arguments_run_the_real_router(servers, tmp_path):
    _, router = routing.rendered(servers.root, "cache_aware")
    port, metrics_port = _free_port(), _free_port()
    args = list(router["args"])
    # Loopback and free ports; pod discovery stays: without an API server the router says so and serves.
    for flag, value in (("--host", "127.0.0.1"), ("--port", port), ("--prometheus-host", "127.0.0.1")):
        args[args.index(flag) + 1] = str(value)
    args[args.index("--prometheus-port") + 1] = str(metrics_port)
    process = routing.start([str(routing.ROUTER_BIN), *args], tmp_path / "router.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, router["livenessProbe"]["httpGet"]["path"], 60, process)
        status, _ = routing.complete(base, "hi")
        assert status == 503
        front = router_for("vllm")
        assert front is not None and front.metrics.unrouted is not None
        text = _text(f"http://127.0.0.1:{metrics_port}/metrics")
        assert f"{front.metrics.errors}{{" in text and front.metrics.unrouted in text
        assert f"{front.metrics.workers} 0" in text
    finally:
        _stop(process)
    assert "Failed to start service discovery" in (tmp_path / "router.log").read_text()


def test_cache_aware_routing_raises_the_prefix_cache_hit_rate(servers):
    results, metrics_text = {}, ""
    for policy in ("round_robin", "cache_aware"):
        process, base, metrics = routing.start_router(servers, policy)
        try:
            results[policy] = routing.shared_prefix_workload(servers, base, policy)
            metrics_text = _text(metrics)
        finally:
            _stop(process)
    aware, robin = results["cache_aware"], results["round_robin"]
    print(f"\nprefix hit rate: cache_aware {aware.hit_rate:.1%}, round_robin {robin.hit_rate:.1%}")
    assert (aware.failed, robin.failed) == (0, 0)
    assert aware.requests == robin.requests == 28
    assert aware.hit_rate > robin.hit_rate + 0.10
    # Every router series the dashboards and alerts read is one the real router exports.
    front = router_for("vllm")
    assert front is not None
    result = plan(load_spec(routing.spec_file(servers.root, "cache_aware")))
    read = {name for _, expr in queries(result) for name in metric_names(expr) if name.startswith("vllm_router_")}
    assert read == {
        front.metrics.requests,
        front.metrics.errors,
        front.metrics.workers,
        f"{front.metrics.duration}_bucket",
    }
    exported = {line.split("{")[0].split(" ")[0] for line in metrics_text.splitlines() if line and line[0] != "#"}
    # The error counter appears with the first error; the workload had none.
    assert read - {front.metrics.errors} <= exported


def test_stopping_a_replica_loses_no_request_once_the_router_notices(servers):
    process, base, _ = routing.start_router(servers, "cache_aware")
    window = notice_seconds()
    outcomes: list[tuple[float, int]] = []
    stopped_at = None
    try:
        started = time.monotonic()
        n = 0
        while True:
            now = time.monotonic()
            if stopped_at is None and now - started > 5:
                _stop(servers.processes[1])
                stopped_at = time.monotonic()
            if stopped_at is not None and now - stopped_at > window + 10:
                break
            status, _ = routing.complete(base, f"request {n} " + "x " * 20, timeout=30)
            outcomes.append((now - (stopped_at or now), status))
            n += 1
    finally:
        _stop(process)
    assert stopped_at is not None
    lost_inside = [t for t, status in outcomes if status != 200 and t <= window]
    lost_after = [t for t, status in outcomes if status != 200 and t > window]
    print(f"\n{len(outcomes)} requests; lost within the {window} s window: {len(lost_inside)}, after it: 0")
    assert lost_after == []
    assert len([t for t, _ in outcomes if t > window]) >= 5
