"""Fixtures for the weights fetcher: the script loaded as a module, a fake source on 127.0.0.1, hermetic env."""

from __future__ import annotations

import importlib.util
import random
import sys

import pytest

from tests.conftest import ROOT
from tests.images.fake_source import REV, FakeSource

FETCH_PY = ROOT / "components" / "inferstack" / "fetcher" / "fetch.py"

_spec = importlib.util.spec_from_file_location("fetch", FETCH_PY)
fetch_module = importlib.util.module_from_spec(_spec)
sys.modules["fetch"] = fetch_module  # dataclasses resolve their module by name
_spec.loader.exec_module(fetch_module)

_rng = random.Random(11)
MODEL = {
    "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
    "model-00001-of-00002.safetensors": _rng.randbytes(300_000),
    "model-00002-of-00002.safetensors": _rng.randbytes(200_000),
    "sub/tokenizer.json": b'{"version": "1.0"}',
}
CLEAN_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "STORAGE_EMULATOR_HOST",
    "GCE_METADATA_HOST",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "all_proxy",
)


@pytest.fixture
def fetch():
    return fetch_module


@pytest.fixture
def source(monkeypatch):
    """The fake source, serving the hub model org/m@REV; the environment points every endpoint at it."""
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setattr(fetch_module, "BACKOFF_SECONDS", 0)
    with FakeSource(fetch_module) as fake:
        fake.hf[f"org/m@{REV}"] = dict(MODEL)
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fake.url)
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        monkeypatch.setenv("GCE_METADATA_HOST", fake.url.removeprefix("http://"))
        yield fake
