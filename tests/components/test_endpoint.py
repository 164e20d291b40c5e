"""The endpoint under Pulumi mocks: per cloud the exact gateway resources `pulumi up` registers (the
Secret of key hashes from the API keys, the internal load balancer Service, the cert-manager
Certificate), the refusal of a client without a key, and the address each placement exposes."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from inferstack.deployment import EndpointAddress, _ingress, endpoint_keys
from inferstack.offline import acm_validation_option, load_balancer_status, run_offline
from inferstack.plan import plan
from inferstack.program import deploy
from tests.components.harness import run_program
from tests.conftest import ROOT, spec_variant
from tests.fleet_folder import example, fleet_folder

pytest.importorskip("pulumi_aws")
pytest.importorskip("pulumi_gcp")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIENTS = [{"name": "web", "requests_per_minute": 60}, {"name": "batch", "requests_per_minute": 600}]
ENDPOINT = {
    "hostname": "llm.example.com",
    "tls": {"source": "cert_manager", "issuer": "corp-ca"},
    "clients": CLIENTS,
    "image": "haproxy:2.6.12@sha256:" + "a" * 64,
}
KEYS = {"web": "sk-web-1", "batch": "sk-batch-2"}
#: How the Pulumi engine marks a secret value (pulumi.runtime.rpc: _special_sig_key, _special_secret_sig).
SECRET_SIG, SECRET_MARK = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def _run(source: str, keys=KEYS):
    result = plan(spec_variant(source, {"endpoint": ENDPOINT}))
    addresses: dict[str, object] = {}

    def program(**kwargs):
        deployments = deploy(**kwargs)
        for placement, address in deployments[0].endpoint_addresses.items():
            address.address.apply(lambda value, p=placement: addresses.__setitem__(p, value))
        return deployments

    return run_offline(program, deployment_plans=[result], api_keys=keys), result, addresses


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_gke_gets_the_key_hashes_an_internal_load_balancer_and_a_certificate():
    run, result, addresses = _run("quickstart")
    prefix = "quickstart-us-central-serving"
    secret = run.one("kubernetes:core/v1:Secret", f"{prefix}-secret-quickstart-endpoint-keys")
    # A Pulumi secret (the engine's secret signature) holding hashes sorted by client, never the keys.
    data = secret.inputs["stringData"]
    assert data[SECRET_SIG] == SECRET_MARK
    assert data["value"] == {"keys.map": f"{_sha('sk-batch-2')} batch\n{_sha('sk-web-1')} web\n"}
    assert "sk-web-1" not in str(secret.inputs)
    service = run.one("kubernetes:core/v1:Service", f"{prefix}-service-quickstart-endpoint")
    assert service.inputs["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert service.inputs["spec"]["type"] == "LoadBalancer"
    certificate = run.one("kubernetes:cert-manager.io/v1:Certificate", f"{prefix}-certificate-quickstart-endpoint")
    assert certificate.inputs["spec"]["dnsNames"] == ["llm.example.com"]
    deployment = run.one("kubernetes:apps/v1:Deployment", f"{prefix}-deployment-quickstart-endpoint")
    assert deployment.inputs["spec"]["replicas"] == 2
    # The address is the load balancer's host name the controller writes back (here, the mocks' status).
    assert addresses == {
        "us-central": load_balancer_status(f"{prefix}-service-quickstart-endpoint")["loadBalancer"]["ingress"][0][
            "hostname"
        ]
    }
    address = run.deployments[0].endpoint_addresses["us-central"]
    assert (address.port, address.scheme, address.health_check_path) == (443, "https", "/healthz")
    assert isinstance(address, EndpointAddress)
    assert result.spec.endpoint is not None


def test_aws_gets_an_internal_nlb_per_placement():
    run, _, _ = _run("aws-llama-8b-us")
    services = {
        r.name: r.inputs
        for r in run.of_type("kubernetes:core/v1:Service")
        if r.name.endswith("-service-llama-8b-us-endpoint")
    }
    assert sorted(services) == [
        "llama-8b-us-us-east-serving-service-llama-8b-us-endpoint",
        "llama-8b-us-us-west-serving-service-llama-8b-us-endpoint",
    ]
    for inputs in services.values():
        assert inputs["spec"]["type"] == "LoadBalancer"
        assert inputs["metadata"]["annotations"] == {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        }


def test_a_client_without_a_key_stops_pulumi_up_naming_it_and_the_fix():
    result = plan(spec_variant("quickstart", {"endpoint": ENDPOINT}))
    with pytest.raises(pulumi.InputPropertyError) as failed:
        endpoint_keys("quickstart", result.spec.endpoint, {"web": "sk-web-1"})
    assert failed.value.reason == (
        "endpoint client(s) batch of 'quickstart' have no API key: set them with `pulumi config set --secret "
        """inferstack:apiKeys '{"web": "<key>", "batch": "<key>"}'`"""
    )
    assert endpoint_keys("quickstart", result.spec.endpoint, {**KEYS, "other": "x"}) == KEYS


def test_keys_come_from_the_secret_config_when_not_passed(monkeypatch):
    result = plan(spec_variant("quickstart", {"endpoint": ENDPOINT}))
    monkeypatch.setattr(pulumi.runtime, "get_config", {"inferstack:apiKeys": '{"web": "a", "batch": "b"}'}.get)
    assert endpoint_keys("quickstart", result.spec.endpoint, None) == {"web": "a", "batch": "b"}
    monkeypatch.setattr(pulumi.runtime, "get_config", {"inferstack:apiKeys": '["a"]'}.get)
    with pytest.raises(pulumi.InputPropertyError) as failed:
        endpoint_keys("quickstart", result.spec.endpoint, None)
    assert failed.value.reason.startswith("inferstack:apiKeys is not a JSON object of strings: set them with")


def test_the_address_is_the_load_balancers_hostname_or_ip():
    def status(*ingress):
        return SimpleNamespace(load_balancer=SimpleNamespace(ingress=list(ingress)))

    nlb = SimpleNamespace(hostname="k8s-x.elb.us-east-1.amazonaws.com", ip=None)
    assert _ingress(status(nlb)) == "k8s-x.elb.us-east-1.amazonaws.com"
    assert _ingress(status(SimpleNamespace(hostname=None, ip="10.0.4.7"))) == "10.0.4.7"
    assert _ingress(status()) is None and _ingress(None) is None


def test_a_platform_placement_registers_its_gateway_with_the_key_hashes(tmp_path, monkeypatch):
    placements = example("platform.yaml")["placements"]
    placements[1]["endpoint"] = {**ENDPOINT, "clients": CLIENTS}
    folder = fleet_folder(tmp_path / "fleet", {"platform.yaml": {"placements": placements}})
    monkeypatch.setattr(pulumi.runtime, "get_config", {"inferstack:apiKeys": json.dumps(KEYS)}.get)
    run = run_program(str(folder), ROOT)
    secret = run.one("kubernetes:core/v1:Secret", "prod-us-central-secret-prod-endpoint-keys")
    assert secret.inputs["metadata"]["namespace"] == "ingress"
    assert secret.inputs["stringData"]["value"] == {"keys.map": f"{_sha('sk-batch-2')} batch\n{_sha('sk-web-1')} web\n"}
    service = run.one("kubernetes:core/v1:Service", "prod-us-central-service-prod-endpoint")
    assert service.inputs["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert not [r for r in run.resources if r.name.startswith("prod-us-east-") and "endpoint" in r.name]


def test_acm_on_aws_a_validated_certificate_per_placement_served_by_its_nlb():
    acm = {**ENDPOINT, "tls": {"source": "acm", "zone_id": "Z0123456789ABCDEFGHIJ"}}
    run = run_offline(
        deploy, deployment_plans=[plan(spec_variant("aws-llama-8b-us", {"endpoint": acm}))], api_keys=KEYS
    )
    placements = ("us-east", "us-west")
    certificates = run.of_type("aws:acm/certificate:Certificate")
    assert sorted(c.name for c in certificates) == [f"llama-8b-us-{p}-endpoint-certificate" for p in placements]
    for placement in placements:
        name = f"llama-8b-us-{placement}-endpoint"
        certificate = run.one("aws:acm/certificate:Certificate", f"{name}-certificate")
        assert certificate.inputs == {"domainName": "llm.example.com", "validationMethod": "DNS"}
        # In the placement's region: its own AWS provider, as the NLB serves only certificates of its region.
        assert certificate.provider_name == f"llama-8b-us-{placement}-aws"
        option = acm_validation_option(f"{name}-certificate", "llm.example.com")
        record = run.one("aws:route53/record:Record", f"{name}-validation-record")
        assert record.inputs == {
            "zoneId": "Z0123456789ABCDEFGHIJ",
            "name": option["resourceRecordName"],
            "type": "CNAME",
            "records": [option["resourceRecordValue"]],
            "ttl": 300,
            "allowOverwrite": True,
        }
        validation = run.one("aws:acm/certificateValidation:CertificateValidation", f"{name}-validation")
        assert validation.inputs == {
            "certificateArn": f"arn:aws:mock:::{name}-certificate",
            "validationRecordFqdns": [option["resourceRecordName"]],
        }
        service = run.one("kubernetes:core/v1:Service", f"llama-8b-us-{placement}-serving-service-llama-8b-us-endpoint")
        assert service.inputs["metadata"]["annotations"] == {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "443",
            # The validated certificate's ARN (the mocks echo the validation's input).
            "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": f"arn:aws:mock:::{name}-certificate",
        }
        assert service.inputs["spec"]["ports"] == [{"name": "api", "port": 443, "targetPort": "api", "protocol": "TCP"}]
    assert not run.of_type("kubernetes:cert-manager.io/v1:Certificate")
    address = run.deployments[0].endpoint_addresses["us-east"]
    assert (address.port, address.scheme) == (443, "https")


def test_cert_manager_on_aws_makes_no_acm_certificate():
    run, _, _ = _run("aws-llama-8b-us")
    assert not run.of_type("aws:acm/certificate:Certificate")
    assert not run.of_type("aws:acm/certificateValidation:CertificateValidation")


def test_acm_on_an_aws_platform_placement_serves_the_certificate_on_its_gateway(tmp_path, monkeypatch):
    placements = example("platform.yaml")["placements"]
    placements[0]["endpoint"] = {**ENDPOINT, "tls": {"source": "acm", "zone_id": "Z0123456789ABCDEFGHIJ"}}
    folder = fleet_folder(tmp_path / "fleet", {"platform.yaml": {"placements": placements}})
    monkeypatch.setattr(pulumi.runtime, "get_config", {"inferstack:apiKeys": json.dumps(KEYS)}.get)
    run = run_program(str(folder), ROOT)
    certificate = run.one("aws:acm/certificate:Certificate", "prod-us-east-endpoint-certificate")
    assert certificate.inputs == {"domainName": "llm.example.com", "validationMethod": "DNS"}
    service = run.one("kubernetes:core/v1:Service", "prod-us-east-service-prod-endpoint")
    annotations = service.inputs["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == (
        "arn:aws:mock:::prod-us-east-endpoint-certificate"
    )
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443"


def test_acm_validation_records_outlive_a_removed_placement(monkeypatch):
    """Every placement writes the one CNAME ACM asks for per name and account, so deleting one placement's
    record would break the others' renewals: the records are retained on delete, the certificates are not."""
    retained: dict[str, bool] = {}
    register = MockMonitor.RegisterResource

    def recording(self, request):
        retained[request.name] = request.retainOnDelete
        return register(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", recording)
    acm = {**ENDPOINT, "tls": {"source": "acm", "zone_id": "Z0123456789ABCDEFGHIJ"}}
    run_offline(deploy, deployment_plans=[plan(spec_variant("aws-llama-8b-us", {"endpoint": acm}))], api_keys=KEYS)
    assert {name: on for name, on in retained.items() if "-endpoint-" in name and "valid" in name} == {
        "llama-8b-us-us-east-endpoint-validation-record": True,
        "llama-8b-us-us-east-endpoint-validation": False,
        "llama-8b-us-us-west-endpoint-validation-record": True,
        "llama-8b-us-us-west-endpoint-validation": False,
    }
