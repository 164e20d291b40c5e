"""The node_local tier's fill: `fetch.py --copy-from` copies a completed fetch onto the node, checking every
file against the shared copy's marker, and writes the same marker last."""

from __future__ import annotations

import json

import pytest

from tests.images.conftest import MODEL
from tests.images.fake_source import REV
from tests.images.test_weights_fetcher import MARKER, run


def _shared(fetch, source, tmp_path):
    shared = tmp_path / "shared" / "m"
    record, _ = run(fetch, shared)
    return shared, record


def test_copy_is_verified_and_publishes_the_same_marker_last(fetch, source, tmp_path):
    shared, record = _shared(fetch, source, tmp_path)
    node = tmp_path / "node" / "m"
    lines: list[str] = []
    copied = fetch.copy_verified(shared, node, MARKER, "hf://org/m", REV, log=lines.append)
    assert copied == record
    assert json.loads((node / MARKER).read_text()) == record
    assert {p: (node / p).read_bytes() for p in MODEL} == MODEL
    assert sum("sha256 verified" in line for line in lines) == len(MODEL)
    again: list[str] = []
    fetch.copy_verified(shared, node, MARKER, "hf://org/m", REV, log=again.append)
    assert again == [f"{node}: already a verified copy of {shared}"]


def test_a_corrupt_shared_file_fails_and_publishes_nothing(fetch, source, tmp_path):
    shared, _ = _shared(fetch, source, tmp_path)
    big = shared / "model-00001-of-00002.safetensors"
    data = bytearray(big.read_bytes())
    data[1000] ^= 0xFF
    big.write_bytes(bytes(data))
    node = tmp_path / "node" / "m"
    with pytest.raises(
        fetch.FetchError,
        match=r"model-00001-of-00002\.safetensors: 300000 bytes with sha256 [0-9a-f]{64}, not the marker's",
    ):
        fetch.copy_verified(shared, node, MARKER, "hf://org/m", REV, log=lambda _: None)
    assert not (node / MARKER).exists()


def test_the_copy_waits_for_the_shared_marker_of_the_same_source(fetch, source, tmp_path, monkeypatch):
    shared = tmp_path / "shared" / "m"
    waits: list[str] = []

    def sleep(_seconds):
        run(fetch, shared)  # the prefetch completes while the fill waits

    monkeypatch.setattr(fetch.time, "sleep", sleep)
    fetch.copy_verified(shared, tmp_path / "node" / "m", MARKER, "hf://org/m", REV, log=waits.append)
    assert waits[0] == f"waiting for {shared / MARKER} (not written yet, or for another source)"


def test_the_command_line_copies_a_completed_fetch(fetch, source, tmp_path):
    shared, _ = _shared(fetch, source, tmp_path)
    node = tmp_path / "node" / "m"
    code = fetch.main(
        [
            "--source",
            "hf://org/m",
            "--revision",
            REV,
            "--dest",
            str(node),
            "--marker",
            MARKER,
            "--copy-from",
            str(shared),
        ]
    )
    assert code == 0
    assert (node / MARKER).read_text() == (shared / MARKER).read_text()
