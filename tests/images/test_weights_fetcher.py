"""The prefetch job's fetcher against a fake source on 127.0.0.1: byte-range resume, sha256 for every file,
repair of same-size corruption, one copy under concurrent fetchers, validated markers, the free-space check,
and re-fetch of replaced s3/gs objects."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import namedtuple

import pytest

from tests.images.conftest import FETCH_PY, MODEL
from tests.images.fake_source import REV, git_sha1

BIG = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"
MARKER = ".inferstack-complete"
TOTAL = sum(len(b) for b in MODEL.values())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(fetch, dest, uri="hf://org/m", revision=REV, verify=False):
    """fetch() in-process; returns (marker record, log lines)."""
    lines: list[str] = []
    source = fetch.open_source(uri, revision, lines.append)
    record = fetch.fetch(uri, revision, dest, MARKER, source, verify=verify, log=lines.append)
    return record, lines


def flip(path, at=None):
    data = bytearray(path.read_bytes())
    at = len(data) // 3 if at is None else at
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def assert_copy(dest, files):
    assert {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()} == set(files) | {MARKER}
    for name, data in files.items():
        assert (dest / name).read_bytes() == data, name


# ---------------------------------------------------------------------------------------------------- hub


def test_fetches_every_file_and_records_its_sha256_and_the_total_bytes(fetch, source, tmp_path):
    dest = tmp_path / "m"
    record, _ = run(fetch, dest)
    assert_copy(dest, MODEL)
    marker = json.loads((dest / MARKER).read_text())
    assert marker == record
    assert fetch.marker_problem(marker) is None
    assert marker["schema"] == "inferstack.weights-marker/v2"
    assert (marker["source"], marker["revision"]) == ("hf://org/m", REV)
    assert marker["files"] == {n: {"size": len(b), "sha256": sha(b), "etag": None} for n, b in MODEL.items()}
    assert (marker["total_bytes"], marker["transferred_bytes"], marker["file_count"]) == (TOTAL, TOTAL, 4)
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in source.downloads()) == sorted(
        n.rsplit("/", 1)[-1] for n in MODEL
    )
    assert not (dest / ".inferstack-fetch").exists()


def test_a_rerun_downloads_nothing_and_does_not_even_list(fetch, source, tmp_path):
    dest = tmp_path / "m"
    run(fetch, dest)
    seen = len(source.requests)
    before = (dest / MARKER).stat().st_mtime_ns
    _, lines = run(fetch, dest)
    assert len(source.requests) == seen
    assert lines == [f"{dest}: already complete for hf://org/m@{REV} ({TOTAL} bytes)"]
    assert (dest / MARKER).stat().st_mtime_ns == before


def test_an_interrupted_transfer_resumes_from_the_byte_offset(fetch, source, tmp_path):
    source.cut[BIG] = [100_000]
    dest = tmp_path / "m"
    record, lines = run(fetch, dest)
    assert [r["range"] for r in source.downloads(BIG)] == [None, "bytes=100000-"]
    assert f"retry {BIG} from byte 100000: connection closed at byte 100000 of 300000" in lines
    assert record["transferred_bytes"] == TOTAL  # nothing was sent twice
    assert_copy(dest, MODEL)


def test_a_rerun_resumes_the_partial_file_a_failed_run_left(fetch, source, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "ATTEMPTS", 2)
    source.cut[BIG] = [120_000, 50_000]
    dest = tmp_path / "m"
    with pytest.raises(fetch.FetchError) as failed:
        run(fetch, dest)
    assert str(failed.value) == (
        f"{BIG}: connection closed at byte 170000 of 300000 (2 attempts); a rerun resumes from byte 170000"
    )
    assert not (dest / MARKER).exists()
    record, lines = run(fetch, dest)
    assert [r["range"] for r in source.downloads(BIG)] == [None, "bytes=120000-", "bytes=170000-"]
    assert f"resume {BIG} at byte 170000 of 300000" in lines
    assert "ok    config.json" in lines  # finished by the failed run, verified by its git blob sha1
    assert len(source.downloads("config.json")) == 1
    assert record["transferred_bytes"] == 300_000 - 170_000 + len(MODEL[SHARD2]) + len(MODEL["sub/tokenizer.json"])
    assert_copy(dest, MODEL)


def test_a_server_that_ignores_range_is_read_again_from_byte_zero(fetch, source, tmp_path):
    source.cut[BIG] = [100_000]
    source.ignore_range = True
    dest = tmp_path / "m"
    _, lines = run(fetch, dest)
    assert [r["range"] for r in source.downloads(BIG)] == [None, "bytes=100000-"]
    assert f"restart {BIG} from byte 0: the source ignored the range request" in lines
    assert_copy(dest, MODEL)


def test_same_size_corruption_without_a_marker_is_detected_and_repaired(fetch, source, tmp_path):
    dest = tmp_path / "m"
    run(fetch, dest)
    (dest / MARKER).unlink()
    flip(dest / SHARD2)
    flip(dest / "config.json", at=3)
    bad_shard, bad_config = sha((dest / SHARD2).read_bytes()), (dest / "config.json").read_bytes()
    _, lines = run(fetch, dest)
    assert f"corrupt {SHARD2}: sha256 {bad_shard} != {sha(MODEL[SHARD2])}; re-downloading" in lines
    assert (
        f"corrupt config.json: git blob sha1 {git_sha1(bad_config)} != {git_sha1(MODEL['config.json'])}; re-downloading"
    ) in lines
    assert len(source.downloads(SHARD2)) == 2 and len(source.downloads("config.json")) == 2
    assert len(source.downloads(BIG)) == 1
    assert_copy(dest, MODEL)


def test_a_file_served_corrupt_once_is_downloaded_again(fetch, source, tmp_path):
    source.corrupt[SHARD2] = 1
    dest = tmp_path / "m"
    record, lines = run(fetch, dest)
    assert len(source.downloads(SHARD2)) == 2
    assert any(line.startswith(f"corrupt {SHARD2}: sha256 ") for line in lines)
    assert record["files"][SHARD2]["sha256"] == sha(MODEL[SHARD2])
    assert_copy(dest, MODEL)


def test_a_file_served_corrupt_twice_fails_clearly_and_publishes_nothing(fetch, source, tmp_path):
    source.corrupt[SHARD2] = 2
    data = bytearray(MODEL[SHARD2])
    data[len(data) // 2] ^= 0xFF
    dest = tmp_path / "m"
    with pytest.raises(fetch.FetchError) as failed:
        run(fetch, dest)
    assert str(failed.value) == (
        f"hf://org/m: {SHARD2}: sha256 {sha(bytes(data))} != {sha(MODEL[SHARD2])} after downloading it twice; "
        "the source serves bytes that do not match its listing, nothing was published"
    )
    assert not (dest / MARKER).exists() and not (dest / SHARD2).exists()


def test_an_existing_corrupt_file_is_not_trusted_because_it_exists(fetch, source, tmp_path):
    """What hf_hub_download did: a file of the right name (here also the right size) was taken as done."""
    dest = tmp_path / "m"
    dest.mkdir()
    (dest / BIG).write_bytes(b"\0" * 300_000)
    run(fetch, dest)
    assert len(source.downloads(BIG)) == 1
    assert_copy(dest, MODEL)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"schema": "inferstack.weights-mar', "not valid JSON"),
        (
            json.dumps({"source": "hf://org/m", "revision": REV, "files": {n: len(b) for n, b in MODEL.items()}}),
            "no schema (the marker of an older fetcher)",
        ),
        ("total", "total_bytes is not the sum of the file sizes"),
        ("escape", "unsafe file name '../victim'"),
        ("sha", "config.json: bad sha256"),
    ],
)
def test_a_damaged_marker_is_re_verified_never_a_permanent_failure(fetch, source, tmp_path, content, reason):
    dest = tmp_path / "m"
    good, _ = run(fetch, dest)
    victim = tmp_path / "victim"
    victim.write_text("not the fetcher's")
    doctored = json.loads(json.dumps(good))
    if content == "total":
        doctored["total_bytes"] += 1
    elif content == "escape":
        doctored["files"]["../victim"] = {"size": 17, "sha256": "0" * 64, "etag": None}
        doctored["total_bytes"] += 17
    elif content == "sha":
        doctored["files"]["config.json"]["sha256"] = "xyz"
    (dest / MARKER).write_text(json.dumps(doctored) if content in ("total", "escape", "sha") else content)
    seen = len(source.downloads())
    record, lines = run(fetch, dest)
    assert lines[0] == f"{dest / MARKER}: damaged ({reason}); treating it as absent and re-verifying every file"
    assert len(source.downloads()) == seen  # every file checked against the hub's checksums, none fetched
    assert record["files"] == good["files"] and fetch.marker_problem(json.loads((dest / MARKER).read_text())) is None
    assert victim.read_text() == "not the fetcher's"


def test_the_free_space_check_fails_before_downloading(fetch, source, tmp_path, monkeypatch, capsys):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    dest = tmp_path / "m"
    code = fetch.main(["--source", "hf://org/m", "--revision", REV, "--dest", str(dest), "--marker", MARKER])
    err = capsys.readouterr().err
    assert (code, err) == (
        1,
        f"error: not enough free space in {dest}: {TOTAL} bytes needed, 1000 bytes free "
        "(grow the cache volume: cache.size_gib)\n",
    )
    assert source.downloads() == []
    assert not (dest / MARKER).exists()


def test_the_free_space_check_counts_only_what_is_still_missing(fetch, source, tmp_path, monkeypatch):
    dest = tmp_path / "m"
    run(fetch, dest)
    (dest / MARKER).unlink()
    (dest / SHARD2).unlink()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 199_999, 199_999))
    with pytest.raises(fetch.FetchError, match=r"^not enough free space in .*: 200000 bytes needed, 199999 bytes free"):
        run(fetch, dest)
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 200_000, 200_000))
    record, _ = run(fetch, dest)
    assert record["transferred_bytes"] == 200_000


def test_two_concurrent_fetchers_produce_one_verified_copy(fetch, source, tmp_path):
    source.delay = 0.1  # ~1 s of body: the second fetcher starts while the first holds the lock
    dest = tmp_path / "models" / "m"
    env = {**os.environ, "INFERSTACK_FETCH_BACKOFF_SECONDS": "0"}
    argv = [sys.executable, str(FETCH_PY), "--source", "hf://org/m", "--revision", REV, "--dest", str(dest)]
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not source.downloads() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (out1, err1), (out2, err2) = first.communicate(timeout=20), second.communicate(timeout=20)
    assert (first.returncode, err1, second.returncode, err2) == (0, "", 0, "")
    assert out1.splitlines()[-1] == f"{dest}: complete, 4 files, {TOTAL} bytes ({TOTAL} transferred in this run)"
    assert out2.splitlines() == [
        f"waiting for the lock {dest.parent / '.m.lock'}: another fetcher is filling {dest}",
        f"{dest}: already complete for hf://org/m@{REV} ({TOTAL} bytes)",
    ]
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in source.downloads()) == sorted(
        n.rsplit("/", 1)[-1] for n in MODEL
    )
    assert_copy(dest, MODEL)
    marker = json.loads((dest / MARKER).read_text())
    assert marker["files"] == {n: {"size": len(b), "sha256": sha(b), "etag": None} for n, b in MODEL.items()}


def test_adapters_are_fetched_before_the_model_marker_is_published(fetch, source, tmp_path):
    source.hf["org/lora@" + "f" * 40] = {"adapter_model.safetensors": b"L" * 5000, "adapter_config.json": b"{}"}
    dest = tmp_path / "m"
    argv = ["--source", "hf://org/m", "--revision", REV, "--dest", str(dest)]
    assert fetch.main([*argv, "--extra", f"chat=hf://org/lora@{'f' * 40}"]) == 0
    adapter_marker = dest / "adapters" / "chat" / MARKER
    assert json.loads(adapter_marker.read_text())["total_bytes"] == 5002
    assert adapter_marker.stat().st_mtime_ns <= (dest / MARKER).stat().st_mtime_ns
    assert (dest / "adapters" / "chat" / "adapter_model.safetensors").read_bytes() == b"L" * 5000


def test_hub_errors_and_unsafe_listings_are_one_clear_line(fetch, source, tmp_path):
    source.hf_token = "hf_secret"
    with pytest.raises(fetch.FetchError) as failed:
        run(fetch, tmp_path / "m")
    assert str(failed.value) == (
        f"hf://org/m@{REV}: HTTP 401 Unauthorized from {source.url}/api/models/org/m/revision/{REV} "
        "(a gated or private model needs the hub token, HF_TOKEN)"
    )
    source.hf_token = None
    source.hf[f"org/m@{REV}"]["../outside"] = b"x"
    with pytest.raises(fetch.FetchError) as failed:
        run(fetch, tmp_path / "m")
    assert str(failed.value) == "hf://org/m: refusing the file name '../outside' listed by the source"
    assert not (tmp_path / "outside").exists()


def test_the_hub_token_goes_to_the_hub_only_and_resume_works_through_the_cdn_redirect(
    fetch, source, tmp_path, monkeypatch
):
    source.hf_token = "hf_secret"
    source.cdn_host = "localhost"  # another host than 127.0.0.1, as the hub's CDN is
    source.cut[BIG] = [64 * 1024]
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    run(fetch, tmp_path / "m")
    assert_copy(tmp_path / "m", MODEL)
    cdn = [r for r in source.requests if r["path"].startswith("/cdn/")]
    hub = [r for r in source.requests if not r["path"].startswith("/cdn/")]
    assert [(r["path"].rsplit("/", 1)[-1], r["range"]) for r in cdn] == [
        (BIG, None),
        (BIG, "bytes=65536-"),
        (SHARD2, None),
    ]
    assert {r["authorization"] for r in cdn} == {None}
    assert {r["authorization"] for r in hub} == {"Bearer hf_secret"}


def test_unpinned_hub_sources_are_refused(fetch, tmp_path):
    with pytest.raises(SystemExit, match=r"^hf:// sources need --revision \(a commit hash\)$"):
        fetch.main(["--source", "hf://org/m", "--dest", str(tmp_path)])


# ---------------------------------------------------------------------------------------------------- S3


def test_sigv4_reproduces_the_aws_documentation_examples(fetch):
    """https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: GET Object (with Range)
    and GET Bucket (list objects), signed with the documentation's example keys."""
    empty = hashlib.sha256(b"").hexdigest()
    base = {"host": "examplebucket.s3.amazonaws.com", "x-amz-content-sha256": empty, "x-amz-date": "20130524T000000Z"}
    keys = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "20130524T000000Z")
    get = fetch.sigv4_authorization("GET", "/test.txt", "", {**base, "range": "bytes=0-9"}, empty, *keys)
    assert get == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    query = fetch.canonical_query({"prefix": "J", "max-keys": "2"})
    assert query == "max-keys=2&prefix=J"
    listing = fetch.sigv4_authorization("GET", "/", query, base, empty, *keys)
    assert listing.endswith("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")


S3_OBJECTS = {"config.json": b'{"a": 1}', "weights/a.bin": b"A" * 70_000, "weights/b.bin": b"B" * 50_000}


def s3_setup(source, monkeypatch, static=True):
    objects = {f"models/m/{k}": (v, f"etag-{k}-1") for k, v in S3_OBJECTS.items()}
    objects["models/other/ignored.bin"] = (b"no", "etag-x")
    source.s3["bucket"] = objects
    if static:
        source.aws_keys["AKIDSTATIC"] = ("static-secret", "static-session")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTATIC")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "static-secret")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "static-session")


def test_s3_fetch_records_etags_and_refetches_only_replaced_objects(fetch, source, tmp_path, monkeypatch):
    s3_setup(source, monkeypatch)
    dest = tmp_path / "m"
    record, _ = run(fetch, dest, "s3://bucket/models/m", None)
    assert_copy(dest, S3_OBJECTS)
    assert record["files"]["weights/a.bin"] == {
        "size": 70_000,
        "sha256": sha(S3_OBJECTS["weights/a.bin"]),
        "etag": "etag-weights/a.bin-1",
    }
    assert source.signature_failures == []

    _, lines = run(fetch, dest, "s3://bucket/models/m", None)
    assert lines == [
        f"{dest}: already complete for s3://bucket/models/m ({sum(map(len, S3_OBJECTS.values()))} bytes, same ETags)"
    ]
    assert len(source.downloads()) == 3

    source.s3["bucket"]["models/m/weights/a.bin"] = (b"N" * 70_000, "etag-a-2")  # same size, new content
    del source.s3["bucket"]["models/m/weights/b.bin"]
    record, lines = run(fetch, dest, "s3://bucket/models/m", None)
    assert [r["path"] for r in source.downloads()][3:] == ["/bucket/models/m/weights/a.bin"]
    assert "remove weights/b.bin: no longer listed by the source" in lines
    assert_copy(dest, {"config.json": S3_OBJECTS["config.json"], "weights/a.bin": b"N" * 70_000})
    assert record["files"]["weights/a.bin"]["etag"] == "etag-a-2" and record["total_bytes"] == 70_008


def test_s3_verify_repairs_same_size_corruption_from_the_sha256_recorded_at_fetch(fetch, source, tmp_path, monkeypatch):
    s3_setup(source, monkeypatch)
    dest = tmp_path / "m"
    run(fetch, dest, "s3://bucket/models/m", None)
    flip(dest / "weights/b.bin")
    bad = sha((dest / "weights/b.bin").read_bytes())
    _, lines = run(fetch, dest, "s3://bucket/models/m", None)  # a valid marker is trusted without --verify
    assert len(source.downloads()) == 3
    _, lines = run(fetch, dest, "s3://bucket/models/m", None, verify=True)
    assert (
        f"corrupt weights/b.bin: sha256 {bad} != {sha(S3_OBJECTS['weights/b.bin'])} recorded when it was fetched;"
        " re-downloading"
    ) in lines
    assert [r["path"] for r in source.downloads()][3:] == ["/bucket/models/m/weights/b.bin"]
    assert_copy(dest, S3_OBJECTS)


def test_s3_without_a_checksum_an_unrecorded_existing_file_is_downloaded_again(fetch, source, tmp_path, monkeypatch):
    s3_setup(source, monkeypatch)
    dest = tmp_path / "m"
    (dest / "weights").mkdir(parents=True)
    (dest / "weights/a.bin").write_bytes(b"Z" * 70_000)
    _, lines = run(fetch, dest, "s3://bucket/models/m", None)
    assert "cannot check weights/a.bin: the source gives no checksum and no run recorded one; re-downloading" in lines
    assert_copy(dest, S3_OBJECTS)


def test_s3_with_eks_pod_identity_credentials(fetch, source, tmp_path, monkeypatch):
    s3_setup(source, monkeypatch, static=False)
    source.aws_keys["ASIAPOD"] = ("pod-secret", "pod-session")
    token = tmp_path / "token"
    token.write_text("pod-identity-token\n")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{source.url}/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token))
    run(fetch, tmp_path / "m", "s3://bucket/models/m", None)
    assert_copy(tmp_path / "m", S3_OBJECTS)
    assert source.signature_failures == []
    assert [r["path"] for r in source.requests].count("/creds") == 1  # cached until it nears expiry


def test_s3_with_irsa_web_identity_credentials(fetch, source, tmp_path, monkeypatch):
    s3_setup(source, monkeypatch, static=False)
    source.aws_keys["ASIAWEB"] = ("web-secret", "web-session")
    token = tmp_path / "token"
    token.write_text("web-identity-jwt")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/prefetch")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", source.url)
    run(fetch, tmp_path / "m", "s3://bucket/models/m", None)
    assert_copy(tmp_path / "m", S3_OBJECTS)
    assert source.signature_failures == []
    (sts,) = [r for r in source.requests if r["path"] == "sts"]
    assert sts["query"]["RoleArn"] == "arn:aws:iam::123456789012:role/prefetch"


def test_s3_without_credentials_says_what_to_do(fetch, source, tmp_path, monkeypatch):
    s3_setup(source, monkeypatch, static=False)
    with pytest.raises(fetch.FetchError) as failed:
        run(fetch, tmp_path / "m", "s3://bucket/models/m", None)
    assert str(failed.value) == (
        "no AWS credentials: give the prefetch pod an identity (EKS Pod Identity or IRSA) "
        "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


# ---------------------------------------------------------------------------------------------------- GCS


def test_gcs_fetch_checks_md5_and_refetches_a_new_generation(fetch, source, tmp_path):
    source.gcs["bkt"] = {f"ckpt/{k}": (v, 1) for k, v in S3_OBJECTS.items()}
    dest = tmp_path / "m"
    record, _ = run(fetch, dest, "gs://bkt/ckpt", None)
    assert_copy(dest, S3_OBJECTS)
    assert record["files"]["config.json"]["etag"] == "1"
    source.gcs["bkt"]["ckpt/config.json"] = (b'{"a": 2}', 7)
    record, _ = run(fetch, dest, "gs://bkt/ckpt", None)
    assert [r["path"] for r in source.downloads()][3:] == ["/storage/v1/b/bkt/o/ckpt/config.json"]
    assert source.downloads()[-1]["query"] == {"alt": "media", "generation": "7"}
    assert (dest / "config.json").read_bytes() == b'{"a": 2}' and record["files"]["config.json"]["etag"] == "7"
    # same-size corruption of a GCS object is caught by its md5 even without a marker
    (dest / MARKER).unlink()
    flip(dest / "weights/a.bin")
    _, lines = run(fetch, dest, "gs://bkt/ckpt", None)
    assert any(line.startswith("corrupt weights/a.bin: md5 ") for line in lines)
    assert (dest / "weights/a.bin").read_bytes() == S3_OBJECTS["weights/a.bin"]
