"""The prefetch job's fetcher: verified, resumable and idempotent, against an in-memory source."""

import hashlib
import importlib.util
import json
import sys

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("fetch", ROOT / "images" / "weights-fetcher" / "fetch.py")
fetch = importlib.util.module_from_spec(spec)
sys.modules["fetch"] = fetch  # dataclasses resolve their module by name
spec.loader.exec_module(fetch)


class MemorySource:
    """A source whose files are bytes in memory; `corrupt` names files it serves wrongly."""

    def __init__(self, blobs, corrupt=()):
        self.blobs, self.corrupt, self.downloads = blobs, set(corrupt), []

    def files(self):
        return [fetch.RemoteFile(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in self.blobs.items()]

    def download(self, remote, target):
        self.downloads.append(remote.path)
        data = self.blobs[remote.path]
        target.write_bytes(data[:-1] + b"X" if remote.path in self.corrupt else data)


BLOBS = {"config.json": b'{"a": 1}', "model-00001.safetensors": b"w" * 1000, "sub/tokenizer.json": b"{}"}


def test_fetches_verifies_and_writes_the_marker(tmp_path):
    source = MemorySource(BLOBS)
    files = fetch.fetch("hf://org/m", "abc", tmp_path, ".done", source, log=lambda _: None)
    assert files == {p: len(b) for p, b in BLOBS.items()}
    assert sorted(source.downloads) == sorted(BLOBS)
    record = json.loads((tmp_path / ".done").read_text())
    assert (record["source"], record["revision"]) == ("hf://org/m", "abc")


def test_second_run_downloads_nothing(tmp_path):
    fetch.fetch("hf://org/m", "abc", tmp_path, ".done", MemorySource(BLOBS), log=lambda _: None)
    again = MemorySource(BLOBS)
    fetch.fetch("hf://org/m", "abc", tmp_path, ".done", again, log=lambda _: None)
    assert again.downloads == []


def test_resume_fetches_only_what_is_missing(tmp_path):
    (tmp_path / "config.json").write_bytes(BLOBS["config.json"])
    source = MemorySource(BLOBS)
    fetch.fetch("hf://org/m", "abc", tmp_path, ".done", source, log=lambda _: None)
    assert sorted(source.downloads) == ["model-00001.safetensors", "sub/tokenizer.json"]


def test_a_new_revision_is_not_taken_for_the_old_one(tmp_path):
    fetch.fetch("hf://org/m", "abc", tmp_path, ".done", MemorySource(BLOBS), log=lambda _: None)
    changed = dict(BLOBS, **{"config.json": b'{"a": 2}'})
    source = MemorySource(changed)
    fetch.fetch("hf://org/m", "def", tmp_path, ".done", source, log=lambda _: None)
    assert source.downloads == ["config.json"]
    assert json.loads((tmp_path / ".done").read_text())["revision"] == "def"


def test_corrupt_download_fails_and_leaves_no_marker(tmp_path):
    source = MemorySource(BLOBS, corrupt={"model-00001.safetensors"})
    with pytest.raises(RuntimeError, match=r"verification failed: model-00001.safetensors: sha256 [0-9a-f]{64} != "):
        fetch.fetch("hf://org/m", "abc", tmp_path, ".done", source, log=lambda _: None)
    assert not (tmp_path / ".done").exists()


def test_cli_refuses_unpinned_hub_sources(tmp_path):
    with pytest.raises(SystemExit, match=r"hf:// sources need --revision"):
        fetch.main(["--source", "hf://org/m", "--dest", str(tmp_path)])


def test_cli_fetches_pinned_adapters_beside_the_model(tmp_path, monkeypatch):
    opened = []

    def fake_open(uri, revision):
        opened.append((uri, revision))
        return MemorySource(BLOBS)

    monkeypatch.setattr(fetch, "open_source", fake_open)
    assert (
        fetch.main(
            [
                "--source",
                "hf://org/m",
                "--revision",
                "abc",
                "--dest",
                str(tmp_path),
                "--extra",
                "chat=hf://org/lora@def",
                "--extra",
                "sql=s3://bucket/lora",
            ]
        )
        == 0
    )
    assert opened == [("hf://org/m", "abc"), ("hf://org/lora", "def"), ("s3://bucket/lora", None)]
    assert (tmp_path / "adapters" / "sql" / ".inferstack-complete").is_file()
