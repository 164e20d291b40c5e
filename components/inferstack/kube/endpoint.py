"""One authenticated endpoint per placement: an HAProxy gateway in front of the model's Service.

The engines' routers check no client keys and hold no requests (catalog/data/routers.yaml), so a
gateway (catalog/data/endpoints.yaml: HAProxy, whose Debian build the tests run) does what an endpoint
needs before a request reaches them, in this order:

1. `GET /healthz` answers 200 without a key, on the API port (for load balancer and DNS health checks)
   and on the monitor port, where `/metrics` is HAProxy's Prometheus exporter.
2. The API key (`Authorization: Bearer <key>`) is hashed (SHA-256, hex) and looked up in a map of hashes
   to client names, mounted from a Secret: the cluster holds no key in the clear. No or an unknown key:
   401.
3. Each client's request rate over the last minute is counted in a stick table; above its
   `requests_per_minute`: 429. Each gateway pod counts on its own, so with N pods a client that spreads
   its connections over all of them may reach N times its rate (HAProxy peers would share the tables;
   not built).
4. `GET /v1/models` is answered by the gateway (the models it routes); any path but the OpenAI routes:
   404.
5. A body larger than the buffer the gateway reads to find the model: 413. The `model` field of the
   JSON body picks the backend; no such field: 400; a model not served here: 404.
6. The client's key is removed and the request goes to the model's Service (its router, or its serving
   pods where the engine has no router), with the router's request timeout plus a margin.

TLS: with `tls.source: cert_manager` the gateway terminates it with the certificate it mounts; with a
source the load balancer serves (`acm` on AWS, `Site.balancer_tls`) the gateway listens on plain HTTP and
the Service's port 443 reaches it, the load balancer holding the certificate (`with_balancer_certificate`
adds its ARN at `pulumi up`).

The rendered config is what tests/e2e/test_endpoint.py runs. The Secret with the key hashes is built
only by `pulumi up` (`keys_secret`, from the secret config `inferstack:apiKeys`); `inferstack render`
writes every other object and no keys.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from inferstack import contract
from inferstack.catalog.endpoints import COMPONENT, Gateway, LoadBalancerTls, gateway, load_balancer
from inferstack.engines import adapter_for
from inferstack.kube import router as routing
from inferstack.kube.pods import container_security, http_probe, pod_security, spread
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan
from inferstack.plan.fleet import FleetPlan
from inferstack.plan.traffic import gateway_annotations
from inferstack.spec.models import Endpoint
from inferstack.spec.values import is_pinned

#: Files in the gateway's ConfigMap, mounted in `Gateway.config_dir`.
CONFIG_FILE = "haproxy.cfg"
MODELS_MAP = "models.map"
LIMITS_MAP = "limits.map"
#: The Secret's one file (SHA-256 hex of a key -> client name), mounted in `KEYS_DIR`.
KEYS_MAP = "keys.map"
KEYS_DIR = "keys"
#: The certificate Secret (cert-manager writes tls.crt and tls.key), mounted in `TLS_DIR`.
TLS_DIR = "tls"
#: The gateway waits this much longer than the router's own request timeout, so that the router,
#: which knows why a request failed, answers first.
TIMEOUT_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class Route:
    """One model the gateway serves: the name clients send as `model`, the Service that answers it,
    and how long a request may take there."""

    model: str
    host: str
    port: int
    timeout_seconds: int
    #: The pods behind that Service (the gateway's egress reaches them): namespace, labels, port.
    namespace: str
    pods: Mapping[str, str]
    pod_port: int


@dataclass(frozen=True)
class GatewayFiles:
    """Where the rendered config reads its files and which ports it binds (the pod's paths, or a test's)."""

    config_dir: str
    keys_dir: str
    tls_dir: str
    api_port: int
    monitor_port: int

    @classmethod
    def in_pod(cls, spec: Gateway, tls: bool) -> GatewayFiles:
        return cls(
            config_dir=spec.config_dir,
            keys_dir=f"{spec.config_dir}/{KEYS_DIR}",
            tls_dir=f"{spec.config_dir}/{TLS_DIR}",
            api_port=spec.https_port if tls else spec.http_port,
            monitor_port=spec.monitor_port,
        )


def name(plan: Plan) -> str:
    return f"{plan.spec.name}-endpoint"


def _error(message: str, kind: str) -> str:
    """An OpenAI-style error body, as a single-quoted HAProxy string (a quote in it written as JSON's \\u0027)."""
    body = json.dumps({"error": {"message": message, "type": kind}}, separators=(",", ":"))
    return "'" + body.replace("'", "\\u0027") + "'"


def backend_name(index: int) -> str:
    return f"model_{index}"


def models_map(routes: Sequence[Route]) -> str:
    """`model backend` lines, one per route, in the order of `routes`."""
    return "".join(f"{route.model} {backend_name(i)}\n" for i, route in enumerate(routes))


def limits_map(endpoint: Endpoint) -> str:
    """`client requests_per_minute` lines."""
    return "".join(f"{client.name} {client.requests_per_minute}\n" for client in endpoint.clients)


def key_hash(key: str) -> str:
    """What the keys map holds for a key: its SHA-256, lower-case hex (HAProxy's `sha2(256),hex,lower`)."""
    return hashlib.sha256(key.encode()).hexdigest()


def keys_map(keys: Mapping[str, str]) -> str:
    """`hash client` lines for client -> key, in client order."""
    return "".join(f"{key_hash(keys[client])} {client}\n" for client in sorted(keys))


def haproxy_config(routes: Sequence[Route], tls: bool, files: GatewayFiles, spec: Gateway) -> str:
    """The gateway's haproxy.cfg (see the module's docstring for what it does, in order)."""
    cfg, keys = files.config_dir, files.keys_dir
    listing = json.dumps(
        {"object": "list", "data": [{"id": r.model, "object": "model", "owned_by": "inferstack"} for r in routes]},
        separators=(",", ":"),
    )
    bind = f"bind :{files.api_port}" + (f" ssl crt {files.tls_dir}/tls.crt" if tls else "")
    routes_acl = " ".join(spec.routes)
    lines = [
        "# Rendered by inferstack (kube/endpoint.py); the API key map is mounted from a Secret.",
        "global",
        f"    maxconn {spec.max_connections}",
        f"    tune.bufsize {spec.buffer_bytes}",
        *(["    ssl-load-extra-del-ext", "    ssl-default-bind-options ssl-min-ver TLSv1.2"] if tls else []),
        "    log stdout format raw local0",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        f"    timeout connect {spec.connect_timeout_seconds}s",
        f"    timeout http-request {spec.http_request_timeout_seconds}s",
        f"    timeout client {max(r.timeout_seconds for r in routes)}s",
        f"    timeout server {max(r.timeout_seconds for r in routes)}s",
        "",
        "resolvers cluster",
        "    parse-resolv-conf",
        "    hold valid 10s",
        "",
        "frontend monitor",
        f"    bind :{files.monitor_port}",
        "    http-request set-log-level silent",
        f"    monitor-uri {spec.health_path}",
        f"    http-request use-service prometheus-exporter if {{ path {spec.metrics_path} }}",
        "    http-request deny deny_status 404",
        "",
        "frontend api",
        f"    {bind}",
        f"    monitor-uri {spec.health_path}",
        "    option http-buffer-request",
        "    option forwardfor",
        f"    http-request set-var(txn.client) req.fhdr(authorization),word(2,' '),sha2(256),hex,lower,"
        f"map({keys}/{KEYS_MAP})",
        "    http-request return status 401 content-type application/json hdr www-authenticate Bearer string "
        + _error("missing or unknown API key", "authentication_error")
        + " unless { var(txn.client) -m found }",
        "    http-request track-sc0 var(txn.client) table clients",
        f"    http-request set-var(txn.limit) var(txn.client),map_str_int({cfg}/{LIMITS_MAP},0)",
        "    http-request return status 429 content-type application/json hdr retry-after 60 string "
        + _error("rate limit exceeded for this API key", "rate_limit_error")
        + " if { sc_http_req_rate(0),sub(txn.limit) gt 0 }",
        f"    http-request return status 200 content-type application/json string '{listing}' "
        "if METH_GET { path /v1/models }",
        "    http-request return status 404 content-type application/json string "
        + _error("no such route", "invalid_request_error")
        + f" unless {{ path {routes_acl} }}",
        "    http-request set-var(txn.body_size) req.body_size",
        "    http-request return status 413 content-type application/json string "
        + _error(f"request body larger than the gateway's {spec.buffer_bytes}-byte buffer", "invalid_request_error")
        + " if { req.body_len,sub(txn.body_size) lt 0 }",
        "    http-request set-var(txn.model) req.body,json_query('$.model')",
        "    http-request return status 400 content-type application/json string "
        + _error("the request body has no model", "invalid_request_error")
        + " unless { var(txn.model) -m found }",
        f"    http-request set-var(txn.backend) var(txn.model),map({cfg}/{MODELS_MAP})",
        "    http-request return status 404 content-type application/json string "
        + _error("model not served by this endpoint", "invalid_request_error")
        + " unless { var(txn.backend) -m found }",
        "    http-request del-header authorization",
        "    use_backend %[var(txn.backend)]",
        "",
        "backend clients",
        "    stick-table type string len 64 size 1k expire 2m store http_req_rate(1m)",
    ]
    for i, route in enumerate(routes):
        lines += [
            "",
            f"backend {backend_name(i)}",
            f"    timeout server {route.timeout_seconds}s",
            f"    server {backend_name(i)} {route.host}:{route.port} resolvers cluster init-addr last,libc,none",
        ]
    return "\n".join(lines) + "\n"


def route(plan: Plan, placement: PlacementPlan) -> Route:
    """The model's Service in this placement (its router's, or its serving pods' without a router)."""
    front = routing.router(plan)
    slowest = (
        routing.request_timeout_seconds(plan, placement, front)
        if front is not None
        else math.ceil(plan.spec.slo.e2e_p95_ms / 1000)
    )
    return Route(
        model=plan.spec.served_name,
        host=f"{plan.spec.name}.{plan.spec.namespace}.svc.cluster.local",
        port=adapter_for(plan.spec.engine.name).port,
        timeout_seconds=slowest + TIMEOUT_MARGIN_SECONDS,
        namespace=plan.spec.namespace,
        pods=contract.labels(plan.spec.name, placement.name, routing.COMPONENT if front else "inference"),
        pod_port=front.port if front else adapter_for(plan.spec.engine.name).port,
    )


@dataclass(frozen=True)
class Site:
    """One gateway: its objects' name, namespace and labels, the cloud whose load balancer exposes it,
    the spec's endpoint section, the models it routes, and what its Service needs beyond the load
    balancer's own annotations (a global endpoint's, `plan.traffic.gateway_annotations`)."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    cloud: str
    endpoint: Endpoint
    routes: tuple[Route, ...]
    service_annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        """True where the gateway terminates TLS itself (a cert-manager certificate it mounts)."""
        return self.endpoint.tls.source == "cert_manager"

    @property
    def https(self) -> bool:
        """True where clients call over TLS: the gateway's or the load balancer's (`tls.source` acm)."""
        return self.endpoint.tls.source != "none"

    @property
    def balancer_tls(self) -> LoadBalancerTls | None:
        """How the site's load balancer serves the spec's certificate, where the load balancer terminates TLS
        (`tls.source` acm on AWS); None where the gateway does or nothing does."""
        lb = load_balancer(self.cloud)
        tls = lb.tls if lb is not None else None
        return tls if tls is not None and tls.source == self.endpoint.tls.source else None

    @property
    def keys_secret(self) -> str:
        return f"{self.name}-keys"

    @property
    def tls_secret(self) -> str:
        return f"{self.name}-tls"


def model_site(plan: Plan, placement: PlacementPlan) -> Site | None:
    """A model's own gateway in its namespace, routing its served name; None without `endpoint`."""
    if plan.spec.endpoint is None:
        return None
    return Site(
        name=name(plan),
        namespace=plan.spec.namespace,
        labels=contract.labels(plan.spec.name, placement.name, COMPONENT),
        cloud=placement.cloud,
        endpoint=plan.spec.endpoint,
        routes=(route(plan, placement),),
        service_annotations=gateway_annotations(plan, placement.name),
    )


def platform_site(result: FleetPlan, placement: str) -> Site | None:
    """A platform placement's gateway in the ingress namespace (whose pods the routers' policies admit),
    routing every model bound to that placement by its served name; None without `endpoint` there."""
    platform = result.fleet.platform
    if platform is None or (endpoint := platform.placement(placement).endpoint) is None:
        return None
    planned = next(p for p in result.placements if p.name == placement)
    routes = sorted(
        (
            route(plan, bound)
            for plan in result.models
            for bound in plan.placements
            if bound.name == placement and plan.spec.placement(bound.name).platform == platform.name
        ),
        key=lambda r: r.model,
    )
    return Site(
        name=f"{platform.name}-{COMPONENT}",
        namespace=contract.INGRESS_NAMESPACE,
        labels=contract.labels(platform.name, placement, COMPONENT),
        cloud=planned.cloud,
        endpoint=endpoint,
        routes=tuple(routes),
    )


def _meta(site: Site, object_name: str | None = None, annotations: dict | None = None) -> dict:
    meta = {"name": object_name or site.name, "namespace": site.namespace, "labels": dict(site.labels)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def config_data(site: Site) -> dict[str, str]:
    spec = gateway()
    return {
        CONFIG_FILE: haproxy_config(site.routes, site.tls, GatewayFiles.in_pod(spec, site.tls), spec),
        MODELS_MAP: models_map(site.routes),
        LIMITS_MAP: limits_map(site.endpoint),
    }


def config_map(site: Site) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(site), "data": config_data(site)}


def keys_secret(site: Site, keys_map_text: object) -> dict:
    """The Secret with the keys map (`keys_map`); `keys_map_text` may be a Pulumi secret Output."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(site, site.keys_secret),
        "type": "Opaque",
        "stringData": {KEYS_MAP: keys_map_text},
    }


def certificate(site: Site) -> dict | None:
    """cert-manager's Certificate for the hostname, into the Secret the gateway mounts; None unless
    `tls.source` is cert_manager."""
    endpoint = site.endpoint
    if endpoint.tls.source != "cert_manager":
        return None
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(site),
        "spec": {
            "secretName": site.tls_secret,
            "dnsNames": [endpoint.hostname],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": endpoint.tls.issuer},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
    }


def service_account(site: Site) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(site),
        "automountServiceAccountToken": False,
    }


def deployment(site: Site, skips: dict) -> dict:
    """The gateway pods, hardened like every other; `skips` are the checkov annotations. The pod template
    carries the config's hash, so a changed config rolls the pods."""
    spec = gateway()
    files = GatewayFiles.in_pod(spec, site.tls)
    size = {"cpu": f"{spec.cpu_m}m", "memory": f"{spec.memory_mib}Mi"}
    digest = hashlib.sha256(json.dumps(config_data(site), sort_keys=True).encode()).hexdigest()
    mounts = [
        {"name": "config", "mountPath": files.config_dir, "readOnly": True},
        {"name": "keys", "mountPath": files.keys_dir, "readOnly": True},
    ]
    volumes = [
        {"name": "config", "configMap": {"name": site.name}},
        {"name": "keys", "secret": {"secretName": site.keys_secret}},
    ]
    if site.tls:
        mounts.append({"name": "tls", "mountPath": files.tls_dir, "readOnly": True})
        volumes.append({"name": "tls", "secret": {"secretName": site.tls_secret}})
    container = {
        "name": COMPONENT,
        "image": image(site.endpoint),
        "imagePullPolicy": "IfNotPresent",
        "command": [*spec.command, f"{files.config_dir}/{CONFIG_FILE}"],
        "ports": [
            {"name": "api", "containerPort": files.api_port, "protocol": "TCP"},
            {"name": "monitor", "containerPort": files.monitor_port, "protocol": "TCP"},
        ],
        "resources": {"requests": dict(size), "limits": dict(size)},
        "livenessProbe": http_probe(spec.health_path, 3, port="monitor"),
        "readinessProbe": http_probe(spec.health_path, 2, port="monitor"),
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    labels = dict(site.labels)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(site, annotations=skips),
        "spec": {
            "replicas": site.endpoint.replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels, "annotations": {f"{contract.DOMAIN}/config-sha256": digest}},
                "spec": {
                    "serviceAccountName": site.name,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "topologySpreadConstraints": spread(labels),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service_port(endpoint: Endpoint) -> int:
    """The port clients call: 443 with TLS, 80 without."""
    return 443 if endpoint.tls.source != "none" else 80


def service(site: Site) -> dict:
    """What clients call: a load balancer of the site's cloud, internal or public as the spec says
    (catalog/data/endpoints.yaml), or a ClusterIP Service where inferstack knows no load balancer."""
    lb = load_balancer(site.cloud)
    spec_: dict = {
        "type": "ClusterIP" if lb is None else "LoadBalancer",
        "selector": dict(site.labels),
        "ports": [{"name": "api", "port": service_port(site.endpoint), "targetPort": "api", "protocol": "TCP"}],
    }
    own = lb.service_annotations(site.endpoint.exposure) if lb is not None else {}
    if site.balancer_tls is not None:
        own[site.balancer_tls.ports_annotation] = str(service_port(site.endpoint))
    annotations = {**own, **site.service_annotations} or None
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(site, annotations=annotations), "spec": spec_}


def with_balancer_certificate(objects: list[dict], site: Site, certificate: object) -> list[dict]:
    """`objects` with the site's Service annotated with `certificate` (an id or a Pulumi Output of one), which
    its load balancer then serves on the API port (`Site.balancer_tls`; the Service already lists that
    port). Only `pulumi up` knows the certificate, so `inferstack render` writes the Service without it."""
    tls = site.balancer_tls
    if tls is None:
        raise ValueError(f"the endpoint {site.name} has no load balancer that serves {site.endpoint.tls.source}")

    def annotated(obj: dict) -> dict:
        if (obj["kind"], obj["metadata"]["name"]) != ("Service", site.name):
            return obj
        annotations = {
            **obj["metadata"].get("annotations", {}),
            **tls.annotations(certificate, service_port(site.endpoint)),
        }
        return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}

    return [annotated(o) for o in objects]


def disruption_budget(site: Site) -> dict:
    """As every inferstack budget (`kube.objects.disruption_budget`): one pod at a time with two or more
    replicas, never the last one with one."""
    budget = {"maxUnavailable": 1} if site.endpoint.replicas > 1 else {"minAvailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(site),
        "spec": {**budget, "unhealthyPodEvictionPolicy": "AlwaysAllow", "selector": {"matchLabels": dict(site.labels)}},
    }


def network_policy(site: Site, dns: dict) -> dict:
    """Gateway pods: the API port from anywhere (the load balancer forwards clients' addresses), the
    monitor port from monitoring; out to DNS (`dns`) and each route's pods (router or serving) on their
    port. The routers' own policies admit pods of their namespace and of the ingress namespace, where a
    platform's gateway runs."""
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": contract.MONITORING_NAMESPACE}}}
    spec = gateway()
    upstream = []
    for r in site.routes:
        peer: dict = {"podSelector": {"matchLabels": dict(r.pods)}}
        if r.namespace != site.namespace:
            peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": r.namespace}}
        upstream.append({"to": [peer], "ports": [{"protocol": "TCP", "port": r.pod_port}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(site),
        "spec": {
            "podSelector": {"matchLabels": dict(site.labels)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"ports": [{"protocol": "TCP", "port": GatewayFiles.in_pod(spec, site.tls).api_port}]},
                {"from": [monitoring], "ports": [{"protocol": "TCP", "port": spec.monitor_port}]},
            ],
            "egress": [dns, *upstream],
        },
    }


def objects(site: Site, skips: dict, dns: dict) -> list[dict]:
    """The gateway's account, config, certificate, Deployment, Service, disruption budget and
    NetworkPolicy. The Secret with the API key hashes is not here: only `pulumi up` builds it
    (`keys_secret`, from the secret config)."""
    cert = certificate(site)
    return [
        service_account(site),
        config_map(site),
        *([cert] if cert is not None else []),
        deployment(site, skips),
        service(site),
        disruption_budget(site),
        network_policy(site, dns),
    ]


def image(endpoint: Endpoint) -> str:
    """The spec's gateway image, else the catalog's."""
    return endpoint.image or gateway().image


def image_pinned(endpoint: Endpoint) -> bool:
    return is_pinned(image(endpoint))
