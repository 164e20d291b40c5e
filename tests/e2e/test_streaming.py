"""End to end, the streaming cache tier: the real vLLM CPU server streams the tiny model's weights with
the Run:ai model streamer from a local S3 double (moto's server on 127.0.0.1) and serves them.

The command, arguments and environment come from the rendered Deployment of a spec whose source is
s3://. The only changes are the ones a pod's environment makes and the double needs: the container's
python is the vLLM environment's, the server binds to loopback on a free port, VLLM_CPU_KVCACHE_SPACE
sizes the KV pool on this CPU-only machine, and the S3 endpoint, region and static test credentials point
at the double (in a cluster the endpoint is AWS's and EKS Pod Identity supplies the credentials);
RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING=0 makes the streamer address the bucket by path, as an endpoint
on an IP address needs (vLLM's docs, "S3 compatible object store"). Processes are always stopped; only
loopback addresses are used.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from inferstack.kube import placement_objects
from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.conftest import ROOT
from tests.e2e.test_vllm_serving import (
    VLLM_PYTHON,
    _free_port,
    _get,
    _post,
    _require,
    _stop,
    _tiny_spec,
    make_tiny_model,
    server_command,
    wait_until_healthy,
)

MOTO_SERVER = ROOT / ".tools" / "moto-s3" / "bin" / "moto_server"
BUCKET = "e2e-weights"

pytestmark = pytest.mark.e2e

UPLOAD = """
import pathlib, sys
import boto3
s3 = boto3.client("s3")
s3.create_bucket(Bucket=sys.argv[1])
for path in sorted(pathlib.Path(sys.argv[2]).iterdir()):
    s3.upload_file(str(path), sys.argv[1], f"tiny/{path.name}")
"""


def _spec(root: Path) -> Path:
    """The serving test's tiny spec with its weights in the bucket and the streaming tier named."""
    data = yaml.safe_load(_tiny_spec(root).read_text())
    data["model"]["source"] = f"s3://{BUCKET}/tiny"
    data["cache"] = {"kind": "streaming"}
    path = root / "tiny-streaming.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    _require(VLLM_PYTHON, "the vLLM environment", "scripts/install-vllm.sh")
    _require(MOTO_SERVER, "the S3 double (moto's server)", "scripts/install-streamer.sh")
    root = tmp_path_factory.mktemp("streaming")
    make_tiny_model(root)
    result = plan(load_spec(_spec(root)))
    deployment = next(o for o in placement_objects(result, result.placements[0]) if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]

    s3_port, port = _free_port(), _free_port()
    double = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "e2e",
        "AWS_SECRET_ACCESS_KEY": "e2e",
        "AWS_EC2_METADATA_DISABLED": "true",
        "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
    }
    moto_log = root / "moto.log"
    moto = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=moto_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes = [moto]
    log_path = root / "vllm.log"
    log = log_path.open("w")
    try:
        wait_until_healthy(f"http://127.0.0.1:{s3_port}", "/", 60, moto)
        subprocess.run(
            [str(MOTO_SERVER.with_name("python")), "-c", UPLOAD, BUCKET, str(root / "models" / "tiny")],
            check=True,
            env={**os.environ, **double},
            capture_output=True,
            timeout=120,
        )
        env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}, **double}
        env.update(VLLM_CPU_KVCACHE_SPACE="1", HOME=str(root / "home"), XDG_CACHE_HOME=str(root / "home" / ".cache"))
        env["HF_HOME"] = str(root / "hf-home")
        started = time.monotonic()
        server = subprocess.Popen(
            server_command(container, root / "unused", port),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(server)
        startup = container["startupProbe"]
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        base = f"http://127.0.0.1:{port}"
        ready = wait_until_healthy(base, startup["httpGet"]["path"], budget, server)
        yield {
            "base": base,
            "container": container,
            "moto_log": moto_log,
            "vllm_log": log_path,
            "root": root,
            "ready_s": ready,
            "budget": budget,
            "started": started,
        }
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()


def test_the_rendered_server_streams_from_the_bucket(streamed):
    args = streamed["container"]["args"]
    assert args[0] == f"s3://{BUCKET}/tiny"
    assert args[args.index("--load-format") + 1] == "runai_streamer"
    assert streamed["ready_s"] < streamed["budget"]
    # The weights came over ranged GETs from the double, through the Run:ai streamer.
    ranged = re.findall(rf"GET \S*/{BUCKET}/tiny/model\.safetensors HTTP/1\.1\S* 206", streamed["moto_log"].read_text())
    assert ranged
    assert "Loading safetensors using Runai Model Streamer" in streamed["vllm_log"].read_text()
    # ... and were never written to disk: vLLM mirrors only the config and tokenizer files.
    assert not list((streamed["root"] / "home").rglob("*.safetensors"))


def test_the_streamed_model_serves(streamed):
    base = streamed["base"]
    models = [m["id"] for m in json.loads(_get(base + "/v1/models")[1])["data"]]
    assert models == ["tiny-llama"]
    completion = _post(base + "/v1/completions", {"model": "tiny-llama", "prompt": "Hello world", "max_tokens": 8})
    assert completion["usage"]["completion_tokens"] >= 1
