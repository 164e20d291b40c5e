"""Each fact in catalog/data/dns.yaml, encoded (sources are in the file, beside each fact)."""

from __future__ import annotations

import yaml

from inferstack import catalog
from inferstack.catalog import dns
from tests.conftest import ROOT

DATA = yaml.safe_load((ROOT / "components" / "inferstack" / "catalog" / "data" / "dns.yaml").read_text())


def test_only_aws_and_gcp_have_dns_existing_clusters_do_not():
    assert sorted(dns.dns()) == ["aws", "gcp"]
    assert dns.dns_for("kubernetes") is None


def test_every_fact_has_a_source():
    for cloud, row in DATA.items():
        for key in ("policies", "max_weight", "failover_targets", "health"):
            assert row[f"source_{key}"].strip(), (cloud, key)
    assert DATA["aws"]["source_load_balancer_zones"].strip()
    assert DATA["gcp"]["source_load_balancer_type"].strip()


def test_route53_private_zone_policies_weights_and_failover_pair():
    aws = dns.dns()["aws"]
    assert aws.policies == {"weighted": "weighted", "latency": "latency", "failover": "failover"}
    assert (aws.max_weight, aws.failover_targets) == (255, 2)
    assert aws.health == "alias with evaluate_target_health"


def test_nlb_canonical_hosted_zones_as_aws_publishes_them():
    zones = dns.dns()["aws"].load_balancer_zones
    assert zones["us-east-1"] == "Z26RNL4JYFTOTI"
    assert zones["us-east-2"] == "ZLMOA37VPKANP"
    assert zones["us-west-1"] == "Z24FKFUX50B4VW"
    assert zones["us-west-2"] == "Z18D5FSROUN65G"
    assert zones["eu-west-1"] == "Z2IFOLAFXWLO4F"
    assert zones["eu-central-1"] == "Z3F0SRJ5LGBH90"
    assert zones["ap-southeast-1"] == "ZKVM4W9LS7TM"
    assert zones["ca-central-1"] == "Z2EPGBW3API2WT"
    assert len(set(zones.values())) == len(zones), "one zone per region, so a zone names its region"


def test_every_nlb_zone_region_is_a_catalog_aws_region():
    assert set(dns.dns()["aws"].load_balancer_zones) <= set(catalog.regions()["aws"])


def test_a_zone_id_reads_back_its_region():
    assert dns.load_balancer_region("Z3F0SRJ5LGBH90") == "eu-central-1"
    assert dns.load_balancer_region("Z35SXDOTRQ7X7K") is None  # us-east-1's ALB zone, not an NLB's


def test_cloud_dns_policies_and_internal_load_balancer_target():
    gcp = dns.dns()["gcp"]
    assert gcp.policies == {"weighted": "wrr", "latency": "geo", "failover": "primary_backup"}
    assert (gcp.load_balancer_type, gcp.ip_protocol) == ("regionalL4ilb", "tcp")
    assert gcp.health == "health_checked_targets.internal_load_balancers"
    assert gcp.load_balancer_zones == {}


def test_policies_cover_the_spec_policies_on_every_cloud():
    for facts in dns.dns().values():
        assert tuple(facts.policies) == dns.POLICIES


def test_gcp_gateways_behind_a_global_name_allow_global_access():
    assert dns.dns()["gcp"].target_service_annotations == {
        "networking.gke.io/internal-load-balancer-allow-global-access": "true"
    }
    assert dns.dns()["aws"].target_service_annotations == {}
    assert all(row["source_target_service_annotations"].strip() for row in DATA.values())


def test_only_cloud_dns_targets_need_a_cluster_this_stack_builds():
    assert dns.dns()["gcp"].target_needs_built_cluster is True
    assert dns.dns()["aws"].target_needs_built_cluster is False
    assert all(row["source_target_needs_built_cluster"].strip() for row in DATA.values())
