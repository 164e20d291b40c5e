"""The endpoint per placement: an HAProxy gateway with API keys, per-client rate limits, TLS and routing by
the OpenAI `model` field, in front of the model's router; its Service per cloud, certificate, policies,
PodMonitor, and the rendered config accepted by the real haproxy binary, kubernetes-validate and checkov."""

import json
import os
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from inferstack.catalog.endpoints import gateway, load_balancer, terminating_clouds
from inferstack.kube import endpoint, placement_objects
from inferstack.kube.platform import platform_objects
from inferstack.monitoring import placement_monitoring
from inferstack.monitoring.fleet import platform_monitoring
from inferstack.plan import plan
from inferstack.plan.fleet import plan_fleet
from inferstack.render import fleet_contents
from inferstack.report import endpoint_summary, plan_text
from inferstack.spec import SpecError
from inferstack.spec.fleet import load_fleet
from tests.conftest import spec_variant
from tests.e2e.gateway import self_signed, write_gateway
from tests.fleet_folder import example, fleet_folder
from tests.unit.test_render import _checkov

CLIENTS = [{"name": "web", "requests_per_minute": 60}, {"name": "batch", "requests_per_minute": 600}]
CERT = {"hostname": "llm.example.com", "tls": {"source": "cert_manager", "issuer": "corp-ca"}, "clients": CLIENTS}
LABELS = {
    "app.kubernetes.io/name": "quickstart",
    "app.kubernetes.io/instance": "quickstart-us-central",
    "app.kubernetes.io/component": "endpoint",
    "app.kubernetes.io/managed-by": "inferstack",
}


def _objects(source="quickstart", endpoint_spec=None, extra=None, index=0):
    result = plan(spec_variant(source, {"endpoint": endpoint_spec or CERT, **(extra or {})}))
    return result, {(o["kind"], o["metadata"]["name"]): o for o in placement_objects(result, result.placements[index])}


def test_the_gateway_catalog_row():
    """Facts from endpoints.yaml's sources: the release the tests run, its official image, ports, paths."""
    spec = gateway()
    assert (spec.name, spec.version, spec.image) == ("haproxy", "2.6.12", "haproxy:2.6.12")
    assert spec.command == ("haproxy", "-W", "-db", "-f")
    assert (spec.https_port, spec.http_port, spec.monitor_port) == (8443, 8080, 8404)
    assert (spec.health_path, spec.metrics_path, spec.config_dir) == ("/healthz", "/metrics", "/usr/local/etc/haproxy")
    assert spec.routes == ("/v1/completions", "/v1/chat/completions", "/v1/embeddings")
    # 512 connections x 2 buffers x 256 KiB = 256 MiB, inside the 512 MiB limit.
    assert spec.max_connections * 2 * spec.buffer_bytes == 256 * 1024 * 1024 < spec.memory_mib * 1024 * 1024


def test_load_balancers_per_cloud():
    aws, gcp = load_balancer("aws"), load_balancer("gcp")
    assert aws is not None and gcp is not None
    assert aws.service_annotations("private") == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    }
    assert aws.service_annotations("public") == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    assert gcp.service_annotations("private") == {"networking.gke.io/load-balancer-type": "Internal"}
    assert gcp.service_annotations("public") == {}
    assert load_balancer("kubernetes") is None


def test_no_endpoint_no_gateway_objects():
    result = plan(spec_variant("quickstart", {}))
    kinds = {o["metadata"]["name"] for o in placement_objects(result, result.placements[0])}
    assert "quickstart-endpoint" not in kinds
    assert all(
        o["metadata"]["name"] != "quickstart-us-central-endpoint" for o in placement_monitoring(result, "us-central")
    )


def test_the_gateway_objects_follow_the_serving_objects_in_order():
    result = plan(spec_variant("quickstart", {"endpoint": CERT}))
    objects = placement_objects(result, result.placements[0])
    tail = [(o["kind"], o["metadata"]["name"]) for o in objects[-7:]]
    assert tail == [
        ("ServiceAccount", "quickstart-endpoint"),
        ("ConfigMap", "quickstart-endpoint"),
        ("Certificate", "quickstart-endpoint"),
        ("Deployment", "quickstart-endpoint"),
        ("Service", "quickstart-endpoint"),
        ("PodDisruptionBudget", "quickstart-endpoint"),
        ("NetworkPolicy", "quickstart-endpoint"),
    ]
    assert not [o for o in objects if o["kind"] == "Secret"]  # the keys come only from `pulumi up`
    assert all(o["metadata"]["labels"] == LABELS for o in objects[-7:])


def test_the_config_routes_the_served_name_to_the_models_service_with_the_routers_timeout():
    """quickstart: startup probe 420 s + SLO e2e p95 20 s = the router's 440 s, and the gateway's 5 s more."""
    _, objects = _objects()
    data = objects[("ConfigMap", "quickstart-endpoint")]["data"]
    assert data["models.map"] == "quickstart model_0\n"
    assert data["limits.map"] == "web 60\nbatch 600\n"
    config = data["haproxy.cfg"].splitlines()
    assert config[config.index("backend model_0") + 1 :] == [
        "    timeout server 445s",
        "    server model_0 quickstart.quickstart.svc.cluster.local:8000 resolvers cluster init-addr last,libc,none",
    ]
    assert "    bind :8443 ssl crt /usr/local/etc/haproxy/tls/tls.crt" in config
    assert "    bind :8404" in config and "    monitor-uri /healthz" in config
    assert (
        "    http-request set-var(txn.client) req.fhdr(authorization),word(2,' '),sha2(256),hex,lower,"
        "map(/usr/local/etc/haproxy/keys/keys.map)"
    ) in config
    assert (
        "    http-request set-var(txn.limit) var(txn.client),map_str_int(/usr/local/etc/haproxy/limits.map,0)" in config
    )
    assert "    http-request del-header authorization" in config
    assert (
        "    http-request return status 200 content-type application/json string "
        """'{"object":"list","data":[{"id":"quickstart","object":"model","owned_by":"inferstack"}]}' """
        "if METH_GET { path /v1/models }"
    ) in config


def test_without_tls_the_gateway_listens_in_plain_http_on_port_80():
    plain = {"tls": {"source": "none"}, "clients": CLIENTS}
    _, objects = _objects(endpoint_spec=plain)
    assert "    bind :8080" in objects[("ConfigMap", "quickstart-endpoint")]["data"]["haproxy.cfg"].splitlines()
    assert ("Certificate", "quickstart-endpoint") not in objects
    assert objects[("Service", "quickstart-endpoint")]["spec"]["ports"] == [
        {"name": "api", "port": 80, "targetPort": "api", "protocol": "TCP"}
    ]
    volumes = objects[("Deployment", "quickstart-endpoint")]["spec"]["template"]["spec"]["volumes"]
    assert [v["name"] for v in volumes] == ["config", "keys"]


def test_keys_map_holds_sha256_hex_of_each_key():
    # sha256sum of the bytes "sk-test-web"
    assert endpoint.keys_map({"web": "sk-test-web"}) == (
        "be29a6ba70e1aba1dcdd0e49578255283a45ecf3bfa7ed3bd6a0daa13512570d web\n"
    )


def test_certificate_from_the_named_issuer():
    _, objects = _objects()
    assert objects[("Certificate", "quickstart-endpoint")]["spec"] == {
        "secretName": "quickstart-endpoint-tls",
        "dnsNames": ["llm.example.com"],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "corp-ca"},
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
    }


def test_gateway_pods_are_hardened_and_mount_config_keys_and_certificate():
    _, objects = _objects()
    deployment = objects[("Deployment", "quickstart-endpoint")]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
        "fsGroup": 10001,
    }
    (container,) = pod["containers"]
    assert container["image"] == "haproxy:2.6.12"
    assert container["command"] == ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == {"cpu": "1000m", "memory": "512Mi"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "monitor"}
    assert container["volumeMounts"] == [
        {"name": "config", "mountPath": "/usr/local/etc/haproxy", "readOnly": True},
        {"name": "keys", "mountPath": "/usr/local/etc/haproxy/keys", "readOnly": True},
        {"name": "tls", "mountPath": "/usr/local/etc/haproxy/tls", "readOnly": True},
    ]
    assert pod["volumes"][1:] == [
        {"name": "keys", "secret": {"secretName": "quickstart-endpoint-keys"}},
        {"name": "tls", "secret": {"secretName": "quickstart-endpoint-tls"}},
    ]


def test_a_changed_config_rolls_the_gateway_pods():
    def digest(clients):
        _, objects = _objects(endpoint_spec={**CERT, "clients": clients})
        return objects[("Deployment", "quickstart-endpoint")]["spec"]["template"]["metadata"]["annotations"][
            "inferstack.dev/config-sha256"
        ]

    assert digest(CLIENTS) != digest([{"name": "web", "requests_per_minute": 61}])


def test_service_is_an_internal_load_balancer_on_gke_by_default():
    _, objects = _objects()
    service = objects[("Service", "quickstart-endpoint")]
    assert service["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert service["spec"] == {
        "type": "LoadBalancer",
        "selector": LABELS,
        "ports": [{"name": "api", "port": 443, "targetPort": "api", "protocol": "TCP"}],
    }


def test_public_on_gke_is_the_default_external_load_balancer():
    _, objects = _objects(endpoint_spec={**CERT, "exposure": "public"})
    service = objects[("Service", "quickstart-endpoint")]
    assert "annotations" not in service["metadata"] and service["spec"]["type"] == "LoadBalancer"


#: The gateway image pinned by a digest (a made-up one: nothing pulls it here).
PINNED = "haproxy:2.6.12@sha256:" + "a" * 64


def test_aws_gets_an_internal_nlb_from_the_in_tree_controller():
    _, objects = _objects("aws-llama-8b-us", {**CERT, "image": PINNED})
    service = objects[("Service", "llama-8b-us-endpoint")]
    assert service["spec"]["type"] == "LoadBalancer" and "loadBalancerClass" not in service["spec"]
    assert service["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"


def test_existing_clusters_keep_a_cluster_ip_service():
    _, objects = _objects("existing-cluster")
    service = objects[("Service", "mistral-7b-endpoint")]
    assert service["spec"]["type"] == "ClusterIP" and "annotations" not in service["metadata"]


def test_gateway_network_policy_reaches_only_the_router_and_dns():
    _, objects = _objects()
    policy = objects[("NetworkPolicy", "quickstart-endpoint")]["spec"]
    assert policy["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 8443}]},
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": 8404}],
        },
    ]
    assert policy["egress"][1] == {
        "to": [{"podSelector": {"matchLabels": {**LABELS, "app.kubernetes.io/component": "router"}}}],
        "ports": [{"protocol": "TCP", "port": 8080}],
    }
    assert policy["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def test_without_a_router_the_gateway_reaches_the_serving_pods():
    _, objects = _objects(extra={"routing": {"enabled": False}})
    egress = objects[("NetworkPolicy", "quickstart-endpoint")]["spec"]["egress"][1]
    assert egress["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "inference"
    assert egress["ports"] == [{"protocol": "TCP", "port": 8000}]
    config = objects[("ConfigMap", "quickstart-endpoint")]["data"]["haproxy.cfg"]
    assert "    timeout server 25s\n" in config  # SLO e2e p95 20 s + 5 s, no wake-up


def test_the_disruption_budget_keeps_one_gateway_pod():
    _, objects = _objects()
    assert objects[("PodDisruptionBudget", "quickstart-endpoint")]["spec"]["maxUnavailable"] == 1
    _, single = _objects(endpoint_spec={**CERT, "replicas": 1})
    assert single[("PodDisruptionBudget", "quickstart-endpoint")]["spec"]["minAvailable"] == 1


def test_the_gateway_is_scraped_on_its_monitor_port():
    result, _ = _objects()
    monitors = {
        o["metadata"]["name"]: o for o in placement_monitoring(result, "us-central") if o["kind"] == "PodMonitor"
    }
    spec = monitors["quickstart-us-central-endpoint"]["spec"]
    assert spec["selector"]["matchLabels"]["app.kubernetes.io/component"] == "endpoint"
    (scrape,) = spec["podMetricsEndpoints"]
    assert (scrape["port"], scrape["path"]) == ("monitor", "/metrics")
    assert scrape["relabelings"][0] == {"action": "replace", "targetLabel": "job", "replacement": "quickstart-endpoint"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"exposure": "public", "tls": {"source": "none"}},
            "endpoint.tls = {'source': 'none'}: a public endpoint without TLS would send every API key over the "
            "internet in the clear. Allowed: source cert_manager or acm for a public endpoint. Fix: set "
            "endpoint.tls.source: cert_manager with an issuer, or endpoint.exposure: private.",
        ),
        (
            {"tls": {"source": "cert_manager"}},
            "endpoint.tls.issuer: cert_manager needs the issuer that signs the certificate. Allowed: the "
            "name of a cert-manager ClusterIssuer. Fix: set endpoint.tls.issuer (kubectl get clusterissuers).",
        ),
        (
            {"hostname": None},
            "endpoint.tls = {'source': 'cert_manager', 'issuer': 'corp-ca'}: cert_manager needs the hostname the "
            "certificate names. Allowed: endpoint.hostname set. Fix: set endpoint.hostname, e.g. llm.example.com.",
        ),
        (
            {"clients": [CLIENTS[0], CLIENTS[0]]},
            "endpoint.clients = [{'name': 'web', 'requests_per_minute': 60}, {'name': 'web', "
            "'requests_per_minute': 60}]: client 'web' is listed twice. Allowed: each client name once. Fix: "
            "merge the entries.",
        ),
    ],
)
def test_bad_endpoint_specs_name_the_field_and_the_fix(change, message):
    with pytest.raises(SpecError) as failed:
        spec_variant("quickstart", {"endpoint": {**CERT, **change}})
    assert f"  - {message}" in failed.value.render().splitlines()


def test_inf013_at_load_a_public_endpoint_needs_private_networking_off():
    public = {**CERT, "exposure": "public"}
    _, objects = _objects(endpoint_spec=public)  # quickstart: private_networking false
    assert objects[("Service", "quickstart-endpoint")]["spec"]["type"] == "LoadBalancer"
    with pytest.raises(SpecError) as failed:
        spec_variant("aws-llama-8b-us", {"endpoint": {**public, "image": PINNED}})
    assert failed.value.render().splitlines()[1:] == [
        "  - endpoint.exposure = 'public': a public endpoint while compliance.private_networking is true (INF013). "
        "Allowed: private. Fix: set endpoint.exposure: private, or compliance.private_networking: false where the "
        "organisation allows it."
    ]


def test_pinned_images_cover_the_gateway():
    with pytest.raises(SpecError) as failed:
        spec_variant("aws-llama-8b-us", {"endpoint": CERT})
    assert failed.value.render().splitlines()[1:] == [
        "  - endpoint.image = 'haproxy:2.6.12': compliance.pin_images requires an image pinned by digest. Allowed: "
        "an image reference ending in @sha256:<64 hex>. Fix: set endpoint.image to the haproxy image with the digest "
        "your registry reports for the tag."
    ]
    _, objects = _objects("aws-llama-8b-us", {**CERT, "image": PINNED})
    container = objects[("Deployment", "llama-8b-us-endpoint")]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == PINNED


def _haproxy() -> str:
    found = shutil.which("haproxy")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("haproxy is not installed: scripts/test.sh must run scripts/install-haproxy.sh")
    pytest.skip("haproxy not installed here; run scripts/install-haproxy.sh")


@pytest.mark.parametrize("tls", ["cert_manager", "none"])
def test_haproxy_accepts_the_rendered_config(tmp_path, tls):
    binary = _haproxy()
    spec = CERT if tls == "cert_manager" else {"tls": {"source": "none"}, "clients": CLIENTS}
    _, objects = _objects(endpoint_spec=spec)
    config = write_gateway(objects[("ConfigMap", "quickstart-endpoint")], tmp_path, {"web": "k1"}, 18443, 18404)
    if tls == "cert_manager":
        self_signed(tmp_path)
    result = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout


def test_gateway_objects_pass_strict_schema_validation():
    _, objects = _objects()
    checked = [obj for key, obj in objects.items() if key[1] == "quickstart-endpoint" and key[0] != "Certificate"]
    for obj in checked:
        kubernetes_validate.validate(obj, "1.29.0", strict=True)
    assert len(checked) == 6


def test_checkov_reports_no_failed_check_on_the_gateway(tmp_path):
    checkov = _checkov()
    _, objects = _objects()
    for (kind, name), obj in objects.items():
        if name == "quickstart-endpoint":
            (tmp_path / f"{kind.lower()}.yaml").write_text(yaml.safe_dump(obj))
    result = subprocess.run(
        [
            checkov,
            *("-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "--compact", "--quiet"),
            *("--output", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(result.stdout)
    assert [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]] == []
    assert report["summary"]["passed"] > 50


def _fleet(tmp_path, endpoint_spec, compliance=None):
    placements = example("platform.yaml")["placements"]
    placements[1]["endpoint"] = endpoint_spec
    change = {"placements": placements, **({"compliance": compliance} if compliance else {})}
    return plan_fleet(load_fleet(fleet_folder(tmp_path / "fleet", {"platform.yaml": change})))


PLATFORM_LABELS = {
    "app.kubernetes.io/name": "prod",
    "app.kubernetes.io/instance": "prod-us-central",
    "app.kubernetes.io/component": "endpoint",
    "app.kubernetes.io/managed-by": "inferstack",
}


def test_a_platform_placement_gets_one_gateway_for_every_model_bound_to_it(tmp_path):
    result = _fleet(tmp_path, CERT)
    objects = platform_objects(result, "us-central")
    assert [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects[4:]] == [
        ("Namespace", "ingress", None),
        ("ServiceAccount", "prod-endpoint", "ingress"),
        ("ConfigMap", "prod-endpoint", "ingress"),
        ("Certificate", "prod-endpoint", "ingress"),
        ("Deployment", "prod-endpoint", "ingress"),
        ("Service", "prod-endpoint", "ingress"),
        ("PodDisruptionBudget", "prod-endpoint", "ingress"),
        ("NetworkPolicy", "prod-endpoint", "ingress"),
    ]
    assert objects[4]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    by_key = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert by_key[("Service", "prod-endpoint")]["spec"]["selector"] == PLATFORM_LABELS
    data = by_key[("ConfigMap", "prod-endpoint")]["data"]
    # The two models bound to us-central (chat-8b-mig of team chat, search-qwen of team search), by served name.
    assert data["models.map"] == "llama-3.1-8b-mig model_0\nqwen2.5-7b model_1\n"
    config = data["haproxy.cfg"]
    assert (
        "    server model_0 chat-8b-mig.chat.svc.cluster.local:8000 resolvers cluster init-addr last,libc,none\n"
        in config
    )
    assert (
        "    server model_1 search-qwen.search.svc.cluster.local:8000 resolvers cluster init-addr last,libc,none\n"
        in config
    )
    egress = by_key[("NetworkPolicy", "prod-endpoint")]["spec"]["egress"][1]
    assert egress == {
        "to": [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "chat-8b-mig",
                        "app.kubernetes.io/instance": "chat-8b-mig-us-central",
                        "app.kubernetes.io/component": "router",
                        "app.kubernetes.io/managed-by": "inferstack",
                    }
                },
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "chat"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 8080}],
    }
    # The routers admit the ingress namespace already (kube.objects.network_policies).
    assert not [o for o in platform_objects(result, "us-east") if o["metadata"]["name"] == "prod-endpoint"]


def test_a_fleet_render_writes_the_platform_gateway_beside_the_team_objects(tmp_path):
    files = fleet_contents(_fleet(tmp_path, CERT))
    gateway_files = sorted(f for f in files if f.startswith("us-central/_platform/") and "prod-endpoint" in f)
    assert len(gateway_files) == 7 and not any("secret" in f for f in gateway_files)


def test_inf013_on_a_platform_placement(tmp_path):
    with pytest.raises(SpecError) as failed:
        _fleet(tmp_path, {**CERT, "exposure": "public"})
    assert failed.value.render().splitlines()[1] == (
        f"  - {tmp_path / 'fleet' / 'platform.yaml'}: placements[1].endpoint.exposure = 'public': a public "
        "endpoint while compliance.private_networking is true (INF013). Allowed: private. Fix: set "
        "placements[1].endpoint.exposure: private, or compliance.private_networking: false where the organisation "
        "allows it."
    )
    result = _fleet(tmp_path / "open", {**CERT, "exposure": "public"}, {"private_networking": False})
    service = next(o for o in platform_objects(result, "us-central") if o["kind"] == "Service")
    assert "annotations" not in service["metadata"]


def test_the_platform_gateway_is_scraped_in_the_ingress_namespace(tmp_path):
    result = _fleet(tmp_path, CERT)
    monitors = [o for o in platform_monitoring(result, "us-central") if o["kind"] == "PodMonitor"]
    assert [m["metadata"]["name"] for m in monitors] == ["prod-us-central-endpoint"]
    spec = monitors[0]["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["ingress"]}
    assert spec["selector"]["matchLabels"] == {k: v for k, v in PLATFORM_LABELS.items() if "managed-by" not in k}
    (scrape,) = spec["podMetricsEndpoints"]
    assert (scrape["port"], scrape["path"]) == ("monitor", "/metrics")
    assert [r["replacement"] for r in scrape["relabelings"]] == ["prod-endpoint", "us-central", "prod-us-central"]
    assert not [o for o in platform_monitoring(result, "us-east") if o["kind"] == "PodMonitor"]


def test_the_plan_report_states_the_endpoint():
    result, _ = _objects()
    assert result.spec.endpoint is not None
    assert endpoint_summary(result.spec.endpoint) == (
        "private gateway, https://llm.example.com (cert-manager issuer corp-ca), 2 pod(s); clients web 60/min, "
        "batch 600/min per pod; keys from the secret config inferstack:apiKeys at `pulumi up` (render writes no "
        "Secret)"
    )
    assert "endpoint" in plan_text(result) and "endpoint" not in plan_text(plan(spec_variant("quickstart", {})))


ZONE = "Z0123456789ABCDEFGHIJ"
ACM = {"hostname": "llm.example.com", "tls": {"source": "acm", "zone_id": ZONE}, "clients": CLIENTS}


def test_the_aws_load_balancer_serves_acm_certificates_with_the_in_tree_annotations():
    aws, gcp = load_balancer("aws"), load_balancer("gcp")
    assert aws is not None and gcp is not None and aws.tls is not None
    assert aws.tls.source == "acm"
    assert aws.tls.annotations("arn:aws:acm:us-east-1:1:certificate/x", 443) == {
        "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": "arn:aws:acm:us-east-1:1:certificate/x",
        "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "443",
    }
    assert gcp.tls is None
    assert terminating_clouds("acm") == ["aws"]
    assert terminating_clouds("google_managed") == []


def test_with_acm_the_nlb_terminates_tls_and_the_gateway_serves_plain_http():
    _, objects = _objects("aws-llama-8b-us", {**ACM, "image": PINNED})
    service = objects[("Service", "llama-8b-us-endpoint")]
    # 443 for clients, to the gateway's plain HTTP port; the certificate's ARN only `pulumi up` knows.
    assert service["spec"]["ports"] == [{"name": "api", "port": 443, "targetPort": "api", "protocol": "TCP"}]
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "443",
    }
    pod = objects[("Deployment", "llama-8b-us-endpoint")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"][0] == {"name": "api", "containerPort": 8080, "protocol": "TCP"}
    assert [v["name"] for v in pod["volumes"]] == ["config", "keys"]
    assert ("Certificate", "llama-8b-us-endpoint") not in objects
    config = objects[("ConfigMap", "llama-8b-us-endpoint")]["data"]["haproxy.cfg"]
    assert "    bind :8080\n" in config and "ssl" not in config
    policy = objects[("NetworkPolicy", "llama-8b-us-endpoint")]["spec"]["ingress"][0]
    assert policy == {"ports": [{"protocol": "TCP", "port": 8080}]}


def test_the_certificate_arn_goes_on_the_gateway_service_only():
    result, _ = _objects("aws-llama-8b-us", {**ACM, "image": PINNED})
    site = endpoint.model_site(result, result.placements[0])
    assert site is not None and (site.tls, site.https) == (False, True)
    listed = list(placement_objects(result, result.placements[0]))
    annotated = endpoint.with_balancer_certificate(listed, site, "arn:aws:acm:us-east-1:1:certificate/x")
    changed = [(a["kind"], a["metadata"]["name"]) for a, o in zip(annotated, listed, strict=True) if a != o]
    assert changed == [("Service", "llama-8b-us-endpoint")]
    service = next(o for o in annotated if (o["kind"], o["metadata"]["name"]) == changed[0])
    assert service["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == (
        "arn:aws:acm:us-east-1:1:certificate/x"
    )


def test_a_cert_manager_site_has_no_load_balancer_certificate():
    result, _ = _objects("aws-llama-8b-us", {**CERT, "image": PINNED})
    site = endpoint.model_site(result, result.placements[0])
    assert site is not None and site.balancer_tls is None and (site.tls, site.https) == (True, True)
    with pytest.raises(ValueError) as failed:
        endpoint.with_balancer_certificate([], site, "arn")
    assert str(failed.value) == "the endpoint llama-8b-us-endpoint has no load balancer that serves cert_manager"


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        (
            {"source": "google_managed"},
            "endpoint.tls.source = 'google_managed': google_managed is not built: a GKE endpoint is an internal "
            "passthrough Network Load Balancer, which forwards TCP and holds no certificate, and Google-managed "
            "certificates (Certificate Manager) serve only on proxy load balancers such as the regional internal "
            "Application Load Balancer of a GKE Gateway (class gke-l7-rilb), which inferstack does not create. "
            "Allowed: cert_manager, acm (AWS placements) or none (private endpoints). Fix: set "
            "endpoint.tls.source: cert_manager with an issuer: the gateway then serves the certificate behind the "
            "internal load balancer.",
        ),
        (
            {"source": "acm"},
            "endpoint.tls.zone_id: acm validates the certificate with DNS records in a Route 53 hosted zone, and "
            "none is named. Allowed: the id of the public hosted zone that holds endpoint.hostname. Fix: set "
            "endpoint.tls.zone_id (aws route53 list-hosted-zones-by-name --dns-name <hostname's domain>).",
        ),
        (
            {"source": "cert_manager", "issuer": "corp-ca", "zone_id": ZONE},
            "endpoint.tls.zone_id = 'Z0123456789ABCDEFGHIJ': a zone_id only applies to source acm, not "
            "cert_manager. Fix: remove it.",
        ),
        (
            {"source": "acm", "zone_id": ZONE, "issuer": "corp-ca"},
            "endpoint.tls.issuer = 'corp-ca': an issuer only applies to source cert_manager, not acm. Fix: remove it.",
        ),
        (
            {"source": "acm", "zone_id": "z-lower"},
            "endpoint.tls.zone_id = 'z-lower': not a Route 53 hosted zone id. Allowed: Z followed by 1-31 "
            "upper-case letters and digits, e.g. Z0123456789ABCDEFGHIJ. Fix: copy the Hosted zone ID from aws "
            "route53 list-hosted-zones.",
        ),
    ],
)
def test_bad_tls_sources_name_the_field_and_the_fix(tls, message):
    with pytest.raises(SpecError) as failed:
        spec_variant("aws-llama-8b-us", {"endpoint": {**ACM, "tls": tls, "image": PINNED}})
    assert f"  - {message}" in failed.value.render().splitlines()


def test_acm_needs_the_hostname_it_certifies():
    with pytest.raises(SpecError) as failed:
        spec_variant("aws-llama-8b-us", {"endpoint": {**ACM, "hostname": None, "image": PINNED}})
    assert (
        "  - endpoint.tls = {'source': 'acm', 'zone_id': 'Z0123456789ABCDEFGHIJ'}: acm needs the hostname the "
        "certificate names. Allowed: endpoint.hostname set. Fix: set endpoint.hostname, e.g. llm.example.com."
    ) in failed.value.render().splitlines()


def test_acm_is_refused_on_a_cloud_whose_load_balancer_serves_no_acm_certificate():
    with pytest.raises(SpecError) as failed:
        spec_variant("quickstart", {"endpoint": ACM})
    assert failed.value.render().splitlines()[1:] == [
        "  - placements[0].cloud = 'gcp': endpoint.tls.source acm is a certificate the load balancer serves, and "
        "the endpoint on gcp has no load balancer that serves acm certificates. Allowed: placements on aws with "
        "tls.source acm. Fix: set endpoint.tls.source: cert_manager with an issuer (the gateway serves the "
        "certificate on any cloud)."
    ]


def test_acm_on_a_gcp_platform_placement_is_refused(tmp_path):
    with pytest.raises(SpecError) as failed:
        _fleet(tmp_path, ACM)
    assert failed.value.render().splitlines()[1] == (
        f"  - {tmp_path / 'fleet' / 'platform.yaml'}: placements[1].endpoint.tls.source = 'acm': a certificate the "
        "load balancer serves, and the endpoint on gcp has no load balancer that serves acm certificates. Allowed: "
        "cert_manager, or acm on aws. Fix: set placements[1].endpoint.tls.source: cert_manager with an issuer (the "
        "gateway serves the certificate)."
    )


def test_the_plan_names_the_acm_certificate_and_its_zone():
    result, _ = _objects("aws-llama-8b-us", {**ACM, "image": PINNED})
    assert result.spec.endpoint is not None
    assert endpoint_summary(result.spec.endpoint) == (
        "private gateway, https://llm.example.com (ACM certificate served by the load balancer, validated in Route "
        "53 zone Z0123456789ABCDEFGHIJ), 2 pod(s); clients web 60/min, batch 600/min per pod; keys from the secret "
        "config inferstack:apiKeys at `pulumi up` (render writes no Secret)"
    )
