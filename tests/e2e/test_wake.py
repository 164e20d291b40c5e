"""End to end: a request that arrives while a placement is at zero replicas waits for the wake-up.

One vLLM CPU server and vllm-router from PyPI, both started from the rendered manifests of the tiny
spec (tests/e2e/routing.py lists the substitutions: pod discovery becomes a static worker list). Two
routers front the server: one rendered for `replicas.min: 0` (its args carry the hold retries,
`kube.router.hold_retries`) and one rendered for `replicas.min: 1` (the router's default retries). The
server stops (the placement at zero) and both routers mark it unhealthy, as pod discovery drops a pod
that is gone. Then:

- control: the min-1 router answers a request 503 at once (5 tries, about 0.4 s);
- the min-0 router holds a request while the server starts again (the wake-up) and answers it 200,
  inside its retry window; every try it made meanwhile is counted in the error counter the wake-up
  trigger reads (error_type="no_available_workers").

Bounded waits throughout; loopback only; every process is stopped at the end.
"""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from inferstack.catalog.routers import RetryPolicy, router_for
from inferstack.kube.router import notice_seconds
from tests.e2e import routing
from tests.e2e.test_vllm_serving import VLLM_PYTHON, _get, _require, _stop

pytestmark = pytest.mark.e2e


def _unrouted(metrics_url: str) -> float:
    """The router's count of tries refused for want of a worker."""
    front = router_for("vllm")
    assert front is not None and front.metrics.unrouted is not None
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    lines = [line for line in text.splitlines() if line.startswith(front.metrics.errors + "{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if front.metrics.unrouted in line)


def _wait_unready(base: str, budget_seconds: float) -> None:
    """Until the router's /readiness answers 503: it holds no healthy worker."""
    started = time.monotonic()
    while time.monotonic() - started < budget_seconds:
        if _get(base + "/readiness")[0] == 503:
            return
        time.sleep(1)
    raise AssertionError(f"the router still held a healthy worker after {budget_seconds:.0f} s")


def test_a_request_at_zero_replicas_waits_for_the_wake_up(tmp_path):
    _require(VLLM_PYTHON, "the vLLM environment", "scripts/install-vllm.sh")
    _require(routing.ROUTER_BIN, "vllm-router", "scripts/install-router.sh")
    servers = routing.start_servers(tmp_path, count=1)
    processes = list(servers.processes)
    try:
        _, router = routing.rendered(tmp_path, "cache_aware", replicas_min=0)
        args = router["args"]
        value = lambda flag: args[args.index(flag) + 1]  # noqa: E731
        retry = RetryPolicy(
            int(value("--retry-max-retries")),
            int(value("--retry-initial-backoff-ms")),
            int(value("--retry-max-backoff-ms")),
            float(value("--retry-backoff-multiplier")),
            float(value("--retry-jitter-factor")),
        )
        # The retry window: every wait, no jitter (the rendered factor is 0).
        assert retry.jitter_factor == 0
        window = retry.total_wait_ms / 1000
        holding, hold_base, hold_metrics = routing.start_router(servers, "cache_aware", replicas_min=0)
        processes.append(holding)
        default, default_base, _ = routing.start_router(servers, "cache_aware", replicas_min=1)
        processes.append(default)
        assert routing.complete(hold_base, "warm up")[0] == 200

        # Scale to zero: the server stops and both routers notice.
        _stop(servers.processes[0])
        for base in (hold_base, default_base):
            _wait_unready(base, notice_seconds() + 15)

        # Control: today's default retries give up at once.
        status, seconds = routing.complete(default_base, "at zero " + "x " * 10, timeout=30)
        print(f"\ndefault retries: {status} after {seconds:.2f} s")
        assert status == 503 and seconds < 5

        # The wake-up: the held request is sent first, then the server starts again.
        refused_before = _unrouted(hold_metrics)
        with ThreadPoolExecutor(max_workers=1) as pool:
            held = pool.submit(routing.complete, hold_base, "at zero " + "x " * 10, 4, window + 60)
            time.sleep(3)
            servers.processes[0] = servers.start(0)
            processes.append(servers.processes[0])
            ready = servers.wait_ready(0)
            status, seconds = held.result(timeout=window + 120)
        refused = _unrouted(hold_metrics) - refused_before
        print(
            f"held request: {status} after {seconds:.1f} s (sent 3 s before the server started, which was ready "
            f"{ready:.1f} s later); {refused:.0f} of {retry.max_retries} tries refused meanwhile; retry window "
            f"{window:.1f} s"
        )
        assert status == 200
        assert ready < seconds < window
        # Each try while no worker was healthy counted an error: the wake-up trigger kept firing.
        assert 2 <= refused < retry.max_retries
    finally:
        for process in processes:
            _stop(process)
