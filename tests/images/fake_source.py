"""A fake weight source on 127.0.0.1: the Hugging Face hub API and resolve URLs, S3 (path style, SigV4 checked),
GCS's JSON API, the EKS container-credentials endpoint and the GKE metadata server; with Range support and faults
(connections cut after N bytes, same-size corrupt bodies, Range ignored, slow bodies)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

REV = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".safetensors", ".bin")
PAGE = 2  # objects per listing page, so pagination is exercised


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeSource:
    def __init__(self, fetch_module):
        self.hf: dict[str, dict[str, bytes]] = {}  # "org/name@rev" -> {path: bytes}
        self.s3: dict[str, dict[str, tuple[bytes, str]]] = {}  # bucket -> {key: (bytes, etag)}
        self.gcs: dict[str, dict[str, tuple[bytes, int]]] = {}  # bucket -> {name: (bytes, generation)}
        self.requests: list[dict] = []
        self.cut: dict[str, list[int]] = {}  # path -> bytes to send before closing, one entry per request
        self.corrupt: dict[str, int] = {}  # path -> how many more responses serve a flipped byte
        self.ignore_range = False
        self.delay = 0.0  # seconds per 64 KiB
        self.hf_token: str | None = None  # when set, the hub requires this Bearer token
        self.cdn_host: str | None = None  # when set, LFS files redirect to http://<cdn_host>:<port>/cdn/...
        self.web_identity_token = "web-identity-jwt"
        self.aws_keys = {"AKIDSTATIC": ("static-secret", None)}  # access key -> (secret, session token)
        self.container_token = "pod-identity-token"
        self.gcs_token = "gcs-token"
        self.fetch = fetch_module  # its sigv4_authorization checks S3 signatures as S3 would
        self.signature_failures: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def downloads(self, suffix: str = "") -> list[dict]:
        """Body requests (not listings) whose path ends with `suffix`."""
        with self.lock:
            return [r for r in self.requests if r["body"] and r["path"].endswith(suffix)]

    def _handler(self):
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                split = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
                path = urllib.parse.unquote(split.path)
                record = {
                    "path": path,
                    "query": query,
                    "range": self.headers.get("Range"),
                    "authorization": self.headers.get("Authorization"),
                    "body": False,
                }
                with source.lock:
                    source.requests.append(record)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.route(split, path, query, record)

            def do_POST(self):
                """STS AssumeRoleWithWebIdentity (IRSA)."""
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                with source.lock:
                    source.requests.append({"path": "sts", "query": form, "body": False})
                if form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("WebIdentityToken") != (
                    source.web_identity_token
                ):
                    return self.send_xml(403, "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>")
                self.send_xml(
                    200,
                    '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEB</AccessKeyId>"
                    "<SecretAccessKey>web-secret</SecretAccessKey><SessionToken>web-session</SessionToken>"
                    "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
                    "</AssumeRoleWithWebIdentityResponse>",
                )

            def route(self, split, path, query, record):
                if path == "/creds":
                    if self.headers.get("Authorization") != source.container_token:
                        return self.send_json(401, {"message": "bad token"})
                    return self.send_json(
                        200,
                        {
                            "AccessKeyId": "ASIAPOD",
                            "SecretAccessKey": "pod-secret",
                            "Token": "pod-session",
                            "Expiration": "2099-01-01T00:00:00Z",
                        },
                    )
                if path == "/computeMetadata/v1/instance/service-accounts/default/token":
                    if self.headers.get("Metadata-Flavor") != "Google":
                        return self.send_json(403, {"error": "missing Metadata-Flavor"})
                    return self.send_json(200, {"access_token": source.gcs_token, "expires_in": 3599})
                if path.startswith("/storage/v1/b/"):
                    return self.gcs(path, query, record)
                if path.startswith("/cdn/"):
                    repo, _, rest = path[len("/cdn/") :].partition("@")
                    rev, _, name = rest.partition("/")
                    record["body"] = True
                    return self.send_body(name, source.hf[f"{repo}@{rev}"][name])
                if path.startswith("/api/models/"):
                    return self.hf_api(path)
                if "/resolve/" in path:
                    return self.hf_file(path, record)
                return self.s3(split, path, query, record)

            # -- Hugging Face
            def hf_auth(self) -> bool:
                if source.hf_token and self.headers.get("Authorization") != f"Bearer {source.hf_token}":
                    self.send_json(401, {"error": "Access to model is restricted"})
                    return False
                return True

            def hf_api(self, path):
                repo, _, rev = path[len("/api/models/") :].partition("/revision/")
                if not self.hf_auth():
                    return
                files = source.hf.get(f"{repo}@{rev}")
                if files is None:
                    return self.send_json(404, {"error": "Repository not found"})
                siblings = []
                for name, data in files.items():
                    sibling = {"rfilename": name, "size": len(data)}
                    if name.endswith(LFS_SUFFIXES):
                        sibling["blobId"] = hashlib.sha1(name.encode()).hexdigest()  # the pointer's oid
                        sibling["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                    else:
                        sibling["blobId"] = git_sha1(data)
                    siblings.append(sibling)
                self.send_json(200, {"id": repo, "sha": rev, "siblings": siblings})

            def hf_file(self, path, record):
                repo, _, rest = path.lstrip("/").partition("/resolve/")
                rev, _, name = rest.partition("/")
                if not self.hf_auth():
                    return
                data = source.hf.get(f"{repo}@{rev}", {}).get(name)
                if data is None:
                    return self.send_json(404, {"error": "Entry not found"})
                if source.cdn_host and name.endswith(LFS_SUFFIXES):
                    port = self.server.server_address[1]
                    self.send_response(302)
                    self.send_header("Location", f"http://{source.cdn_host}:{port}/cdn/{repo}@{rev}/{name}")
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                record["body"] = True
                self.send_body(name, data)

            # -- S3 (path style)
            def s3(self, split, path, query, record):
                bucket, _, key = path.lstrip("/").partition("/")
                if not self.s3_signed(split):
                    return self.send_xml(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>")
                objects = source.s3.get(bucket)
                if objects is None:
                    return self.send_xml(404, "<Error><Code>NoSuchBucket</Code></Error>")
                if query.get("list-type") == "2":
                    prefix = query.get("prefix", "")
                    keys = sorted(k for k in objects if k.startswith(prefix))
                    start = int(query.get("continuation-token", "0"))
                    page = keys[start : start + PAGE]
                    more = start + PAGE < len(keys)
                    contents = "".join(
                        f"<Contents><Key>{escape(k)}</Key><Size>{len(objects[k][0])}</Size>"
                        f"<ETag>&quot;{objects[k][1]}&quot;</ETag></Contents>"
                        for k in page
                    )
                    tail = f"<NextContinuationToken>{start + PAGE}</NextContinuationToken>" if more else ""
                    return self.send_xml(
                        200,
                        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                        f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{contents}{tail}</ListBucketResult>",
                    )
                if key not in objects:
                    return self.send_xml(404, "<Error><Code>NoSuchKey</Code></Error>")
                data, etag = objects[key]
                if self.headers.get("If-Match") not in (None, f'"{etag}"'):
                    return self.send_xml(412, "<Error><Code>PreconditionFailed</Code></Error>")
                record["body"] = True
                self.send_body(key, data)

            def s3_signed(self, split) -> bool:
                """Recompute the signature from the request as received, as S3 does."""
                auth = self.headers.get("Authorization", "")
                try:
                    credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
                    access_key, _date, region, service, _ = credential.split("/")
                    signed_names = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
                    secret, session = source.aws_keys[access_key]
                except (IndexError, ValueError, KeyError):
                    source.signature_failures.append(f"unparsable or unknown: {auth!r}")
                    return False
                if session is not None and self.headers.get("x-amz-security-token") != session:
                    source.signature_failures.append("missing session token")
                    return False
                params = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
                query = source.fetch.canonical_query(params)
                headers = {name: self.headers.get(name, "") for name in signed_names}
                expected = source.fetch.sigv4_authorization(
                    "GET",
                    split.path,
                    query,
                    headers,
                    self.headers.get("x-amz-content-sha256", ""),
                    access_key,
                    secret,
                    region,
                    self.headers.get("x-amz-date", ""),
                    service,
                )
                if expected != auth or "host" not in signed_names:
                    source.signature_failures.append(f"{auth!r} != {expected!r}")
                    return False
                return True

            # -- GCS JSON API
            def gcs(self, path, query, record):
                if self.headers.get("Authorization") != f"Bearer {source.gcs_token}":
                    return self.send_json(401, {"error": {"code": 401, "message": "Invalid Credentials"}})
                bucket, _, rest = path[len("/storage/v1/b/") :].partition("/o")
                objects = source.gcs.get(bucket)
                if objects is None:
                    return self.send_json(404, {"error": {"code": 404}})
                if not rest:
                    prefix = query.get("prefix", "")
                    names = sorted(n for n in objects if n.startswith(prefix))
                    start = int(query.get("pageToken", "0"))
                    items = [
                        {
                            "name": n,
                            "size": str(len(objects[n][0])),
                            "md5Hash": base64.b64encode(hashlib.md5(objects[n][0]).digest()).decode(),
                            "generation": str(objects[n][1]),
                        }
                        for n in names[start : start + PAGE]
                    ]
                    body = {"kind": "storage#objects", "items": items}
                    if start + PAGE < len(names):
                        body["nextPageToken"] = str(start + PAGE)
                    return self.send_json(200, body)
                name = rest.lstrip("/")
                if name not in objects or query.get("alt") != "media":
                    return self.send_json(404, {"error": {"code": 404}})
                data, generation = objects[name]
                if query.get("generation") not in (None, str(generation)):
                    return self.send_json(404, {"error": {"code": 404, "message": "No such object generation"}})
                record["body"] = True
                self.send_body(name, data)

            # -- responses
            def send_json(self, status, body):
                self.send_raw(status, json.dumps(body).encode(), "application/json")

            def send_xml(self, status, body):
                self.send_raw(status, body.encode(), "application/xml")

            def send_raw(self, status, payload, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def send_body(self, name, data):
                with source.lock:
                    if source.corrupt.get(name, 0) > 0:
                        source.corrupt[name] -= 1
                        middle = len(data) // 2
                        data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
                    cuts = source.cut.get(name)
                    cut = cuts.pop(0) if cuts else None
                start = 0
                header = self.headers.get("Range")
                if header and not source.ignore_range:
                    start = int(header.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                body = data[start:] if cut is None else data[start : start + cut]
                for i in range(0, len(body), 65536):
                    self.wfile.write(body[i : i + 65536])
                    if source.delay:
                        time.sleep(source.delay)
                self.wfile.flush()
                if cut is not None:  # a clean close before Content-Length bytes: the client sees a short body
                    self.connection.shutdown(socket.SHUT_WR)
                    self.close_connection = True

        return Handler
