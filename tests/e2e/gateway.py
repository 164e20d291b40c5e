"""The rendered endpoint gateway, runnable here: the ConfigMap's files written to a folder with the pod's
paths and ports swapped, a keys map, and a throwaway certificate where cert-manager would put one.

Substitutions, and only these: the config folder `/usr/local/etc/haproxy` (and its keys/ and tls/
sub-folders) becomes the given folder; the API and monitor ports bind to loopback on the given ports;
each upstream Service address (`<name>.<namespace>.svc.cluster.local:<port>`) becomes the address
given for it (a local server). Shared by tests/unit/kube/test_endpoint.py (haproxy -c) and
tests/e2e/test_endpoint.py (haproxy in front of vLLM).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from inferstack.catalog.endpoints import gateway
from inferstack.kube import endpoint


def write_gateway(
    config_map: dict,
    folder: Path,
    keys: dict[str, str],
    api_port: int,
    monitor_port: int,
    upstreams: dict[str, str] | None = None,
) -> Path:
    """The rendered ConfigMap's files in `folder` with the substitutions above, and the keys map of
    client -> key; returns the config's path."""
    spec = gateway()
    config = config_map["data"][endpoint.CONFIG_FILE].replace(spec.config_dir, str(folder))
    for port in (spec.https_port, spec.http_port):
        config = config.replace(f"bind :{port}", f"bind 127.0.0.1:{api_port}")
    config = config.replace(f"bind :{spec.monitor_port}", f"bind 127.0.0.1:{monitor_port}")
    for service, address in (upstreams or {}).items():
        config = config.replace(f" {service} ", f" {address} ")
    (folder / endpoint.KEYS_DIR).mkdir(parents=True, exist_ok=True)
    (folder / endpoint.TLS_DIR).mkdir(exist_ok=True)
    for name, text in config_map["data"].items():
        (folder / name).write_text(config if name == endpoint.CONFIG_FILE else text)
    (folder / endpoint.KEYS_DIR / endpoint.KEYS_MAP).write_text(endpoint.keys_map(keys))
    return folder / endpoint.CONFIG_FILE


def self_signed(folder: Path, hostname: str = "localhost") -> Path:
    """A throwaway certificate for `hostname` where cert-manager would put one (tls.crt, tls.key in the
    gateway's tls/ folder); returns the certificate, which a client can trust as its own CA."""
    tls = folder / endpoint.TLS_DIR
    tls.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(tls / "tls.key"), "-out", str(tls / "tls.crt"), "-days", "1",
            "-subj", f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return tls / "tls.crt"
