"""End to end with the real gateway: Debian's haproxy 2.6.12 runs the RENDERED endpoint config in front of
a real vLLM CPU server (the tiny local model) started from the rendered serving container.

The config's paths, ports and upstream address are swapped as tests/e2e/gateway.py lists (a temp
folder, loopback ports, the local vLLM server instead of the model's Service); TLS is real (a
throwaway certificate for localhost, which the client trusts and verifies). The spec routes straight
to the serving pods (routing off), so no router runs here; tests/e2e/test_routing.py covers the router.

- No key or an unknown key: 401 with the rendered body; a valid key: a 200 completion from vLLM.
- An unknown `model`: 404; `GET /v1/models` lists the served name; a path outside the API: 404.
- Over the client's 5 requests per minute: 429 with the rendered body.
- The health path answers without a key on the API port (TLS) and the monitor port, which also serves
  HAProxy's Prometheus exporter.
Loopback only, a dozen requests, every call with a timeout.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.request

import pytest
import yaml

from inferstack.kube import placement_objects
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.e2e.gateway import self_signed, write_gateway
from tests.e2e.routing import MODEL, start
from tests.e2e.test_vllm_serving import (
    VLLM_PYTHON,
    _free_port,
    _require,
    _stop,
    _tiny_spec,
    make_tiny_model,
    server_command,
    wait_until_healthy,
)
from tests.unit.kube.test_endpoint import _haproxy

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-web-0123456789"
LIMIT = 5


def _spec(root):
    spec = yaml.safe_load(_tiny_spec(root).read_text())
    spec["endpoint"] = {
        "hostname": "localhost",
        "tls": {"source": "cert_manager", "issuer": "e2e-ca"},
        "clients": [{"name": "web", "requests_per_minute": LIMIT}],
        "replicas": 1,
    }
    path = root / "tiny-endpoint.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    _require(VLLM_PYTHON, "the vLLM environment", "scripts/install-vllm.sh")
    binary = _haproxy()
    root = tmp_path_factory.mktemp("endpoint")
    make_tiny_model(root)
    result = plan(load_spec(_spec(root)))
    objects = {(o["kind"], o["metadata"]["name"]): o for o in placement_objects(result, result.placements[0])}
    container = objects[("Deployment", "tiny")]["spec"]["template"]["spec"]["containers"][0]
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}, "VLLM_CPU_KVCACHE_SPACE": "1"}
    env["HOME"] = env["XDG_CACHE_HOME"] = str(root / "home")
    env["HF_HOME"] = str(root / "hf-home")
    vllm_port, api_port, monitor_port = _free_port(), _free_port(), _free_port()
    processes = [start(server_command(container, root / "models", vllm_port), root / "vllm.log", env)]
    try:
        wait_until_healthy(
            f"http://127.0.0.1:{vllm_port}", container["readinessProbe"]["httpGet"]["path"], 600, processes[0]
        )
        folder = root / "gateway"
        folder.mkdir()
        ca = self_signed(folder)
        config = write_gateway(
            objects[("ConfigMap", "tiny-endpoint")],
            folder,
            {"web": KEY},
            api_port,
            monitor_port,
            {"tiny.tiny.svc.cluster.local:8000": f"127.0.0.1:{vllm_port}"},
        )
        gateway_container = objects[("Deployment", "tiny-endpoint")]["spec"]["template"]["spec"]["containers"][0]
        command = [binary, *gateway_container["command"][1:-1], str(config)]  # the image's haproxy -> Debian's
        processes.append(start(command, root / "haproxy.log"))
        monitor = f"http://127.0.0.1:{monitor_port}"
        wait_until_healthy(monitor, gateway_container["readinessProbe"]["httpGet"]["path"], 30, processes[1])
        yield {
            "base": f"https://localhost:{api_port}",
            "monitor": monitor,
            "tls": ssl.create_default_context(cafile=str(ca)),
            "objects": objects,
        }
    finally:
        for process in reversed(processes):
            _stop(process)


def _call(gw, path, body=None, key=None, timeout=120):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(gw["base"] + path, data, headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=gw["tls"]) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


COMPLETION = {"model": MODEL, "prompt": "The quick brown", "max_tokens": 4, "temperature": 0}


def test_the_gateway_checks_keys_routes_by_model_and_limits_each_client(gateway):
    """One sequence, so the client's request count is known: 5 keyed requests pass, the 6th is refused."""
    unauthorized = {"error": {"message": "missing or unknown API key", "type": "authentication_error"}}
    assert _call(gateway, "/v1/completions", COMPLETION) == (401, unauthorized)
    assert _call(gateway, "/v1/completions", COMPLETION, key="sk-wrong") == (401, unauthorized)

    status, answer = _call(gateway, "/v1/completions", COMPLETION, key=KEY)  # 1
    assert status == 200 and answer["model"] == MODEL and len(answer["choices"]) == 1
    assert _call(gateway, "/v1/models", key=KEY) == (  # 2
        200,
        {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "inferstack"}]},
    )
    unknown = {"error": {"message": "model not served by this endpoint", "type": "invalid_request_error"}}
    assert _call(gateway, "/v1/completions", {**COMPLETION, "model": "gpt-9"}, key=KEY) == (404, unknown)  # 3
    assert _call(gateway, "/admin", {}, key=KEY) == (  # 4
        404,
        {"error": {"message": "no such route", "type": "invalid_request_error"}},
    )
    status, answer = _call(
        gateway, "/v1/chat/completions", {**COMPLETION, "messages": [{"role": "user", "content": "hi"}]}, key=KEY
    )  # 5
    assert status == 200 and answer["choices"][0]["message"]["role"] == "assistant"
    assert _call(gateway, "/v1/completions", COMPLETION, key=KEY) == (  # 6
        429,
        {"error": {"message": "rate limit exceeded for this API key", "type": "rate_limit_error"}},
    )


def test_health_answers_without_a_key_on_both_ports_and_metrics_on_the_monitor_port(gateway):
    with urllib.request.urlopen(gateway["monitor"] + "/healthz", timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(gateway["base"] + "/healthz", timeout=10, context=gateway["tls"]) as response:
        assert response.status == 200  # what a load balancer or DNS health check calls, over TLS
    with urllib.request.urlopen(gateway["monitor"] + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'haproxy_frontend_http_requests_total{proxy="api"}' in text
    started = time.monotonic()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(gateway["monitor"] + "/v1/models", timeout=10)
    assert refused.value.code == 404 and time.monotonic() - started < 10
