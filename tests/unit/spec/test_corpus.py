"""The bad-input corpus (tests/unit/spec/corpus/): every case exits 2 with the exact first line and
the exact problem line, within 5 s, in at most 10 KB, and without a traceback."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from inferstack.cli import app
from tests.unit.spec.corpus import cases, write_files

CASES = cases()
runner = CliRunner()


def _special(kind: str, folder) -> None:
    spec = folder / "spec.yaml"
    if kind == "fifo":
        os.mkfifo(spec)
    elif kind == "dir":
        spec.mkdir()
    elif kind == "symlink-loop":
        spec.symlink_to("spec.yaml")
    elif kind == "through-file":
        spec.write_text("name: x\n")
    elif kind == "big":
        spec.write_bytes(b"name: quickstart\n" + b"# padding\n" * 110_000)
    elif kind == "config-fifo":
        os.mkfifo(folder / "config.json")
    elif kind == "config-dir":
        (folder / "config.json").mkdir()
    elif kind == "config-big":
        (folder / "config.json").write_bytes(b" " * (4 * 1024 * 1024 + 1))
    elif kind == "config-loop":
        (folder / "config.json").symlink_to("config.json")
    elif kind == "policy-fifo":
        os.mkfifo(folder / "policy.yaml")
    else:
        raise AssertionError(f"unknown special file {kind!r}")


def test_corpus_is_large_and_covers_every_category():
    counts = Counter(case_id.split("/")[0] for case_id, _ in CASES)
    assert sum(counts.values()) >= 150, counts
    assert len(counts) >= 10, counts
    assert len({case_id for case_id, _ in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize(("case_id", "case"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_is_refused_clearly(case_id, case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = write_files(case, tmp_path)
    for kind in case.get("special", "").split():
        _special(kind, tmp_path)
    started = time.monotonic()
    result = runner.invoke(app, args)
    elapsed = time.monotonic() - started
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert result.exit_code == case.get("exit", 2), output
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert len(output.encode()) <= 10_000, f"{len(output.encode())} bytes"
    lines = output.replace(str(tmp_path), "<tmp>").splitlines()
    assert lines[0] == case["first"]
    if case["line"] is None:  # a message of one line (an option, not a spec, is wrong)
        assert len(lines) == 1, lines
    else:
        assert "  - " + case["line"] in lines or case["line"] in lines, "\n".join(lines[:8])
