"""The gateway in front of a placement's routers and the load balancer per cloud, read from
`data/endpoints.yaml` (every fact there has its source).

`gateway()` is the HAProxy release the endpoint runs (image, ports, paths, buffer and sizing);
`load_balancer(cloud)` how a cloud exposes a Service privately or publicly (and, where it can, terminates
TLS with the cloud's certificates), or None where inferstack exposes none (existing clusters keep a
ClusterIP Service).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

#: The `app.kubernetes.io/component` label of the gateway's objects (kube writes it, compliance reads it).
COMPONENT = "endpoint"


@dataclass(frozen=True)
class Gateway:
    name: str
    version: str
    image: str
    #: The command before the config file's path.
    command: tuple[str, ...]
    config_dir: str
    https_port: int
    http_port: int
    monitor_port: int
    health_path: str
    metrics_path: str
    buffer_bytes: int
    max_connections: int
    cpu_m: int
    memory_mib: int
    http_request_timeout_seconds: int
    connect_timeout_seconds: int
    routes: tuple[str, ...]


@dataclass(frozen=True)
class LoadBalancerTls:
    """TLS the load balancer terminates with a certificate of the cloud's (`source`, a `tls.source` of the
    spec): the annotation that names the certificate and the one that lists the ports it serves."""

    source: str
    certificate_annotation: str
    ports_annotation: str

    def annotations(self, certificate: object, port: int) -> dict[str, object]:
        """The Service annotations that serve `certificate` (an id, or a Pulumi Output of one) on `port`."""
        return {self.certificate_annotation: certificate, self.ports_annotation: str(port)}


@dataclass(frozen=True)
class LoadBalancer:
    """A Service of type LoadBalancer on one cloud: its fixed annotations, and the annotation whose value
    makes it private or public (a None value: leave the annotation out); `tls`, where the load balancer can
    terminate TLS itself."""

    annotations: dict[str, str]
    scheme_annotation: str
    private: str | None
    public: str | None
    tls: LoadBalancerTls | None = None

    def service_annotations(self, exposure: str) -> dict[str, str]:
        """Annotations of a Service exposed `private` or `public`."""
        value = self.private if exposure == "private" else self.public
        return {**self.annotations, **({self.scheme_annotation: value} if value is not None else {})}


def _data() -> dict:
    return yaml.safe_load(resources.files("inferstack.catalog").joinpath("data", "endpoints.yaml").read_text())


@cache
def gateway() -> Gateway:
    row = _data()["gateway"]
    fields = {k: v for k, v in row.items() if not k.startswith("source") and k != "name"}
    fields["command"] = tuple(fields["command"])
    fields["routes"] = tuple(fields["routes"])
    return Gateway(name=row["name"], **fields)


@cache
def load_balancers() -> dict[str, LoadBalancer]:
    return {
        cloud: LoadBalancer(
            annotations=dict(row["annotations"]),
            scheme_annotation=row["scheme_annotation"],
            private=row["private"],
            public=row["public"],
            tls=_tls(row.get("tls")),
        )
        for cloud, row in _data()["load_balancers"].items()
    }


def _tls(row: dict | None) -> LoadBalancerTls | None:
    if row is None:
        return None
    return LoadBalancerTls(row["source"], row["certificate_annotation"], row["ports_annotation"])


def terminating_clouds(source: str) -> list[str]:
    """The clouds whose load balancer terminates TLS with certificates of `source` (e.g. acm), sorted."""
    return sorted(cloud for cloud, lb in load_balancers().items() if lb.tls is not None and lb.tls.source == source)


def load_balancer(cloud: str) -> LoadBalancer | None:
    """How `cloud` exposes the gateway, or None: no load balancer inferstack can rely on there."""
    return load_balancers().get(cloud)
