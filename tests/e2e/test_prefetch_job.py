"""The rendered prefetch Job, run as its manifest says: the fetcher script from the rendered ConfigMap,
the Job's own command, args and env, against a fake hub on 127.0.0.1 serving the quickstart's pinned
model; the files land where the rendered Deployment's wait-for-weights container looks for the marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SPECS
from tests.images.conftest import MODEL, fetch_module
from tests.images.fake_source import FakeSource

pytestmark = pytest.mark.e2e


def _objects(out: Path) -> dict[str, dict]:
    return {
        f"{obj['kind']}/{obj['metadata']['name']}": obj
        for path in sorted((out / "us-central").glob("*.yaml"))
        for obj in [yaml.safe_load(path.read_text())]
    }


def test_the_rendered_prefetch_job_fills_the_cache_the_deployment_waits_for(tmp_path):
    out = tmp_path / "render"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from inferstack.cli import main; main()",
            "render",
            str(SPECS / "quickstart.yaml"),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    objects = _objects(out)
    job = objects["Job/quickstart-prefetch"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    config_map = objects[f"ConfigMap/{job['volumes'][2]['configMap']['name']}"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}

    # The pod's file system, rooted under tmp_path: the ConfigMap mounted where the Job says, the cache volume.
    root = tmp_path / "pod"
    scripts = root / mounts["fetcher"].lstrip("/")
    scripts.mkdir(parents=True)
    for name, text in config_map["data"].items():
        (scripts / name).write_text(text)
    models = root / mounts["models"].lstrip("/")
    models.mkdir(parents=True)

    def in_pod(value: str) -> str:
        return str(root / value.lstrip("/")) if value.startswith(("/models", "/opt", "/tmp")) else value

    command = [in_pod(part) for part in container["command"]]
    assert command[:2] == ["python", "-I"]
    args = [in_pod(part) for part in container["args"]]
    env = {item["name"]: in_pod(item["value"]) for item in container["env"] if "value" in item}
    assert {item["name"] for item in container["env"] if "valueFrom" in item} == {"HF_TOKEN"}

    source_arg = container["args"][container["args"].index("--source") + 1]
    revision = container["args"][container["args"].index("--revision") + 1]
    with FakeSource(fetch_module) as fake:
        fake.hf[f"{source_arg.removeprefix('hf://')}@{revision}"] = dict(MODEL)
        result = subprocess.run(
            [sys.executable, *command[1:], *args],
            env={**env, "PATH": os.environ["PATH"], "HF_ENDPOINT": fake.url, "NO_PROXY": "*"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr

    deployment = objects["Deployment/quickstart"]["spec"]["template"]["spec"]
    (waiter,) = deployment["initContainers"]
    marker = next(item["value"] for item in waiter["env"] if item["name"] == "MARKER")
    assert (root / marker.lstrip("/")).is_file(), "the marker the serving pods wait for was written"
    dest = Path(in_pod(container["args"][container["args"].index("--dest") + 1]))
    for name, data in MODEL.items():
        assert (dest / name).read_bytes() == data
