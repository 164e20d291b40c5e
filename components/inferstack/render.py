"""Write a plan's objects to files: one folder per placement, one YAML file per object, plus the
plan report. Output is deterministic: the same spec gives byte-identical files.

The output folder (`-o`) is the spec's render folder. `render` keeps its own data safe and the user's:

- A record per spec, `.inferstack-render/<spec name>.json` inside the folder, lists every file the
  last render of that spec wrote with its sha256 (see `RECORD_FORMAT`). Only files listed there, and
  unchanged since, are ever overwritten or deleted; anything else in the way (a user's file, a file
  edited after the render, another spec's file, a symbolic link, a file where a folder belongs) is
  refused with `RenderError` before anything is written.
- The record is validated (schema, relative paths only, no `..`, nothing reached through a symbolic
  link) before it is used; a damaged or doctored record is refused, and nothing is deleted.
- Every file is written to a staging folder first; only when all of them are on disk are they renamed
  into place, so a failed render (an exception, a full disk) leaves the previous output as it was and
  nothing behind. While files are renamed, the record accepts the old and the new content of each, so
  even a crash in that step leaves a folder the next render can take over.
- The output folder is locked (`flock`) for the whole render: a second render into it is refused.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import yaml

from inferstack.kube import placement_objects
from inferstack.kube.platform import platform_objects
from inferstack.monitoring import engine_dashboard, fleet_dashboard, gpu_dashboard, placement_monitoring, rules_file
from inferstack.monitoring.fleet import platform_dashboard, platform_monitoring
from inferstack.plan import Plan
from inferstack.plan.fleet import FleetPlan
from inferstack.report import fleet_text, plan_text
from inferstack.spec.platform import SHARED_FOLDER


class _Dumper(yaml.SafeDumper):
    """Block-style YAML, no anchors or aliases, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(obj: object) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def file_name(index: int, obj: dict) -> str:
    return f"{index:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


#: Folder inside the output folder holding one record per spec rendered there (and, during a
#: render, its staging folder).
RECORD_DIR = ".inferstack-render"
#: The single record earlier versions kept (a JSON list of relative paths); adopted, then removed.
LEGACY_RECORD = ".inferstack-render.json"
#: Record format: {"format": 1, "spec": <spec name>, "files": {<relative path>: <sha256 hex>}}, plus,
#: only while a render renames its files into place, "previous": {<relative path>: <sha256 hex>}
#: (what was on disk before); a file matching either is the render's own.
RECORD_FORMAT = 1
_MAX_RECORD_BYTES = 8 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class RenderError(Exception):
    """A render refused before it changed anything: the output folder, what is wrong, and the fix."""

    def __init__(self, out: Path, problem: str, fix: str) -> None:
        self.out, self.problem, self.fix = out, problem, fix
        super().__init__(f"Cannot render into {out}: {problem}. Fix: {fix}.")


def contents(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> dict[str, bytes]:
    """Every file a render of `plan` writes, by path relative to the output folder, in writing order:
    each placement's objects, the dashboards as JSON, the alert rules as a plain Prometheus rule file
    (for promtool), and the plan report."""
    files: dict[str, str] = {}
    for placement in plan.placements:
        progress(placement.name)
        objects = placement_objects(plan, placement) + placement_monitoring(plan, placement.name)
        for index, obj in enumerate(objects, start=1):
            files[f"{placement.name}/{file_name(index, obj)}"] = to_yaml(obj)
    files[f"dashboards/{plan.spec.name}-engine.json"] = (
        json.dumps(engine_dashboard(plan), indent=2, sort_keys=True) + "\n"
    )
    files["dashboards/gpu.json"] = json.dumps(gpu_dashboard(), indent=2, sort_keys=True) + "\n"
    files["dashboards/fleet.json"] = json.dumps(fleet_dashboard([plan]), indent=2, sort_keys=True) + "\n"
    files[f"rules/{plan.spec.name}.rules.yaml"] = to_yaml(rules_file(plan))
    files["plan.json"] = json.dumps(plan.to_dict(), indent=2) + "\n"
    files["plan.txt"] = plan_text(plan)
    return {relative: text.encode() for relative, text in files.items()}


def _json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def fleet_contents(result: FleetPlan, progress: Callable[[str], None] = lambda _: None) -> dict[str, bytes]:
    """Every file a render of a fleet writes: per platform placement, the cluster's objects once
    (`<placement>/_platform/`: team namespaces and quotas, `platform_monitoring`), as the `Platform`
    component creates them, then each model's objects beside them
    (`<placement>/<model>/`); each model's engine dashboard, alert rules and plan; the GPU, fleet and
    platform dashboards once; and the fleet report."""
    files: dict[str, str] = {}
    platform_placements = [p.name for p in result.placements]
    own: dict[str, list[tuple[str, list[dict]]]] = {}
    for plan in result.models:
        progress(plan.spec.name)
        for placement in plan.placements:
            objects = placement_objects(plan, placement) + placement_monitoring(plan, placement.name)
            own.setdefault(placement.name, []).append((plan.spec.name, objects))
    for where in dict.fromkeys([*platform_placements, *own]):
        if where in platform_placements:
            shared = platform_objects(result, where) + platform_monitoring(result, where)
            for index, obj in enumerate(shared, start=1):
                files[f"{where}/{SHARED_FOLDER}/{file_name(index, obj)}"] = to_yaml(obj)
        for name, objects in own.get(where, []):
            for index, obj in enumerate(objects, start=1):
                files[f"{where}/{name}/{file_name(index, obj)}"] = to_yaml(obj)
    for plan in result.models:
        name = plan.spec.name
        files[f"dashboards/{name}-engine.json"] = _json(engine_dashboard(plan))
        files[f"rules/{name}.rules.yaml"] = to_yaml(rules_file(plan))
        files[f"models/{name}/plan.json"] = json.dumps(plan.to_dict(), indent=2) + "\n"
        files[f"models/{name}/plan.txt"] = plan_text(plan)
    if result.models:
        files["dashboards/gpu.json"] = _json(gpu_dashboard())
        files["dashboards/fleet.json"] = _json(fleet_dashboard(list(result.models)))
    if result.fleet.platform is not None:
        files["dashboards/platform.json"] = _json(platform_dashboard(result))
    files["fleet.json"] = json.dumps(result.to_dict(), indent=2) + "\n"
    files["fleet.txt"] = fleet_text(result)
    return {relative: text.encode() for relative, text in files.items()}


def render_fleet(result: FleetPlan, out: Path, progress: Callable[[str], None] = lambda _: None) -> list[Path]:
    """`render` for a fleet: every file of `fleet_contents(result)` under `out`, recorded under the
    platform's name (`fleet` for a folder without platform), with the same safety rules."""
    platform = result.fleet.platform
    return write_files(out, platform.name if platform else "fleet", fleet_contents(result, progress))


def render(plan: Plan, out: Path, progress: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Write every file of `contents(plan)` under `out` (see `write_files`) and return their paths."""
    return write_files(out, plan.spec.name, contents(plan, progress))


def write_files(out: Path, name: str, files: dict[str, bytes]) -> list[Path]:
    """Write `files` under `out`, recorded as render `name`, and return their paths. Files the previous
    render of `name` wrote and this one does not are removed, so `kubectl apply -R` never re-applies
    them; other files are kept. Raises `RenderError` (nothing changed) when a file in the way is not
    this render's to replace, and `OSError` (nothing changed but for a crash while renaming) when the
    folder cannot be written."""
    with _locked(out):
        records = _Records(out)
        mine = records.own(name)
        previous = _check_targets(out, name, files, records, mine)
        stale = _check_stale(out, files, mine)
        _commit(out, name, files, previous, stale, records)
    return [out / relative for relative in files]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Create `out` if needed and hold an exclusive lock on it; remove the folders created here again
    if the render fails and leaves them empty."""
    found = _lstat(out)
    if found is not None and stat.S_ISLNK(found.st_mode):
        raise RenderError(
            out,
            f"{out} is a symbolic link (to {os.readlink(out)})",
            "pass the folder it points to as -o, or choose another -o",
        )
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(out))
    created: list[Path] = []
    try:
        for folder in [*reversed(out.parents), out]:
            if str(folder) not in ("", ".") and _lstat(folder) is None:
                try:
                    folder.mkdir()
                    created.append(folder)
                except FileExistsError:
                    pass  # made by a concurrent render
        handle = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RenderError(
                out, f"another inferstack render is writing {out}", "wait for it to finish, then render again"
            ) from None
        held, now = os.fstat(handle), _lstat(out)
        if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            raise RenderError(
                out, f"{out} was replaced while the render started", "render again once nothing else changes it"
            )
        try:
            yield
        except BaseException:
            _remove_empty(created)
            raise
    finally:
        os.close(handle)


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed render created, innermost first, as far as they are empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _damaged(out: Path, record: Path, detail: str) -> RenderError:
    return RenderError(
        out,
        f"the render record {record} is damaged or was edited ({detail})",
        f"delete {out / RECORD_DIR} and the files inferstack wrote beside it, then render again, or choose another -o",
    )


def _relative_path(out: Path, record: Path, relative: object) -> str:
    """`relative` if it names a file inside `out` that a render may write: a plain relative path,
    no `..`, not in the record folder, not reached through a symbolic link."""
    if not isinstance(relative, str) or not relative or len(relative) > 4096 or "\0" in relative:
        raise _damaged(out, record, f"{str(relative)[:80]!r} is not a file path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or "\\" in relative:
        raise _damaged(out, record, f"{relative[:200]!r} is not a path relative to the output folder")
    if ".." in pure.parts or str(pure) != relative or relative.endswith("/"):
        raise _damaged(out, record, f"{relative[:200]!r} leaves or does not name a file in the output folder")
    if pure.parts[0] in (RECORD_DIR, LEGACY_RECORD):
        raise _damaged(out, record, f"{relative[:200]!r} is inferstack's own record")
    folder = out
    for part in pure.parts[:-1]:
        folder = folder / part
        found = _lstat(folder)
        if found is None:
            break
        if stat.S_ISLNK(found.st_mode):
            raise _damaged(out, record, f"{relative[:200]!r} goes through the symbolic link {folder}")
        if not stat.S_ISDIR(found.st_mode):
            break
    if not (out / relative).resolve().is_relative_to(out.resolve()):
        raise _damaged(out, record, f"{relative[:200]!r} resolves outside {out}")
    return relative


class _Records:
    """Every render record in `out`, validated; staging left by a crashed render is removed."""

    def __init__(self, out: Path) -> None:
        self.out, self.folder = out, out / RECORD_DIR
        self.by_spec: dict[str, dict[str, set[str]]] = {}
        self.legacy: dict[str, set[str]] = {}
        self.legacy_spec: str | None = None
        found = _lstat(self.folder)
        if found is not None:
            if stat.S_ISLNK(found.st_mode):
                raise _damaged(out, self.folder, "it is a symbolic link")
            if not stat.S_ISDIR(found.st_mode):
                raise _damaged(out, self.folder, "it is not a folder")
            for entry in sorted(self.folder.iterdir()):
                if entry.name.startswith(".staging-") and entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)  # left by a render that crashed; we hold the lock
                elif entry.name.startswith(".") and entry.name.endswith(".tmp"):
                    entry.unlink()
                elif entry.suffix == ".json":
                    self.by_spec[entry.stem] = self._read(entry)
        legacy = out / LEGACY_RECORD
        if _lstat(legacy) is not None:
            data = self._load_json(legacy)
            if not isinstance(data, list):
                raise _damaged(out, legacy, "not a list of paths")
            for relative in data:
                path = out / _relative_path(out, legacy, relative)
                if _lstat(path) is not None and path.is_file() and not path.is_symlink():
                    self.legacy[relative] = {_file_sha256(path)}
            self.legacy_spec = _legacy_spec(out / "plan.json") if "plan.json" in self.legacy else None

    def _load_json(self, record: Path) -> object:
        found = _lstat(record)
        if found is None or not stat.S_ISREG(found.st_mode):
            raise _damaged(self.out, record, "it is not a regular file")
        if found.st_size > _MAX_RECORD_BYTES:
            raise _damaged(self.out, record, f"{found.st_size} bytes, more than a record can hold")
        try:
            return json.loads(record.read_bytes().decode())
        except (UnicodeDecodeError, ValueError) as exc:
            raise _damaged(self.out, record, f"not JSON: {str(exc)[:120]}") from None

    def _read(self, record: Path) -> dict[str, set[str]]:
        data = self._load_json(record)
        if not isinstance(data, dict):
            raise _damaged(self.out, record, "not a JSON object")
        unknown = sorted(set(data) - {"format", "spec", "files", "previous"})
        if unknown:
            raise _damaged(self.out, record, f"unknown key {unknown[0][:80]!r}")
        if data.get("format") != RECORD_FORMAT:
            raise _damaged(self.out, record, f"format {data.get('format')!r}, this inferstack reads {RECORD_FORMAT}")
        if data.get("spec") != record.stem:
            raise _damaged(self.out, record, f"spec {data.get('spec')!r} in a record named {record.name}")
        accepted: dict[str, set[str]] = {}
        for key in ("files", "previous"):
            table = data.get(key, {})
            if not isinstance(table, dict) or (key == "files" and "files" not in data):
                raise _damaged(self.out, record, f"{key!r} is not a table of path: sha256")
            for relative, digest in table.items():
                _relative_path(self.out, record, relative)
                if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                    raise _damaged(self.out, record, f"the sha256 of {relative[:200]!r} is not 64 hex digits")
                accepted.setdefault(relative, set()).add(digest)
        return accepted

    def own(self, spec: str) -> dict[str, set[str]]:
        """The files this spec's last render wrote, each with the content hashes that make it ours
        (an earlier version's single record counts as this spec's when its plan.json names this spec)."""
        if spec in self.by_spec:
            return self.by_spec[spec]
        return dict(self.legacy) if self.legacy_spec == spec else {}

    def owner(self, relative: str, spec: str) -> str | None:
        """The other spec whose render wrote `relative`, if any."""
        for other, files in self.by_spec.items():
            if other != spec and relative in files:
                return other
        if self.legacy_spec != spec and relative in self.legacy:
            return self.legacy_spec or "unknown (an earlier inferstack's render)"
        return None


def _legacy_spec(plan_json: Path) -> str | None:
    """The spec name in an earlier render's plan.json."""
    try:
        name = json.loads(plan_json.read_bytes()).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _check_folders(out: Path, relative: str, action: str) -> None:
    folder = out
    for part in PurePosixPath(relative).parts[:-1]:
        folder = folder / part
        found = _lstat(folder)
        if found is None:
            return
        if stat.S_ISLNK(found.st_mode):
            raise RenderError(
                out,
                f"{folder} is a symbolic link; inferstack render {action} only through real folders",
                "replace the link with a folder, or choose another -o",
            )
        if not stat.S_ISDIR(found.st_mode):
            raise RenderError(
                out, f"{folder} is a file where inferstack render needs a folder", "move it away, or choose another -o"
            )


def _check_targets(
    out: Path, spec: str, files: dict[str, bytes], records: _Records, mine: dict[str, set[str]]
) -> dict[str, str]:
    """Refuse to replace anything that is not this spec's unchanged output; return the hash of each
    file that will be replaced."""
    replaced = {}
    for relative in files:
        _check_folders(out, relative, "writes")
        path = out / relative
        found = _lstat(path)
        if found is None:
            continue
        if stat.S_ISLNK(found.st_mode):
            raise RenderError(
                out, f"{path} is a symbolic link and would be replaced", "move it away, or choose another -o"
            )
        if not stat.S_ISREG(found.st_mode):
            raise RenderError(
                out, f"{path} is not a regular file and would be replaced", "move it away, or choose another -o"
            )
        if relative in mine:
            digest = _file_sha256(path)
            if digest not in mine[relative]:
                raise RenderError(
                    out,
                    f"{path} was changed after inferstack rendered it and would be overwritten",
                    "move it away (or undo the change), or choose another -o",
                )
            replaced[relative] = digest
            continue
        other = records.owner(relative, spec)
        if other is not None:
            raise RenderError(
                out,
                f"{path} belongs to the render of spec {other!r} in the same folder",
                f"render each spec into its own folder, e.g. -o build/{spec} (the default)",
            )
        raise RenderError(
            out,
            f"{path} was not written by inferstack render and would be overwritten",
            "move it away, or choose another -o",
        )
    return replaced


def _check_stale(out: Path, files: dict[str, bytes], mine: dict[str, set[str]]) -> dict[str, str]:
    """The files the last render of this spec wrote and this one does not, with their hashes; refuse
    if one was changed since (it is the user's now)."""
    stale = {}
    for relative in sorted(set(mine) - set(files)):
        _check_folders(out, relative, "deletes")
        path = out / relative
        found = _lstat(path)
        if found is None:
            continue
        digest = _file_sha256(path) if stat.S_ISREG(found.st_mode) else ""
        if digest not in mine[relative]:
            raise RenderError(
                out,
                f"{path} was changed after inferstack rendered it and would be deleted (this render no longer "
                "writes it)",
                "move it away, or choose another -o",
            )
        stale[relative] = digest
    return stale


def _write_file(path: Path, data: bytes) -> None:
    """Write a new file and flush it to disk (the single place render writes bytes)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
        os.fsync(handle)
    finally:
        os.close(handle)


def _write_record(folder: Path, spec: str, files: dict[str, str], previous: dict[str, str] | None) -> None:
    """Replace the spec's record atomically (written beside it, flushed, renamed)."""
    record: dict[str, object] = {"format": RECORD_FORMAT, "spec": spec, "files": dict(sorted(files.items()))}
    if previous:
        record["previous"] = dict(sorted(previous.items()))
    temporary = folder / f".{spec}.json.tmp"
    if _lstat(temporary) is not None:
        temporary.unlink()
    try:
        _write_file(temporary, (json.dumps(record, indent=1) + "\n").encode())
        os.replace(temporary, folder / f"{spec}.json")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _commit(
    out: Path,
    spec: str,
    files: dict[str, bytes],
    previous: dict[str, str],
    stale: dict[str, str],
    records: _Records,
) -> None:
    """Stage every file, then rename them into place and delete the stale ones; see the module doc."""
    made_record_folder = _lstat(records.folder) is None
    if made_record_folder:
        records.folder.mkdir()
    created: list[Path] = []
    staging: Path | None = None
    new = {relative: _sha256(data) for relative, data in files.items()}
    try:
        staging = records.folder / f".staging-{spec}"
        staging.mkdir()  # a crashed render's staging was removed by _Records (we hold the lock)
        for relative, data in files.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            _write_file(staging / relative, data)
        for relative in files:
            folder = out
            for part in PurePosixPath(relative).parts[:-1]:
                folder = folder / part
                if _lstat(folder) is None:
                    folder.mkdir()
                    created.append(folder)
        _write_record(records.folder, spec, new, {**previous, **stale})
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(([records.folder] if made_record_folder else []) + created)
        raise
    try:
        for relative in files:
            os.replace(staging / relative, out / relative)
        for relative in stale:
            (out / relative).unlink(missing_ok=True)
            folder = (out / relative).parent
            while folder != out and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
        _write_record(records.folder, spec, new, None)
        if records.legacy_spec == spec or not records.legacy:
            (out / LEGACY_RECORD).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
