"""Two real vLLM CPU servers behind the real vLLM router, both started from the rendered manifests.

Shared by tests/e2e/test_routing.py and benchmarks/routing.py. The servers run the rendered serving
container's command, arguments and environment (through `test_vllm_serving.server_command`, with the
same pod substitutions); the router runs the rendered router container's command and arguments with
these substitutions only:

- Kubernetes pod discovery (`--service-discovery`, `--selector ...`, `--service-discovery-port`,
  `--service-discovery-namespace`) becomes a static `--worker-urls` list of the two local servers:
  there is no API server here to list pods from;
- the router and its metrics bind to loopback on free ports instead of 0.0.0.0 and the pod's ports;
- the image's `vllm-router` binary is the PyPI package's `vllm-router` console script (same flags).

The workload: conversations that each open with their own long system prompt (the shared prefix)
and then take turns (`shared_prefix_workload`). Prefix-cache hits and queries are read from each server's own counters
(`vllm:prefix_cache_hits_total`, `vllm:prefix_cache_queries_total`, in tokens) before and after.
Only loopback addresses are used; every process is stopped at the end.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from inferstack.kube import placement_objects
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.conftest import ROOT
from tests.e2e.test_vllm_serving import (
    _free_port,
    _stop,
    _tiny_spec,
    make_tiny_model,
    server_command,
    wait_until_healthy,
)

ROUTER_BIN = ROOT / ".tools" / "vllm-router" / "bin" / "vllm-router"
MODEL = "tiny-llama"
#: Pod discovery flags and how many values each takes (`--selector` takes every key=value that follows).
DISCOVERY_FLAGS = ("--service-discovery", "--selector", "--service-discovery-port", "--service-discovery-namespace")
#: Words of the system prompts. vLLM's CPU backend caches prefixes in whole blocks of 128 tokens
#: (vllm/platforms/cpu.py, its default block size), so a conversation's prompt spans a few blocks.
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


def spec_file(root: Path, policy: str, replicas_min: int = 2) -> Path:
    """The engine-only e2e's tiny spec (`test_vllm_serving._tiny_spec`) behind the router with `policy`:
    `replicas_min` to two replicas, and the tiny model's whole 512-token context for multi-turn prompts."""
    spec = yaml.safe_load(_tiny_spec(root).read_text())
    spec["model"]["max_context"] = 512
    spec["placements"][0]["replicas"] = {"min": replicas_min, "max": 2}
    spec["routing"] = {"policy": policy}
    path = root / f"tiny-{policy}-min{replicas_min}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def rendered(root: Path, policy: str, replicas_min: int = 2) -> tuple[dict, dict]:
    """(serving container, router container) of the rendered placement."""
    result = plan(load_spec(spec_file(root, policy, replicas_min)))
    objects = placement_objects(result, result.placements[0])
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    container = lambda name: deployments[name]["spec"]["template"]["spec"]["containers"][0]  # noqa: E731
    return container("tiny"), container("tiny-router")


def router_command(router: dict, workers: list[str], port: int, metrics_port: int) -> list[str]:
    """The rendered router command and arguments with the substitutions the module docstring lists."""
    args, out, i = router["args"], [], 0
    while i < len(args):
        arg = args[i]
        if arg in DISCOVERY_FLAGS:
            i += 1
            while i < len(args) and not args[i].startswith("--"):
                i += 1
            continue
        out.append(arg)
        i += 1
    for flag, value in (("--host", "127.0.0.1"), ("--port", port), ("--prometheus-host", "127.0.0.1")):
        out[out.index(flag) + 1] = str(value)
    out[out.index("--prometheus-port") + 1] = str(metrics_port)
    assert router["command"] == ["vllm-router"], router["command"]
    return [str(ROUTER_BIN), *out, "--worker-urls", *workers]


def start(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


@dataclass
class Servers:
    """Two vLLM servers started from the rendered serving container."""

    root: Path
    ports: list[int]
    processes: list[subprocess.Popen]
    container: dict
    timings: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    def start(self, n: int) -> subprocess.Popen:
        """Start server `n` on its port from the rendered container (again, after `stop`)."""
        command = server_command(self.container, self.root / "models", self.ports[n])
        return start(command, self.root / f"vllm-{n}.log", self.env)

    def wait_ready(self, n: int, budget_seconds: float = 600) -> float:
        """Seconds until server `n` answers the rendered readiness path."""
        readiness = self.container["readinessProbe"]["httpGet"]["path"]
        return wait_until_healthy(self.urls[n], readiness, budget_seconds, self.processes[n])

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def prefix_counters(self) -> tuple[float, float]:
        """Prefix-cache (hits, queries) in tokens, summed over the servers that still answer."""
        hits = queries = 0.0
        for url in self.urls:
            try:
                with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
                    text = response.read().decode()
            except (urllib.error.URLError, ConnectionError, OSError):
                continue
            hits += _counter(text, "vllm:prefix_cache_hits_total")
            queries += _counter(text, "vllm:prefix_cache_queries_total")
        return hits, queries

    def stop(self) -> None:
        for process in self.processes:
            _stop(process)


def _counter(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def start_servers(root: Path, policy: str = "cache_aware", count: int = 2) -> Servers:
    """Make the tiny model and start `count` vLLM servers from the rendered container; waits until all
    answer their readiness path."""
    started = time.monotonic()
    make_tiny_model(root)
    container, _ = rendered(root, policy)
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}, "VLLM_CPU_KVCACHE_SPACE": "1"}
    env["HOME"] = env["XDG_CACHE_HOME"] = str(root / "home")
    env["HF_HOME"] = str(root / "hf-home")
    ports = [_free_port() for _ in range(count)]
    servers = Servers(root, ports, [], container, env=env)
    servers.processes = [servers.start(n) for n in range(count)]
    try:
        for n in range(count):
            servers.wait_ready(n)
    except BaseException:
        servers.stop()
        raise
    servers.timings["servers_ready_s"] = round(time.monotonic() - started, 1)
    return servers


def start_router(servers: Servers, policy: str, replicas_min: int = 2) -> tuple[subprocess.Popen, str, str]:
    """The router rendered for `policy` and `replicas_min` in front of the servers; (process, base URL,
    metrics URL)."""
    _, router = rendered(servers.root, policy, replicas_min)
    port, metrics_port = _free_port(), _free_port()
    log = servers.root / f"router-{policy}-min{replicas_min}.log"
    process = start(router_command(router, servers.urls, port, metrics_port), log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, router["readinessProbe"]["httpGet"]["path"], 60, process)
        # Both workers registered: /readiness answers only while a worker is healthy.
        wait_until_healthy(base, "/readiness", 60, process)
    except BaseException:
        _stop(process)
        raise
    return process, base, f"http://127.0.0.1:{metrics_port}/metrics"


def complete(base: str, prompt: str, max_tokens: int = 4, timeout: float = 120) -> tuple[int, float]:
    """(HTTP status, seconds to the first streamed text) of one streamed completion. Completions, not
    chat: the router's cache-aware policy matches the prompt text itself (a completion request's
    routing text is its prompt), and the conversation is rendered into it turn by turn."""
    body = {"model": MODEL, "prompt": prompt, "max_tokens": max_tokens, "stream": True, "temperature": 0}
    request = urllib.request.Request(
        base + "/v1/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            first = None
            for line in response:
                if first is None and line.startswith(b"data: {"):
                    first = time.monotonic() - started
            return response.status, first if first is not None else time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started
    except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
        return 0, time.monotonic() - started


def system_prompt(rng: random.Random, words: int) -> str:
    return "You are assistant " + " ".join(rng.choice(WORDS) for _ in range(words)) + "."


@dataclass
class Result:
    policy: str
    requests: int
    failed: int
    hit_rate: float
    ttft_p50: float
    ttft_p95: float
    requests_per_s: float


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def shared_prefix_workload(
    servers: Servers, base: str, policy: str, conversations: int = 7, turns: int = 4, in_flight: int = 1
) -> Result:
    """`conversations`, each with its own system prompt of about 200 tokens of the tiny model's
    tokenizer (up to 400 after 5 turns, inside its 512-token context), `turns` user turns each, sent
    turn by turn, `in_flight` requests at a time. The hit rate is the servers' prefix-cache hits over
    queries (tokens) during it.

    One at a time (the e2e), round robin sends each conversation's turns to alternate servers (the
    count of conversations is odd), and vllm-router 0.1.17's cache_aware keeps every conversation on
    the server that holds it. With several in flight its cache_aware spreads a conversation's turns
    over both servers (measured: 6 of 7 conversations split at 4 in flight, also with its balance
    thresholds raised to 1000), which benchmarks/routing.py shows beside the one-at-a-time figures."""
    rng = random.Random(f"{policy}-{in_flight}")
    histories = [f"system: {system_prompt(rng, 30)}\n" for _ in range(conversations)]
    hits0, queries0 = servers.prefix_counters()
    ttfts, failed, started = [], 0, time.monotonic()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        for turn in range(turns):
            histories = [h + f"user: turn {turn}: {' '.join(rng.sample(WORDS, 4))}\nassistant:" for h in histories]
            for status, ttft in pool.map(lambda h: complete(base, h), histories):
                failed += status != 200
                ttfts.append(ttft)
            histories = [h + " ok\n" for h in histories]
    elapsed = time.monotonic() - started
    hits1, queries1 = servers.prefix_counters()
    return Result(
        policy,
        len(ttfts),
        failed,
        (hits1 - hits0) / (queries1 - queries0) if queries1 > queries0 else 0.0,
        _quantile(ttfts, 0.5),
        _quantile(ttfts, 0.95),
        len(ttfts) / elapsed,
    )
