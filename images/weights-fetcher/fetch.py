"""Fetch a model checkpoint into the weight cache once, resumably, and verify every file.

Usage: fetch.py --source hf://org/name --revision <sha> --dest /models/<dir> [--marker NAME] [--extra SRC]...
(extras, LoRA adapters, are NAME=SOURCE and land in DEST/adapters/NAME; hf:// sources carry @<sha>)

Contract:
- Idempotent: when DEST/MARKER exists and records the same source and revision, and every file it
  lists is present with the recorded size, nothing is downloaded and the exit code is 0.
- Resumable: a rerun after a failure only fetches what is missing or wrong.
- Verified: every file is checked against the source's own checksum (Hugging Face LFS sha256, GCS md5,
  S3 single-part ETag md5) or, where the source gives none, its size. Any mismatch fails the run and
  no marker is written, so serving pods (which wait for the marker) never start on a bad copy.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None = None
    md5: str | None = None


class Source(Protocol):
    def files(self) -> list[RemoteFile]: ...

    def download(self, remote: RemoteFile, target: Path) -> None: ...


class HuggingFaceSource:
    def __init__(self, repo: str, revision: str):
        from huggingface_hub import HfApi

        self.repo, self.revision, self.api = repo, revision, HfApi()

    def files(self) -> list[RemoteFile]:
        info = self.api.model_info(self.repo, revision=self.revision, files_metadata=True)
        return [RemoteFile(s.rfilename, s.size or 0, s.lfs.sha256 if s.lfs else None) for s in info.siblings]

    def download(self, remote: RemoteFile, target: Path) -> None:
        from huggingface_hub import hf_hub_download

        hf_hub_download(self.repo, remote.path, revision=self.revision, local_dir=_root_of(target, remote.path))


class S3Source:
    def __init__(self, bucket: str, prefix: str):
        import boto3

        self.bucket, self.prefix, self.client = bucket, prefix.rstrip("/") + "/", boto3.client("s3")

    def files(self) -> list[RemoteFile]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                etag = obj["ETag"].strip('"')
                md5 = None if "-" in etag else etag  # multipart ETags are not an MD5
                out.append(RemoteFile(obj["Key"][len(self.prefix) :], obj["Size"], md5=md5))
        return out

    def download(self, remote: RemoteFile, target: Path) -> None:
        self.client.download_file(self.bucket, self.prefix + remote.path, str(target))


class GcsSource:
    def __init__(self, bucket: str, prefix: str):
        from google.cloud import storage

        self.prefix = prefix.rstrip("/") + "/"
        self.bucket = storage.Client().bucket(bucket)

    def files(self) -> list[RemoteFile]:
        return [
            RemoteFile(
                b.name[len(self.prefix) :], b.size, md5=base64.b64decode(b.md5_hash).hex() if b.md5_hash else None
            )
            for b in self.bucket.list_blobs(prefix=self.prefix)
        ]

    def download(self, remote: RemoteFile, target: Path) -> None:
        self.bucket.blob(self.prefix + remote.path).download_to_filename(str(target))


def _root_of(target: Path, relative: str) -> str:
    """The directory that `relative` is relative to, given the file's full target path."""
    return str(target)[: -len(relative)].rstrip("/") or "/"


def open_source(uri: str, revision: str | None) -> Source:
    scheme, _, rest = uri.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme == "hf":
        if not revision:
            raise SystemExit("hf:// sources need --revision (a commit hash)")
        return HuggingFaceSource(rest, revision)
    if scheme == "s3":
        return S3Source(bucket, prefix)
    if scheme == "gs":
        return GcsSource(bucket, prefix)
    raise SystemExit(f"unsupported source {uri!r}: use hf://, s3:// or gs://")


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, remote: RemoteFile) -> str | None:
    """None when the local file matches the remote one, else what is wrong."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != remote.size:
        return f"size {size} != {remote.size}"
    if remote.sha256 and (actual := _digest(path, "sha256")) != remote.sha256:
        return f"sha256 {actual} != {remote.sha256}"
    if remote.md5 and (actual := _digest(path, "md5")) != remote.md5:
        return f"md5 {actual} != {remote.md5}"
    return None


def marker_is_current(marker: Path, source: str, revision: str | None) -> bool:
    if not marker.is_file():
        return False
    record = json.loads(marker.read_text())
    if (record.get("source"), record.get("revision")) != (source, revision):
        return False
    root = marker.parent
    return all(
        (root / name).is_file() and (root / name).stat().st_size == size for name, size in record["files"].items()
    )


def fetch(
    source_uri: str, revision: str | None, dest: Path, marker_name: str, source: Source, log=print
) -> dict[str, int]:
    """Make DEST hold a verified copy of the source; returns {file: size}. Raises on any mismatch."""
    marker = dest / marker_name
    if marker_is_current(marker, source_uri, revision):
        log(f"{dest}: already complete for {source_uri}@{revision}")
        return json.loads(marker.read_text())["files"]
    dest.mkdir(parents=True, exist_ok=True)
    remotes = source.files()
    if not remotes:
        raise RuntimeError(f"{source_uri}: the source lists no files")
    problems = []
    for remote in sorted(remotes, key=lambda r: r.path):
        target = dest / remote.path
        if verify(target, remote) is None:
            log(f"ok    {remote.path}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        log(f"fetch {remote.path} ({remote.size:,} bytes)")
        source.download(remote, target)
        if (problem := verify(target, remote)) is not None:
            problems.append(f"{remote.path}: {problem}")
    if problems:
        raise RuntimeError("verification failed: " + "; ".join(problems))
    files = {r.path: r.size for r in remotes}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"source": source_uri, "revision": revision, "files": files}, indent=1, sort_keys=True))
    os.replace(tmp, marker)
    log(f"{dest}: complete, {len(files)} files, {sum(files.values()):,} bytes")
    return files


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--revision")
    parser.add_argument("--dest", required=True, type=Path)
    parser.add_argument("--marker", default=".inferstack-complete")
    parser.add_argument("--extra", action="append", default=[], help="LoRA adapters, fetched beside the model")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        fetch(args.source, args.revision, args.dest, args.marker, open_source(args.source, args.revision))
        for extra in args.extra:
            name, _, uri = extra.partition("=")
            source, _, revision = uri.partition("@") if uri.startswith("hf://") else (uri, "", "")
            fetch(
                source,
                revision or None,
                args.dest / "adapters" / name,
                args.marker,
                open_source(source, revision or None),
            )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
