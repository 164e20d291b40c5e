"""`inferstack render` keeps the user's data safe: each scenario of the hostile-user review (issue 11)
through the real command, with the exact message. Every test fails if its protection is removed."""

import errno
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import inferstack.render as render_module
from inferstack.cli import app
from inferstack.render import LEGACY_RECORD, RECORD_DIR
from tests.conftest import ROOT, SPECS

runner = CliRunner()
QUICKSTART = SPECS / "quickstart.yaml"
QWEN = SPECS / "multi-cloud-qwen.yaml"
INFERSTACK = ROOT / ".venv" / "bin" / "inferstack"
LOCK_HELD = "Cannot render into {out}: another inferstack render is writing {out}. Fix: wait for it to finish, then render again."


def _render(spec: Path, out: Path | None = None):
    return runner.invoke(app, ["render", str(spec), *(["-o", str(out)] if out is not None else [])])


def _ok(spec: Path, out: Path | None = None) -> None:
    result = _render(spec, out)
    assert result.exit_code == 0, result.output


def _snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under `root` (files by content, links by target, folders), record included."""
    if not root.exists():
        return {}
    entries: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            entries[name] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            entries[name] = "<dir>"
        else:
            entries[name] = path.read_bytes()
    return entries


def _one_placement_qwen(tmp_path: Path) -> Path:
    """The Qwen spec without its AWS placement (the same spec name), through the validating loader."""
    data = yaml.safe_load(QWEN.read_text())
    data["placements"] = [p for p in data["placements"] if p["name"] == "gcp-us-central"]
    path = tmp_path / "qwen-one-placement.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _fresh(spec: Path, tmp_path: Path, name: str = "fresh") -> dict[str, bytes | str]:
    out = tmp_path / name
    _ok(spec, out)
    return _snapshot(out)


def _refused(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output == message + "\n"


# --- a second spec in the same folder --------------------------------------------------------------


def test_two_specs_rendered_with_the_default_output_each_keep_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _ok(QUICKSTART)
    first = _snapshot(tmp_path / "build" / "quickstart")
    result = _render(QWEN)
    assert result.exit_code == 0, result.output
    assert result.output == "wrote 54 files to build/qwen3-32b\n"
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["quickstart", "qwen3-32b"]
    assert _snapshot(tmp_path / "build" / "quickstart") == first
    assert (tmp_path / "build" / "qwen3-32b" / "plan.json").is_file()


def test_a_second_spec_into_the_same_folder_is_refused_and_the_first_is_kept(tmp_path):
    out = tmp_path / "out"
    _ok(QUICKSTART, out)
    before = _snapshot(out)
    _refused(
        _render(QWEN, out),
        f"Cannot render into {out}: {out}/dashboards/gpu.json belongs to the render of spec 'quickstart' in the "
        "same folder. Fix: render each spec into its own folder, e.g. -o build/qwen3-32b (the default).",
    )
    assert _snapshot(out) == before


# --- files render did not write, or that changed since ---------------------------------------------


@pytest.mark.parametrize("name", ["plan.json", "us-central/01-namespace-quickstart.yaml"])
def test_a_user_file_with_a_rendered_name_is_refused_and_nothing_is_written(tmp_path, name):
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True)
    (out / name).write_text("mine\n")
    before = _snapshot(out)
    _refused(
        _render(QUICKSTART, out),
        f"Cannot render into {out}: {out}/{name} was not written by inferstack render and would be overwritten. "
        "Fix: move it away, or choose another -o.",
    )
    assert _snapshot(out) == before


def test_a_rendered_file_edited_since_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    _ok(QUICKSTART, out)
    (out / "plan.txt").write_text("my notes on the plan\n")
    before = _snapshot(out)
    _refused(
        _render(QUICKSTART, out),
        f"Cannot render into {out}: {out}/plan.txt was changed after inferstack rendered it and would be "
        "overwritten. Fix: move it away (or undo the change), or choose another -o.",
    )
    assert _snapshot(out) == before


def test_an_edited_file_the_new_render_would_delete_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    _ok(QWEN, out)
    edited = out / "aws-us-east" / "12-deployment-qwen3-32b.yaml"
    assert edited.is_file()
    edited.write_text(edited.read_text() + "# tuned by hand\n")
    before = _snapshot(out)
    _refused(
        _render(_one_placement_qwen(tmp_path), out),
        f"Cannot render into {out}: {edited} was changed after inferstack rendered it and would be deleted (this "
        "render no longer writes it). Fix: move it away, or choose another -o.",
    )
    assert _snapshot(out) == before


def test_a_rerender_replaces_its_own_files_and_removes_its_stale_ones(tmp_path):
    out = tmp_path / "out"
    _ok(QWEN, out)
    (out / "README.md").write_text("mine\n")
    one = _one_placement_qwen(tmp_path)
    _ok(one, out)
    expected = _fresh(one, tmp_path)
    assert _snapshot(out) == {**expected, "README.md": b"mine\n"}


# --- a damaged or doctored record ------------------------------------------------------------------


def _doctor(out: Path, victim: Path, how: str) -> str:
    """Damage the quickstart record in `out` so that, followed blindly, it deletes `victim`; returns
    the detail the refusal names."""
    record_path = out / RECORD_DIR / "quickstart.json"
    record = json.loads(record_path.read_text())
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    if how == "parent":
        entry = os.path.relpath(victim, out)
        record["files"][entry] = digest
        detail = f"{entry!r} leaves or does not name a file in the output folder"
    elif how == "absolute":
        record["files"][str(victim)] = digest
        detail = f"{str(victim)!r} is not a path relative to the output folder"
    elif how == "symlink":
        (out / "link").symlink_to(victim.parent, target_is_directory=True)
        record["files"]["link/victim.txt"] = digest
        detail = f"'link/victim.txt' goes through the symbolic link {out}/link"
    elif how == "bad-hash":
        record["files"]["plan.txt"] = "not-a-hash"
        detail = "the sha256 of 'plan.txt' is not 64 hex digits"
    elif how == "format":
        record["format"] = 2
        detail = "format 2, this inferstack reads 1"
    elif how == "other-spec":
        record["spec"] = "qwen3-32b"
        detail = "spec 'qwen3-32b' in a record named quickstart.json"
    elif how == "not-json":
        record_path.write_text('{"format": 1, "files": ')
        return f"the render record {record_path} is damaged or was edited (not JSON: Expecting value: line 1 column 24 (char 23))"
    elif how == "legacy":
        (out / LEGACY_RECORD).write_text(json.dumps(["plan.txt", "../victim.txt"]))
        return (
            f"the render record {out / LEGACY_RECORD} is damaged or was edited ('../victim.txt' leaves or does not "
            "name a file in the output folder)"
        )
    record_path.write_text(json.dumps(record))
    return f"the render record {record_path} is damaged or was edited ({detail})"


@pytest.mark.parametrize(
    "how", ["parent", "absolute", "symlink", "bad-hash", "format", "other-spec", "not-json", "legacy"]
)
def test_a_doctored_record_is_refused_before_anything_is_written_or_deleted(tmp_path, how):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("the user's file, outside -o\n")
    out = tmp_path / "out"
    _ok(QUICKSTART, out)
    (out / "plan.txt").unlink()  # a render that wrote anything would put it back
    problem = _doctor(out, victim, how)
    before = _snapshot(out)
    _refused(
        _render(QUICKSTART, out),
        f"Cannot render into {out}: {problem}. Fix: delete {out}/{RECORD_DIR} and the files inferstack wrote "
        "beside it, then render again, or choose another -o.",
    )
    assert _snapshot(out) == before
    assert victim.read_text() == "the user's file, outside -o\n"


# --- atomic output: a failed render leaves the previous output and nothing else ---------------------


def _failing_writes(monkeypatch, after: int, error: BaseException) -> list[Path]:
    """Make render's file writes fail from the write numbered `after` + 1 on; returns the paths tried."""
    tried: list[Path] = []
    write = render_module._write_file

    def flaky(path: Path, data: bytes) -> None:
        tried.append(path)
        if len(tried) > after:
            raise error if not isinstance(error, OSError) else OSError(error.errno, error.strerror, str(path))
        write(path, data)

    monkeypatch.setattr(render_module, "_write_file", flaky)
    return tried


@pytest.mark.parametrize("after", [0, 12, 20], ids=["first-file", "mid-render", "the-record"])
def test_a_full_disk_leaves_the_previous_output_intact_and_no_orphans(tmp_path, monkeypatch, after):
    out = tmp_path / "out"
    _ok(QWEN, out)
    before = _snapshot(out)
    tried = _failing_writes(monkeypatch, after, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    result = _render(_one_placement_qwen(tmp_path), out)
    failed = tried[-1]
    assert failed.is_relative_to(out / RECORD_DIR)
    _refused(
        result,
        f"Cannot write {out}: No space left on device ({failed}). Fix: choose a folder you can write to.",
    )
    assert _snapshot(out) == before
    assert len(tried) == after + 1


def test_a_failed_first_render_leaves_no_folder_behind(tmp_path, monkeypatch):
    out = tmp_path / "new" / "out"
    _failing_writes(monkeypatch, 5, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    result = _render(QUICKSTART, out)
    assert result.exit_code == 2 and result.output.startswith(f"Cannot write {out}: No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_an_exception_while_rendering_leaves_the_previous_output_intact(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _ok(QWEN, out)
    before = _snapshot(out)
    _failing_writes(monkeypatch, 7, RuntimeError("bug in a writer"))
    result = _render(_one_placement_qwen(tmp_path), out)
    assert isinstance(result.exception, RuntimeError)
    assert _snapshot(out) == before


def test_a_crash_while_renaming_leaves_a_folder_the_next_render_takes_over(tmp_path, monkeypatch):
    """Killed half-way through renaming into place: the record accepts old and new content, so the next
    render neither refuses the half-new files as edited nor leaves the old ones behind."""
    out = tmp_path / "out"
    _ok(QWEN, out)
    one = _one_placement_qwen(tmp_path)
    replace, calls = os.replace, []

    class Killed(BaseException):
        """The process dies here: nothing catches it."""

    def crash(source, target):
        calls.append(target)
        if len(calls) == 6:  # the in-progress record, then four files
            raise Killed
        replace(source, target)

    monkeypatch.setattr(render_module.os, "replace", crash)
    with pytest.raises(Killed):
        _render(one, out)
    monkeypatch.setattr(render_module.os, "replace", replace)
    record = json.loads((out / RECORD_DIR / "qwen3-32b.json").read_text())
    assert "previous" in record and "aws-us-east/12-deployment-qwen3-32b.yaml" in record["previous"]
    _ok(one, out)
    assert _snapshot(out) == _fresh(one, tmp_path)


# --- one render at a time --------------------------------------------------------------------------

_SLOW_RENDER = """
import pathlib, sys, time
import inferstack.render as r
from inferstack.cli import app
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
commit = r._commit
def held(*args, **kwargs):
    ready.write_text("holding the lock")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return commit(*args, **kwargs)
r._commit = held
app(sys.argv[3:], prog_name="inferstack")
"""


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate(timeout=5)
        assert time.monotonic() < deadline, "the first render never took the lock"
        time.sleep(0.02)


def test_a_second_process_rendering_into_the_same_folder_is_refused(tmp_path):
    """Two real processes: the first holds the folder (paused inside its render), the second, the
    installed `inferstack` command, is refused; the first then finishes with complete output."""
    out, ready, go = tmp_path / "out", tmp_path / "ready", tmp_path / "go"
    _ok(QWEN, out)
    first = subprocess.Popen(
        [sys.executable, "-c", _SLOW_RENDER, str(ready), str(go), "render", str(QUICKSTART), "-o", str(out / "q")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(ready, first)
        second = subprocess.run(
            [str(INFERSTACK), "render", str(QUICKSTART), "-o", str(out / "q")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (second.returncode, second.stderr) == (2, LOCK_HELD.format(out=out / "q") + "\n")
        assert not (out / "q" / "plan.json").exists()
    finally:
        go.write_text("go")
        _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    assert stderr == f"wrote 30 files to {out / 'q'}\n"
    assert _snapshot(out / "q") == _fresh(QUICKSTART, tmp_path)


def test_racing_processes_never_leave_a_mixed_folder(tmp_path):
    """Four real renders of two versions of one spec started together: each either writes or is
    refused with the lock message, and the folder ends as exactly one complete render."""
    out = tmp_path / "out"
    one = _one_placement_qwen(tmp_path)
    specs = [QWEN, one, QWEN, one]
    processes = [
        subprocess.Popen(
            [str(INFERSTACK), "render", str(spec), "-o", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    results = [(p.wait(timeout=120), p.communicate(timeout=5)[1]) for p in processes]
    full, partial = _fresh(QWEN, tmp_path, "full"), _fresh(one, tmp_path, "one")
    allowed = {(2, LOCK_HELD.format(out=out) + "\n")} | {
        (0, f"wrote {sum(1 for n, v in tree.items() if v != '<dir>' and RECORD_DIR not in n)} files to {out}\n")
        for tree in (full, partial)
    }
    assert set(results) <= allowed
    assert any(code == 0 for code, _ in results)
    assert _snapshot(out) in (full, partial)


# --- paths: symbolic links, files in the way, unwritable folders ------------------------------------


def test_an_output_folder_that_is_a_symbolic_link_is_refused(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    _refused(
        _render(QUICKSTART, link),
        f"Cannot render into {link}: {link} is a symbolic link (to {target}). Fix: pass the folder it points to "
        "as -o, or choose another -o.",
    )
    assert list(target.iterdir()) == []


def test_an_output_path_through_a_regular_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "out"
    _refused(
        _render(QUICKSTART, out),
        f"Cannot write {out}: Not a directory ({out}). Fix: choose a folder you can write to.",
    )
    assert blocker.read_text() == "x" and sorted(tmp_path.iterdir()) == [blocker]


def test_a_file_where_render_needs_a_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "us-central").write_text("mine\n")
    _refused(
        _render(QUICKSTART, out),
        f"Cannot render into {out}: {out}/us-central is a file where inferstack render needs a folder. "
        "Fix: move it away, or choose another -o.",
    )
    assert _snapshot(out) == {"us-central": b"mine\n"}


def test_a_symbolic_link_inside_the_output_is_never_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "us-central").symlink_to(outside, target_is_directory=True)
    _refused(
        _render(QUICKSTART, out),
        f"Cannot render into {out}: {out}/us-central is a symbolic link; inferstack render writes only through "
        "real folders. Fix: replace the link with a folder, or choose another -o.",
    )
    assert list(outside.iterdir()) == []
    assert sorted(_snapshot(out)) == ["us-central"]


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root ignores the mode bits: refuse the way the kernel would for anyone else
        mkdir = Path.mkdir

        def denied(self, *args, **kwargs):
            if self.is_relative_to(out):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", denied)
    try:
        _refused(
            _render(QUICKSTART, out),
            f"Cannot write {out}: Permission denied ({out}/{RECORD_DIR}). Fix: choose a folder you can write to.",
        )
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


# --- the record left by earlier versions -----------------------------------------------------------


def test_a_folder_rendered_by_an_earlier_version_is_taken_over(tmp_path):
    out = tmp_path / "out"
    _ok(QWEN, out)
    files = sorted(json.loads((out / RECORD_DIR / "qwen3-32b.json").read_text())["files"])
    (out / RECORD_DIR / "qwen3-32b.json").unlink()
    (out / RECORD_DIR).rmdir()
    (out / LEGACY_RECORD).write_text(json.dumps(files, indent=1) + "\n")
    one = _one_placement_qwen(tmp_path)
    _ok(one, out)
    assert _snapshot(out) == _fresh(one, tmp_path)


def test_an_earlier_versions_folder_of_another_spec_is_refused(tmp_path):
    out = tmp_path / "out"
    _ok(QWEN, out)
    files = sorted(json.loads((out / RECORD_DIR / "qwen3-32b.json").read_text())["files"])
    (out / RECORD_DIR / "qwen3-32b.json").unlink()
    (out / RECORD_DIR).rmdir()
    (out / LEGACY_RECORD).write_text(json.dumps(files, indent=1) + "\n")
    before = _snapshot(out)
    _refused(
        _render(QUICKSTART, out),
        f"Cannot render into {out}: {out}/dashboards/gpu.json belongs to the render of spec 'qwen3-32b' in the "
        "same folder. Fix: render each spec into its own folder, e.g. -o build/quickstart (the default).",
    )
    assert _snapshot(out) == before
