"""Fetch a model checkpoint into the weight cache once, resumably, and verify every file.

Usage: fetch.py --source hf://org/name --revision <sha> --dest /models/<dir> [--marker NAME] [--extra NAME=SOURCE]...
                [--verify]
(extras, LoRA adapters, land in DEST/adapters/NAME; hf:// extras carry @<sha>)

Standard library only, so it runs unchanged in the public python:3.12-slim image (for example mounted from a
ConfigMap): Hugging Face over HTTPS, S3 with SigV4 signing, GCS through its JSON API.

Contract:
- One copy: an exclusive lock (a lock file beside DEST) serialises fetchers sharing the volume; a fetcher that
  waited finds the marker valid and exits 0 without downloading.
- Idempotent: when DEST/MARKER is valid (schema, source, revision, every listed file present with its size) and,
  for s3/gs, the listing's ETags/generations are the recorded ones, nothing is downloaded and the exit code is 0.
- Resumable per byte: partial files live in DEST/.inferstack-fetch/partial and continue with an HTTP Range request
  from their size, within a run (retries) and across runs (Job restarts).
- Verified: every file's sha256 is checked against the source's (Hugging Face LFS), or the file is checked against
  the source's other checksum (git blob sha1 for small hub files, GCS md5) and its sha256 computed; where the source
  gives no checksum (S3), the sha256 computed while downloading is recorded in the marker. An existing file is never
  trusted for being there: without a valid marker it is re-hashed, and re-downloaded when it cannot be checked.
  `--verify` re-hashes everything. A mismatch re-downloads the file once; a second mismatch fails the run.
- Published atomically: the marker (temp file, fsync, rename) is written last; serving pods wait for it. A damaged
  marker is treated as absent: the files are re-verified, never a permanent failure.
- Space checked first: the bytes still to download are compared with the free space of DEST before any download.

Marker (DEST/MARKER, JSON): {"schema": "inferstack.weights-marker/v2", "source": URI, "revision": REV or null,
"files": {PATH: {"size": N, "sha256": HEX, "etag": S3 ETag / GCS generation or null}}, "file_count": N,
"total_bytes": sum of sizes (the cache space the checkpoint takes), "transferred_bytes": bytes downloaded by the
run that wrote it, "completed_at": UTC time}. A marker that does not parse, has another schema, an unsafe path,
a bad size or sha256, or a total_bytes that is not the sum of its sizes is damaged, i.e. treated as absent.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar

T = TypeVar("T")

SCHEMA = "inferstack.weights-marker/v2"
WORK_DIR = ".inferstack-fetch"  # DEST/.inferstack-fetch: partial files and the journal of a run in progress
CHUNK = 1024 * 1024
PROGRESS = 1024**3  # log a line per GiB of a file
TIMEOUT = 60  # seconds without a byte before a read is retried
ATTEMPTS = 5  # network attempts per file (each resumes from the bytes already on disk)
BACKOFF_SECONDS = float(os.environ.get("INFERSTACK_FETCH_BACKOFF_SECONDS", "2"))
USER_AGENT = "inferstack-weights-fetcher/0.2"
HEX64 = re.compile(r"[0-9a-f]{64}")


class FetchError(Exception):
    """A failure the user must act on (or a rerun resumes); printed as one line, exit 1."""


class TransientError(FetchError):
    """A network failure worth retrying from the current byte offset."""


class HttpError(FetchError):
    def __init__(self, status: int, message: str, headers=None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


Log = Callable[[str], None]


def _print(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the source root and to DEST
    size: int
    sha256: str | None = None  # from the source's metadata (Hugging Face LFS)
    md5: str | None = None  # GCS md5Hash (hex)
    git_sha1: str | None = None  # Hugging Face blobId of a non-LFS file: sha1 of b"blob <size>\0" + content
    etag: str | None = None  # S3 ETag / GCS generation: what changes when the object is replaced


class Source(Protocol):
    uri: str
    mutable: bool  # True when the same (source, revision) can list different objects later (s3, gs)

    def files(self) -> list[RemoteFile]: ...

    def open(self, remote: RemoteFile, offset: int) -> tuple[http.client.HTTPResponse, int]:
        """The body of `remote` from byte `offset`; returns (response, first byte it carries: offset or 0)."""
        ...


# ---------------------------------------------------------------------------------------------------------------
# HTTP (urllib), shared by the sources


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects (the hub sends LFS files to its CDN) but never forwards credentials to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_RedirectHandler)
_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


def _redact(url: str) -> str:
    return url.split("?", 1)[0]


def _urlopen(request: urllib.request.Request) -> http.client.HTTPResponse:
    request.add_header("User-Agent", USER_AGENT)
    try:
        return _OPENER.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        kind = TransientError if exc.code in _RETRYABLE_STATUS else HttpError
        message = f"HTTP {exc.code} {exc.reason} from {_redact(request.full_url)}"
        if kind is TransientError:
            raise TransientError(message) from None
        raise HttpError(exc.code, message, exc.headers) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientError(f"{_redact(request.full_url)}: {reason}") from None


def _retrying(what: str, call, log: Log):
    """call() with retries on transient failures (listings and tokens; downloads retry in _transfer)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except TransientError as exc:
            if attempt == ATTEMPTS:
                raise FetchError(f"{what}: {exc} ({ATTEMPTS} attempts)") from None
            log(f"retry {what}: {exc}")
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _get_json(url: str, headers: dict[str, str]) -> dict:
    with _urlopen(urllib.request.Request(url, headers=headers)) as response:
        body = response.read()
    try:
        data = json.loads(body)
    except ValueError:
        raise FetchError(f"{_redact(url)}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise FetchError(f"{_redact(url)}: the answer is not a JSON object")
    return data


def _open_range(url: str, headers: dict[str, str], offset: int) -> tuple[http.client.HTTPResponse, int]:
    """GET from byte `offset` (RFC 9110 Range); a server that ignores Range answers 200 and the whole body."""
    headers = dict(headers)
    if offset:
        headers["Range"] = f"bytes={offset}-"
    response = _urlopen(urllib.request.Request(url, headers=headers))
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        match = re.match(r"bytes (\d+)-", content_range)
        if not match or int(match.group(1)) != offset:
            response.close()
            raise FetchError(f"{_redact(url)}: asked for bytes from {offset}, got Content-Range {content_range!r}")
        return response, offset
    return response, 0


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face


class HuggingFaceSource:
    """The hub over plain HTTPS, as huggingface_hub does it.

    Listing: GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true, whose `siblings` carry rfilename,
    size, blobId and, for LFS files, lfs.sha256 / lfs.size (the request HfApi.model_info(files_metadata=True) makes:
    https://huggingface.co/docs/huggingface_hub/package_reference/hf_api#huggingface_hub.HfApi.model_info).
    Files: GET {endpoint}/{repo}/resolve/{revision}/{path}, which redirects LFS files to the CDN and honours Range
    (https://huggingface.co/docs/hub/api). HF_TOKEN is sent as a Bearer token (never to the CDN host);
    HF_ENDPOINT overrides the endpoint, as it does for huggingface_hub.
    """

    mutable = False  # a pinned commit lists the same files forever

    def __init__(self, repo: str, revision: str, log: Log = _print):
        self.repo, self.revision, self.log = repo, revision, log
        self.uri = f"hf://{repo}"
        self.endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
        self.headers = {"Authorization": f"Bearer {token.strip()}"} if token and token.strip() else {}

    def _hint(self, exc: HttpError) -> FetchError:
        if exc.status in (401, 403):
            return FetchError(
                f"{self.uri}@{self.revision}: {exc} (a gated or private model needs the hub token, HF_TOKEN)"
            )
        if exc.status == 404:
            return FetchError(f"{self.uri}@{self.revision}: {exc} (no such model or revision)")
        return FetchError(f"{self.uri}@{self.revision}: {exc}")

    def files(self) -> list[RemoteFile]:
        repo = urllib.parse.quote(self.repo, safe="/")
        url = f"{self.endpoint}/api/models/{repo}/revision/{urllib.parse.quote(self.revision, safe='')}?blobs=true"
        try:
            data = _retrying(f"list {self.uri}", lambda: _get_json(url, self.headers), self.log)
        except HttpError as exc:
            raise self._hint(exc) from None
        siblings = data.get("siblings")
        if not isinstance(siblings, list):
            raise FetchError(f"{self.uri}@{self.revision}: the hub's answer lists no files (no 'siblings')")
        out = []
        for sibling in siblings:
            name = sibling.get("rfilename") if isinstance(sibling, dict) else None
            lfs = sibling.get("lfs") if isinstance(sibling, dict) else None
            size = (lfs or {}).get("size", sibling.get("size") if isinstance(sibling, dict) else None)
            if not isinstance(name, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise FetchError(
                    f"{self.uri}@{self.revision}: the hub lists a file without a name or size: {sibling!r}"[:300]
                )
            sha256 = lfs.get("sha256") if isinstance(lfs, dict) else None
            blob = sibling.get("blobId") if not lfs else None
            out.append(
                RemoteFile(
                    name,
                    size,
                    sha256=sha256 if isinstance(sha256, str) and HEX64.fullmatch(sha256) else None,
                    git_sha1=blob if isinstance(blob, str) and re.fullmatch(r"[0-9a-f]{40}", blob) else None,
                )
            )
        return out

    def open(self, remote: RemoteFile, offset: int) -> tuple[http.client.HTTPResponse, int]:
        url = "/".join(
            [
                self.endpoint,
                urllib.parse.quote(self.repo, safe="/"),
                "resolve",
                urllib.parse.quote(self.revision, safe=""),
                urllib.parse.quote(remote.path, safe="/"),
            ]
        )
        try:
            return _open_range(url, self.headers, offset)
        except HttpError as exc:
            raise self._hint(exc) from None


# ---------------------------------------------------------------------------------------------------------------
# S3: ListObjectsV2 and GetObject, signed with Signature Version 4


def _uri_encode(value: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(value, safe=safe)


def canonical_query(params: dict[str, str]) -> str:
    """Sorted by encoded name, names and values URI-encoded (SigV4 CanonicalQueryString)."""
    pairs = sorted((_uri_encode(k), _uri_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def sigv4_authorization(
    method: str,
    canonical_uri: str,
    query: str,
    headers: dict[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    region: str,
    amz_date: str,
    service: str = "s3",
) -> str:
    """The Authorization header of AWS Signature Version 4.

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n SignedHeaders \\n
    HashedPayload; StringToSign = "AWS4-HMAC-SHA256" \\n amz-date \\n scope \\n hex(sha256(CanonicalRequest));
    the key is HMAC("AWS4"+secret, date) -> region -> service -> "aws4_request".
    https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (its GET Object and
    ListObjects examples are the test vectors in tests/images).
    """
    canonical = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed = ";".join(sorted(canonical))
    canonical_headers = "".join(f"{k}:{canonical[k]}\n" for k in sorted(canonical))
    request = "\n".join([method, canonical_uri, query, canonical_headers, signed, payload_hash])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AwsCredentials:
    """Static keys from the environment, else the container credentials endpoint (EKS Pod Identity sets
    AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; the endpoint answers
    {AccessKeyId, SecretAccessKey, Token, Expiration}:
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html), else IRSA
    (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, exchanged with STS AssumeRoleWithWebIdentity:
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
    Temporary credentials are refreshed five minutes before they expire."""

    def __init__(self, region: str, log: Log):
        self.region, self.log = region, log
        self.cached: tuple[str, str, str | None] | None = None
        self.expires = 0.0

    def get(self) -> tuple[str, str, str | None]:
        env = os.environ
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN") or None
        if self.cached and self.expires - time.time() > 300:
            return self.cached
        if env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
            self.cached, self.expires = _retrying("AWS container credentials", self._container, self.log)
        elif env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
            self.cached, self.expires = _retrying("AWS web identity credentials", self._web_identity, self.log)
        else:
            raise FetchError(
                "no AWS credentials: give the prefetch pod an identity (EKS Pod Identity or IRSA) "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        return self.cached

    @staticmethod
    def _expiry(value) -> float:
        try:
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return time.time() + 600

    def _container(self):
        env = os.environ
        url = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or (
            "http://169.254.170.2" + env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        )
        headers = {}
        if token_file := env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
            try:
                headers["Authorization"] = Path(token_file).read_text().strip()
            except OSError as exc:
                raise FetchError(
                    f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {token_file}: {exc.strerror}"
                ) from None
        elif token := env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
            headers["Authorization"] = token
        data = _get_json(url, headers)
        try:
            creds = (data["AccessKeyId"], data["SecretAccessKey"], data.get("Token"))
        except KeyError as exc:
            raise FetchError(f"the container credentials endpoint gave no {exc.args[0]}") from None
        return creds, self._expiry(data.get("Expiration"))

    def _web_identity(self):
        env = os.environ
        endpoint = env.get("AWS_ENDPOINT_URL_STS") or f"https://sts.{self.region}.amazonaws.com"
        try:
            token = Path(env["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text().strip()
        except OSError as exc:
            raise FetchError(f"cannot read AWS_WEB_IDENTITY_TOKEN_FILE: {exc.strerror}") from None
        form = {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": env["AWS_ROLE_ARN"],
            "RoleSessionName": env.get("AWS_ROLE_SESSION_NAME") or "inferstack-weights-fetcher",
            "WebIdentityToken": token,
        }
        request = urllib.request.Request(
            endpoint.rstrip("/") + "/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with _urlopen(request) as response:
            root = ET.fromstring(response.read())
        values = {_local(e.tag): (e.text or "") for e in root.iter()}
        if not values.get("AccessKeyId") or not values.get("SecretAccessKey"):
            raise FetchError("STS AssumeRoleWithWebIdentity returned no credentials")
        creds = (values["AccessKeyId"], values["SecretAccessKey"], values.get("SessionToken") or None)
        return creds, self._expiry(values.get("Expiration"))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class S3Source:
    """s3://bucket/prefix. ListObjectsV2 (GET /?list-type=2&prefix=&continuation-token=, XML ListBucketResult with
    Contents/Key, Size, ETag; https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html) and GetObject
    with Range and If-Match (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).

    The ETag is recorded to notice replaced objects, not used as a checksum: it is an MD5 only for single-part
    uploads without SSE-KMS/SSE-C, which a listing does not tell. Region: AWS_REGION / AWS_DEFAULT_REGION, corrected
    from the x-amz-bucket-region header S3 sends with a wrong-region error. AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL
    select a path-style endpoint (S3-compatible stores, tests).
    """

    mutable = True

    def __init__(self, bucket: str, prefix: str, log: Log = _print):
        self.bucket, self.log = bucket, log
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}"
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.endpoint = (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "").rstrip("/")
        self.credentials = AwsCredentials(self.region, log)

    def _request(self, key: str, params: dict[str, str], headers: dict[str, str]) -> urllib.request.Request:
        if self.endpoint:
            base, path = self.endpoint, f"/{self.bucket}/{key}"
        elif "." in self.bucket:  # dotted names do not match the wildcard certificate of virtual-hosted style
            base, path = f"https://s3.{self.region}.amazonaws.com", f"/{self.bucket}/{key}"
        else:
            base, path = f"https://{self.bucket}.s3.{self.region}.amazonaws.com", f"/{key}"
        uri = "/".join(_uri_encode(segment) for segment in path.split("/"))
        query = canonical_query(params)
        host = urllib.parse.urlsplit(base).netloc
        access_key, secret_key, token = self.credentials.get()
        amz_date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        signed = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
        if token:
            signed["x-amz-security-token"] = token
        authorization = sigv4_authorization(
            "GET", uri, query, signed, EMPTY_SHA256, access_key, secret_key, self.region, amz_date
        )
        all_headers = {**headers, **signed, "Authorization": authorization}
        return urllib.request.Request(base + uri + (f"?{query}" if query else ""), headers=all_headers)

    def _in_bucket_region(
        self, send: Callable[[urllib.request.Request], T], key: str, params: dict[str, str], headers: dict[str, str]
    ) -> T:
        """`send` a signed request, re-signed once for the bucket's own region when S3 names another."""
        for _ in range(2):
            try:
                return send(self._request(key, params, headers))
            except HttpError as exc:
                region = exc.headers.get("x-amz-bucket-region") if exc.headers else None
                if region and region != self.region:
                    self.log(f"{self.uri}: the bucket is in {region}, not {self.region}")
                    self.region = region
                    continue
                raise
        raise FetchError(f"{self.uri}: the bucket's region keeps changing")

    def _get(self, key: str, params: dict[str, str], headers: dict[str, str]) -> bytes:
        def read(request: urllib.request.Request) -> bytes:
            with _urlopen(request) as response:
                return response.read()

        return self._in_bucket_region(read, key, params, headers)

    def _open(self, key: str, headers: dict[str, str], offset: int) -> tuple[http.client.HTTPResponse, int]:
        return self._in_bucket_region(
            lambda request: _open_range(request.full_url, dict(request.header_items()), offset), key, {}, headers
        )

    def files(self) -> list[RemoteFile]:
        out, token = [], None
        while True:
            params = {"list-type": "2", "prefix": self.prefix}
            if token:
                params["continuation-token"] = token
            try:
                body = _retrying(f"list {self.uri}", lambda p=params: self._get("", p, {}), self.log)
            except HttpError as exc:
                raise FetchError(f"{self.uri}: {exc} (does the prefetch identity have s3:ListBucket?)") from None
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                raise FetchError(f"{self.uri}: the ListObjectsV2 answer is not XML") from None
            for item in root:
                if _local(item.tag) != "Contents":
                    continue
                fields = {_local(e.tag): (e.text or "") for e in item}
                relative = fields.get("Key", "")[len(self.prefix) :]
                if not relative or relative.endswith("/"):
                    continue  # the prefix itself or a "folder" placeholder
                out.append(RemoteFile(relative, int(fields.get("Size", "0")), etag=fields.get("ETag", "").strip('"')))
            fields = {_local(e.tag): (e.text or "") for e in root}
            token = fields.get("NextContinuationToken")
            if fields.get("IsTruncated") != "true" or not token:
                return out

    def open(self, remote: RemoteFile, offset: int) -> tuple[http.client.HTTPResponse, int]:
        headers = {"If-Match": f'"{remote.etag}"'} if remote.etag else {}
        try:
            return self._open(self.prefix + remote.path, headers, offset)
        except HttpError as exc:
            if exc.status == 412:
                raise FetchError(
                    f"{self.uri}{remote.path} was replaced during the fetch; rerun to fetch the new one"
                ) from None
            raise FetchError(
                f"{self.uri}{remote.path}: {exc} (does the prefetch identity have s3:GetObject?)"
            ) from None


# ---------------------------------------------------------------------------------------------------------------
# GCS: JSON API with a token from the GKE metadata server (Workload Identity)


class GcsSource:
    """gs://bucket/prefix. objects.list (GET /storage/v1/b/{bucket}/o?prefix=&pageToken=, items with name, size,
    md5Hash, generation, then nextPageToken: https://cloud.google.com/storage/docs/json_api/v1/objects/list) and
    objects.get with alt=media and generation= (the listed generation, so a resumed file never mixes two
    versions; https://cloud.google.com/storage/docs/json_api/v1/objects/get). The generation is recorded as the
    object's etag. Token: GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
    with Metadata-Flavor: Google (https://cloud.google.com/compute/docs/access/authenticate-workloads#applications).
    STORAGE_EMULATOR_HOST and GCE_METADATA_HOST override the endpoints, as for Google's client libraries.
    """

    mutable = True

    def __init__(self, bucket: str, prefix: str, log: Log = _print):
        self.bucket, self.log = bucket, log
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"gs://{bucket}/{self.prefix}"
        self.endpoint = (os.environ.get("STORAGE_EMULATOR_HOST") or "https://storage.googleapis.com").rstrip("/")
        self.metadata_host = os.environ.get("GCE_METADATA_HOST") or "metadata.google.internal"
        self.token, self.expires = "", 0.0

    def _headers(self) -> dict[str, str]:
        if not self.token or self.expires - time.time() < 300:
            url = f"http://{self.metadata_host}/computeMetadata/v1/instance/service-accounts/default/token"

            def get():
                return _get_json(url, {"Metadata-Flavor": "Google"})

            try:
                data = _retrying("GKE metadata server token", get, self.log)
            except HttpError as exc:
                raise FetchError(
                    f"{self.uri}: no token from the metadata server ({exc}); is Workload Identity set?"
                ) from None
            if not isinstance(data.get("access_token"), str):
                raise FetchError(f"{self.uri}: the metadata server gave no access_token")
            self.token = data["access_token"]
            self.expires = time.time() + float(data.get("expires_in") or 300)
        return {"Authorization": f"Bearer {self.token}"}

    def _bucket_url(self) -> str:
        return f"{self.endpoint}/storage/v1/b/{_uri_encode(self.bucket, safe='')}/o"

    def files(self) -> list[RemoteFile]:
        out, page = [], None
        while True:
            params = {"prefix": self.prefix, "fields": "items(name,size,md5Hash,generation),nextPageToken"}
            if page:
                params["pageToken"] = page
            url = f"{self._bucket_url()}?{urllib.parse.urlencode(params)}"
            try:
                data = _retrying(f"list {self.uri}", lambda u=url: _get_json(u, self._headers()), self.log)
            except HttpError as exc:
                raise FetchError(f"{self.uri}: {exc} (does the prefetch identity have storage.objects.list?)") from None
            for item in data.get("items") or []:
                relative = str(item.get("name", ""))[len(self.prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                md5 = base64.b64decode(item["md5Hash"]).hex() if item.get("md5Hash") else None
                out.append(RemoteFile(relative, int(item.get("size", 0)), md5=md5, etag=str(item.get("generation"))))
            page = data.get("nextPageToken")
            if not page:
                return out

    def open(self, remote: RemoteFile, offset: int) -> tuple[http.client.HTTPResponse, int]:
        params = {"alt": "media"}
        if remote.etag:
            params["generation"] = remote.etag
        url = f"{self._bucket_url()}/{_uri_encode(self.prefix + remote.path, safe='')}?{urllib.parse.urlencode(params)}"
        try:
            return _open_range(url, self._headers(), offset)
        except HttpError as exc:
            if exc.status == 404 and remote.etag:
                raise FetchError(
                    f"{self.uri}{remote.path} was replaced during the fetch; rerun to fetch the new one"
                ) from None
            raise FetchError(f"{self.uri}{remote.path}: {exc}") from None


def open_source(uri: str, revision: str | None, log: Log = _print) -> Source:
    scheme, _, rest = uri.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme == "hf":
        if not revision:
            raise SystemExit("hf:// sources need --revision (a commit hash)")
        return HuggingFaceSource(rest, revision, log)
    if scheme == "s3" and bucket:
        return S3Source(bucket, prefix, log)
    if scheme == "gs" and bucket:
        return GcsSource(bucket, prefix, log)
    raise SystemExit(f"unsupported source {uri!r}: use hf://, s3:// or gs://")


# ---------------------------------------------------------------------------------------------------------------
# Hashing and verification


class Digests:
    """sha256 always; md5 and git blob sha1 when the source gives them to compare with."""

    def __init__(self, remote: RemoteFile):
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False) if remote.md5 else None
        self.git = hashlib.sha1(b"blob %d\0" % remote.size, usedforsecurity=False) if remote.git_sha1 else None
        self.size = 0

    def update(self, data: bytes) -> None:
        self.size += len(data)
        for h in (self.sha256, self.md5, self.git):
            if h is not None:
                h.update(data)

    def problem(self, remote: RemoteFile, recorded_sha256: str | None = None) -> str | None:
        """None when these digests match what is known of `remote`, else what is wrong."""
        if self.size != remote.size:
            return f"size {self.size} != {remote.size}"
        actual = self.sha256.hexdigest()
        if remote.sha256 and actual != remote.sha256:
            return f"sha256 {actual} != {remote.sha256}"
        if self.md5 and self.md5.hexdigest() != remote.md5:
            return f"md5 {self.md5.hexdigest()} != {remote.md5}"
        if self.git and self.git.hexdigest() != remote.git_sha1:
            return f"git blob sha1 {self.git.hexdigest()} != {remote.git_sha1}"
        if recorded_sha256 and actual != recorded_sha256:
            return f"sha256 {actual} != {recorded_sha256} recorded when it was fetched"
        return None


def _hash_file(path: Path, remote: RemoteFile, limit: int | None = None) -> Digests:
    digests = Digests(remote)
    with path.open("rb") as f:
        remaining = limit
        while True:
            chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                return digests
            digests.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)


def _checkable(remote: RemoteFile, recorded_sha256: str | None) -> bool:
    return bool(remote.sha256 or remote.md5 or remote.git_sha1 or recorded_sha256)


def safe_relative(path: object) -> bool:
    if not isinstance(path, str) or not path or "\0" in path or "\\" in path:
        return False
    parts = PurePosixPath(path).parts
    return (
        not path.startswith("/")
        and all(part not in ("", ".", "..") for part in path.split("/"))
        and parts[0] != WORK_DIR
        and not parts[0].startswith(".inferstack")
    )


# ---------------------------------------------------------------------------------------------------------------
# Marker and journal


def _write_json_atomically(path: Path, data: dict) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def marker_problem(record: object) -> str | None:
    """None when `record` has the marker schema, else what is wrong with it."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if "schema" not in record:
        return "no schema (the marker of an older fetcher)"
    if record["schema"] != SCHEMA:
        return f"schema {str(record['schema'])[:80]!r} is not {SCHEMA!r}"
    if not isinstance(record.get("source"), str) or not isinstance(record.get("revision"), (str, type(None))):
        return "no source or revision"
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        return "no file list"
    for name, entry in files.items():
        if not safe_relative(name):
            return f"unsafe file name {name[:80]!r}"
        if not isinstance(entry, dict):
            return f"{name}: not an object"
        size, sha256, etag = entry.get("size"), entry.get("sha256"), entry.get("etag")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return f"{name}: bad size"
        if not isinstance(sha256, str) or not HEX64.fullmatch(sha256):
            return f"{name}: bad sha256"
        if not isinstance(etag, (str, type(None))):
            return f"{name}: bad etag"
    if record.get("total_bytes") != sum(e["size"] for e in files.values()):
        return "total_bytes is not the sum of the file sizes"
    return None


def read_marker(path: Path) -> tuple[dict | None, str | None]:
    """(record, None) for a well-formed marker, (None, reason) otherwise; (None, None) when there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable ({exc})"
    try:
        record = json.loads(text)
    except ValueError:
        return None, "not valid JSON"
    problem = marker_problem(record)
    return (None, problem) if problem else (record, None)


class Journal:
    """DEST/.inferstack-fetch/journal.json: files completed by an unfinished run (size, sha256, etag, so a rerun can
    check them), and the etag each partial file was started from (a partial of a replaced object is discarded)."""

    def __init__(self, work: Path, source_uri: str, revision: str | None, log: Log):
        self.path, self.key = work / "journal.json", {"source": source_uri, "revision": revision}
        self.files: dict[str, dict] = {}
        self.partials: dict[str, str | None] = {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and {k: data.get(k) for k in self.key} == self.key:
            files, partials = data.get("files"), data.get("partials")
            if isinstance(files, dict) and isinstance(partials, dict):
                self.files = {k: v for k, v in files.items() if isinstance(v, dict)}
                self.partials = partials
                return
        if (work / "partial").exists():
            log(f"discarding partial files of another source or revision in {work}")
            shutil.rmtree(work / "partial", ignore_errors=True)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_json_atomically(self.path, {**self.key, "files": self.files, "partials": self.partials})


# ---------------------------------------------------------------------------------------------------------------
# The fetch


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _transfer(source: Source, remote: RemoteFile, part: Path, log: Log) -> tuple[Digests, int]:
    """Bring `part` to remote.size bytes, continuing from its current size; returns its digests and bytes moved."""
    offset = part.stat().st_size if part.exists() else 0
    if offset > remote.size:
        offset = 0
    digests = _hash_file(part, remote, limit=offset) if offset else Digests(remote)
    if offset:
        log(f"resume {remote.path} at byte {offset} of {remote.size}")
    transferred, failures = 0, 0
    with part.open("r+b" if part.exists() else "wb") as out:
        out.seek(offset)
        out.truncate()
        while offset < remote.size:
            try:
                response, start = source.open(remote, offset)
                with response:
                    if start != offset:
                        log(f"restart {remote.path} from byte 0: the source ignored the range request")
                        out.seek(0)
                        out.truncate()
                        offset, digests = 0, Digests(remote)
                    while True:
                        try:
                            chunk = response.read(CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise TransientError(f"read failed at byte {offset}: {exc or type(exc).__name__}") from None
                        if not chunk:
                            break
                        if offset + len(chunk) > remote.size:
                            raise FetchError(
                                f"{remote.path}: the source sent more than the {remote.size} bytes it lists"
                            )
                        out.write(chunk)
                        digests.update(chunk)
                        offset += len(chunk)
                        transferred += len(chunk)
                        if offset // PROGRESS != (offset - len(chunk)) // PROGRESS:
                            log(f"      {remote.path}: {offset} of {remote.size} bytes")
                if offset < remote.size:
                    raise TransientError(f"connection closed at byte {offset} of {remote.size}")
            except TransientError as exc:
                out.flush()
                failures += 1
                if failures >= ATTEMPTS:
                    raise FetchError(
                        f"{remote.path}: {exc} ({ATTEMPTS} attempts); a rerun resumes from byte {offset}"
                    ) from None
                log(f"retry {remote.path} from byte {offset}: {exc}")
                time.sleep(BACKOFF_SECONDS * 2 ** (failures - 1))
        out.flush()
        os.fsync(out.fileno())
    return digests, transferred


def _download(source: Source, remote: RemoteFile, target: Path, work: Path, journal: Journal, log: Log):
    """Download `remote` to `target` through a partial file, verified; returns (sha256, bytes transferred)."""
    part = work / "partial" / remote.path
    part.parent.mkdir(parents=True, exist_ok=True)
    if remote.path in journal.partials and journal.partials[remote.path] != remote.etag:
        log(f"discard the partial {remote.path}: the object was replaced at the source")
        part.unlink(missing_ok=True)
    if journal.partials.get(remote.path, "-") != remote.etag:
        journal.partials[remote.path] = remote.etag
        journal.save()
    total = 0
    for attempt in (1, 2):
        log(f"fetch {remote.path} ({remote.size} bytes)")
        digests, moved = _transfer(source, remote, part, log)
        total += moved
        problem = digests.problem(remote)
        if problem is None:
            break
        part.unlink()
        if attempt == 2:
            raise FetchError(
                f"{source.uri}: {remote.path}: {problem} after downloading it twice; "
                "the source serves bytes that do not match its listing, nothing was published"
            )
        log(f"corrupt {remote.path}: {problem}; downloading it again from byte 0")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    journal.partials.pop(remote.path, None)
    journal.files[remote.path] = {"size": remote.size, "sha256": digests.sha256.hexdigest(), "etag": remote.etag}
    journal.save()
    return digests.sha256.hexdigest(), total


def _present(dest: Path, files: dict[str, dict]) -> str | None:
    for name, entry in files.items():
        path = dest / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != entry["size"]:
            return f"{name} has {path.stat().st_size} bytes, not {entry['size']}"
    return None


def fetch(
    source_uri: str,
    revision: str | None,
    dest: Path,
    marker_name: str,
    source: Source,
    *,
    verify: bool = False,
    log: Log = _print,
) -> dict:
    """Make DEST hold a verified copy of the source and its marker; returns the marker record.

    Callers sharing a volume hold exclusive_lock(dest) around this (main does)."""
    marker = dest / marker_name
    record, damage = read_marker(marker)
    if damage:
        log(f"{marker}: damaged ({damage}); treating it as absent and re-verifying every file")
    kept = record if record is not None and (record["source"], record["revision"]) == (source_uri, revision) else None
    if kept is not None and not verify and not source.mutable:
        missing = _present(dest, kept["files"])
        if missing is None:
            log(f"{dest}: already complete for {source_uri}@{revision} ({kept['total_bytes']} bytes)")
            return kept
        log(f"{dest}: the marker is valid but {missing}; checking every file")

    remotes = source.files()
    if not remotes:
        raise FetchError(f"{source_uri}: the source lists no files")
    for remote in remotes:
        if not safe_relative(remote.path) or remote.path == marker_name:
            raise FetchError(f"{source_uri}: refusing the file name {remote.path[:200]!r} listed by the source")
    remotes = sorted(remotes, key=lambda r: r.path)
    if kept is not None and not verify and source.mutable:
        listed = {r.path: {"size": r.size, "etag": r.etag} for r in remotes}
        recorded = {k: {"size": v["size"], "etag": v["etag"]} for k, v in kept["files"].items()}
        if listed == recorded and _present(dest, kept["files"]) is None:
            log(f"{dest}: already complete for {source_uri} ({kept['total_bytes']} bytes, same ETags)")
            return kept

    dest.mkdir(parents=True, exist_ok=True)
    work = dest / WORK_DIR
    journal = Journal(work, source_uri, revision, log)
    trusted = kept["files"] if kept is not None and not verify else {}
    prior = {**(kept["files"] if kept is not None else {}), **journal.files}

    done: dict[str, dict] = {}
    todo: list[RemoteFile] = []
    for remote in remotes:
        target = dest / remote.path
        entry = prior.get(remote.path)
        if entry and (entry.get("size"), entry.get("etag")) != (remote.size, remote.etag):
            entry = None  # recorded for another version of the object
        recorded = entry.get("sha256") if entry else None
        if not target.is_file():
            todo.append(remote)
            continue
        size = target.stat().st_size
        if size != remote.size:
            log(f"wrong size {remote.path}: {size} != {remote.size}; re-downloading")
        elif remote.path in trusted and trusted[remote.path] is entry:
            done[remote.path] = {"size": remote.size, "sha256": recorded, "etag": remote.etag}
            continue
        elif not _checkable(remote, recorded):
            log(f"cannot check {remote.path}: the source gives no checksum and no run recorded one; re-downloading")
        else:
            digests = _hash_file(target, remote)
            problem = digests.problem(remote, recorded)
            if problem is None:
                done[remote.path] = {"size": remote.size, "sha256": digests.sha256.hexdigest(), "etag": remote.etag}
                log(f"ok    {remote.path}")
                continue
            log(f"corrupt {remote.path}: {problem}; re-downloading")
        target.unlink()
        todo.append(remote)

    if todo:
        partial_bytes = sum(
            min((work / "partial" / r.path).stat().st_size, r.size)
            for r in todo
            if (work / "partial" / r.path).is_file() and journal.partials.get(r.path, r.etag) == r.etag
        )
        need = sum(r.size for r in todo) - partial_bytes
        free = _free_bytes(dest)
        if need > free:
            raise FetchError(
                f"not enough free space in {dest}: {need} bytes needed, {free} bytes free "
                "(grow the cache volume: cache.size_gib)"
            )
    transferred = 0
    for remote in todo:
        sha256, moved = _download(source, remote, dest / remote.path, work, journal, log)
        transferred += moved
        done[remote.path] = {"size": remote.size, "sha256": sha256, "etag": remote.etag}

    if record is not None:  # files the previous copy had and the source no longer lists
        for name in sorted(set(record["files"]) - set(done)):
            log(f"remove {name}: no longer listed by the source")
            (dest / name).unlink(missing_ok=True)

    files = {name: done[name] for name in sorted(done)}
    new_record = {
        "schema": SCHEMA,
        "source": source_uri,
        "revision": revision,
        "files": files,
        "file_count": len(files),
        "total_bytes": sum(f["size"] for f in files.values()),
        "transferred_bytes": transferred,
        "completed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    _write_json_atomically(marker, new_record)
    shutil.rmtree(work, ignore_errors=True)
    log(
        f"{dest}: complete, {len(files)} files, {new_record['total_bytes']} bytes "
        f"({transferred} transferred in this run)"
    )
    return new_record


def copy_verified(
    src: Path,
    dest: Path,
    marker_name: str,
    source_uri: str,
    revision: str | None,
    log: Log = _print,
    poll: float = 10.0,
) -> dict:
    """Make DEST a verified copy of SRC, a directory a fetch completed (the node-local cache filled from the
    shared one): wait for SRC's marker for the same source and revision, copy every file it lists while
    hashing it, fail on a size or sha256 that differs from the marker, then write the same marker last.
    Idempotent: a DEST whose marker is SRC's and whose files are all present is left as it is."""
    while True:
        record, damage = read_marker(src / marker_name)
        if record is not None and (record["source"], record["revision"]) == (source_uri, revision):
            break
        log(f"waiting for {src / marker_name} ({damage or 'not written yet, or for another source'})")
        time.sleep(poll)
    files = record["files"]
    mine, _ = read_marker(dest / marker_name)
    if mine is not None and mine["files"] == files and _present(dest, files) is None:
        log(f"{dest}: already a verified copy of {src}")
        return mine
    (dest / marker_name).unlink(missing_ok=True)
    needed = sum(e["size"] for e in files.values())
    dest.mkdir(parents=True, exist_ok=True)
    if needed > _free_bytes(dest):
        raise FetchError(f"{dest}: {needed} bytes to copy but {_free_bytes(dest)} free")
    for name, entry in sorted(files.items()):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.copy-{os.getpid()}")
        digest = hashlib.sha256()
        with (src / name).open("rb") as reader, part.open("wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        size = part.stat().st_size
        if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            part.unlink()
            raise FetchError(f"{src / name}: {size} bytes with sha256 {digest.hexdigest()}, not the marker's")
        os.replace(part, target)
        log(f"copied {name} ({size} bytes, sha256 verified)")
    _write_json_atomically(dest / marker_name, record)
    return record


@contextlib.contextmanager
def exclusive_lock(dest: Path, log: Log = _print) -> Iterator[Path]:
    """Hold an exclusive lock on DEST's parent/.<name>.lock for the whole fetch.

    fcntl.lockf takes a POSIX record lock (fcntl F_SETLKW). That is the lock NFS carries to the server: NFSv4
    (EFS) implements it as a byte-range lock with a lease, NFSv3 (Filestore) through NLM; flock() on a Linux NFS
    client is only emulated with the same POSIX locks (and is node-local with the local_lock mount option), so
    lockf states the intent. The kernel drops the lock when the process dies, and the NFS server when the node's
    lease expires, so a killed fetcher never leaves a stale lock behind (a stale lock *file* is harmless).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = dest.parent / f".{dest.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            log(f"waiting for the lock {path}: another fetcher is filling {dest}")
            fcntl.lockf(fd, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(fd)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--revision")
    parser.add_argument("--dest", required=True, type=Path)
    parser.add_argument("--marker", default=".inferstack-complete")
    parser.add_argument("--extra", action="append", default=[], help="NAME=SOURCE, fetched to DEST/adapters/NAME")
    parser.add_argument("--verify", action="store_true", help="re-hash every file even when the marker is valid")
    parser.add_argument("--copy-from", type=Path, help="a directory a fetch completed: copy and verify it instead")
    args = parser.parse_args(list(argv) if argv is not None else None)
    jobs = []
    for extra in args.extra:
        name, _, uri = extra.partition("=")
        if not safe_relative(name) or "/" in name or not uri:
            raise SystemExit(f"--extra {extra!r}: expected NAME=SOURCE with a plain name")
        uri, _, rev = uri.partition("@") if uri.startswith("hf://") else (uri, "", "")
        jobs.append((uri, rev or None, args.dest / "adapters" / name))
    jobs.append((args.source, args.revision, args.dest))  # the model last: its marker is what serving pods wait for
    if args.copy_from is not None:
        try:
            with exclusive_lock(args.dest):
                for uri, revision, dest in jobs:
                    copy_verified(args.copy_from / dest.relative_to(args.dest), dest, args.marker, uri, revision)
        except (FetchError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1
        return 0
    sources = [open_source(uri, revision) for uri, revision, _ in jobs]
    try:
        with exclusive_lock(args.dest):
            for (uri, revision, dest), source in zip(jobs, sources, strict=True):
                fetch(uri, revision, dest, args.marker, source, verify=args.verify)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
