"""The input boundary (spec.inputs): special files in real processes (never a hang), bounded YAML,
the specYaml entry point, and every problem at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from inferstack.spec import SpecError, parse_spec, parse_spec_text
from inferstack.spec.inputs import MAX_NODES, InputProblem, parse_yaml, read_text
from tests.conftest import ROOT, SPECS

INFERSTACK = [sys.executable, "-c", "from inferstack.cli import main; main()"]


def _run(*args, cwd):
    started = time.monotonic()
    done = subprocess.run([*INFERSTACK, *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    return done, time.monotonic() - started


@pytest.mark.parametrize(
    ("make", "path", "first", "problem"),
    [
        (
            lambda d: os.mkfifo(d / "spec.yaml"),
            "spec.yaml",
            "Invalid spec spec.yaml: 1 problem",
            "  - (file) = 'spec.yaml': is a named pipe (FIFO), not a regular file. Fix: save the content to a file.",
        ),
        (
            lambda d: None,
            "/dev/zero",
            "Invalid spec /dev/zero: 1 problem",
            "  - (file) = '/dev/zero': is a character device, not a regular file. Fix: save the content to a file.",
        ),
        (
            lambda d: (d / "spec.yaml").symlink_to("spec.yaml"),
            "spec.yaml",
            "Invalid spec spec.yaml: 1 problem",
            "  - (file) = 'spec.yaml': too many levels of symbolic links (a symbolic-link loop). "
            "Fix: point the path at a real file.",
        ),
        (
            lambda d: (d / "spec.yaml").symlink_to("/dev/zero"),
            "spec.yaml",
            "Invalid spec spec.yaml: 1 problem",
            "  - (file) = 'spec.yaml': is a character device, not a regular file. Fix: save the content to a file.",
        ),
    ],
    ids=["fifo", "dev-zero", "symlink-loop", "symlink-to-device"],
)
def test_special_files_are_refused_in_a_real_process(tmp_path, make, path, first, problem):
    make(tmp_path)
    done, elapsed = _run("plan", path, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == first
    assert lines[1] == problem
    assert "Traceback" not in done.stderr
    assert elapsed < 10


def test_a_billion_laughs_is_refused_quickly():
    rows = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
    rows += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(8)]
    text = "\n".join(rows) + "\n"
    assert len(text.encode()) < 1024
    started = time.monotonic()
    with pytest.raises(InputProblem) as caught:
        parse_yaml(text)
    assert time.monotonic() - started < 0.5
    assert f"more than {MAX_NODES:,} values" in caught.value.problem


def test_aliases_within_limits_still_work():
    assert parse_yaml("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}


def test_yaml_1_2_scalars():
    assert parse_yaml("a: yes\nb: on\nc: 1:30\nd: 0o17\ne: true\nf: ~\ng: 2020-01-01\n") == {
        "a": "yes",
        "b": "on",
        "c": "1:30",
        "d": 15,
        "e": True,
        "f": None,
        "g": "2020-01-01",
    }


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (SPECS / "quickstart.yaml").read_bytes())
    assert read_text(path).startswith("# The smallest")


def test_spec_yaml_text_goes_through_the_same_boundary():
    assert parse_spec_text((SPECS / "quickstart.yaml").read_text(), "specYaml").name == "quickstart"
    with pytest.raises(SpecError) as caught:
        parse_spec_text("a: &a {name: x}\n<<: *a\n", "specYaml")
    assert caught.value.render().splitlines() == [
        "specYaml: 1 problem",
        "  - line 2, column 1: merge keys (<<) are not supported. Fix: write the keys out in full.",
    ]
    with pytest.raises(SpecError) as caught:
        parse_spec_text("name: x\n" + "#" * (1024 * 1024), "specYaml")
    assert caught.value.render().splitlines()[1] == "  - (text): the spec is more than the 1 MiB limit."


def test_rules_that_do_not_read_a_broken_field_still_run():
    import yaml

    data = yaml.safe_load((SPECS / "quickstart.yaml").read_text())
    data["engine"]["name"] = "vlm"  # breaks every rule that reads the engine
    data["placements"][0]["region"] = "europe-west4"  # outside the us lock
    data["placements"][0]["zones"] = ["europe-west4-a", "europe-west4-a"]  # not read by the broken rules
    data["slo"] = {"ttft_p95_ms": 5000, "e2e_p95_ms": 100}
    data["engine"]["extra_args"] = ["--max-model-len=4"]  # judged only with a valid engine name
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "spec.yaml")
    found = [(v.path, v.rule) for v in caught.value.violations]
    assert found == [
        ("engine.name", ""),
        ("placements[0].zones[1]", "zones_in_region"),
        ("placements[0].region", "region_in_lock"),
        ("slo.ttft_p95_ms", "slo_ordered"),
    ]


def test_long_output_is_capped():
    import yaml

    data = yaml.safe_load((SPECS / "quickstart.yaml").read_text())
    data["placements"] = [{"name": f"P{i}", "cloud": "gcp", "region": "us-central1"} for i in range(40)]
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "spec.yaml")
    lines = caught.value.render().splitlines()
    assert lines[0] == "spec.yaml: 40 problems"
    assert len(lines) == 22
    assert lines[-1] == "  ... and 20 more problems: fix these first"


def test_every_example_still_loads():
    from inferstack.spec import load_spec

    for path in sorted((ROOT / "specs").glob("*.yaml")):
        assert load_spec(path).name
