"""The platform document: the example loads, look-ups, and one failing case per platform rule, each
with its exact message."""

from __future__ import annotations

import ipaddress

import pytest

from inferstack.spec import SpecError, format_violation
from inferstack.spec.loader import parse_platform
from inferstack.spec.platform import PlatformSpec, offering_for
from tests.conftest import _merge
from tests.fleet_folder import example


def _platform(changes: dict | None = None) -> PlatformSpec:
    data = example("platform.yaml")
    _merge(data, changes or {})
    return parse_platform(data, "platform.yaml")


def _problems(changes: dict) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _platform(changes)
    return [format_violation(v) for v in caught.value.violations]


def test_example_platform_loads_with_its_defaults():
    platform = _platform()
    assert [p.name for p in platform.placements] == ["us-east", "us-central", "onprem"]
    assert [(t.name, t.gpus, t.monthly_budget) for t in platform.teams] == [("chat", 12, 60000), ("search", 8, 15000)]
    east = platform.placement("us-east")
    assert east.network("prod") == ipaddress.IPv4Network("10.60.0.0/16")
    assert east.cluster_name("prod") == "prod-us-east"
    assert platform.placement("onprem").cluster_name("prod") == "onprem-gpu"  # the kubeconfig context
    assert (east.system_pool.min_nodes, east.system_pool.max_nodes) == (2, 4)
    assert [p.name for p in east.gpu_pools] == ["l40s"]
    assert east.pool_capacity(east.pool("l40s")) == ["on_demand"]
    central = platform.placement("us-central")
    assert [p.name for p in central.gpu_pools] == ["l4", "h100-mig"]
    assert central.pool_capacity(central.pool("l4")) == ["spot", "on_demand"]
    assert central.pool("h100-mig").mig == "3g.40gb"
    assert central.pool_capacity(central.pool("h100-mig")) == ["spot"]
    assert platform.team("search").gpus == 8


def test_lookups_name_what_exists():
    platform = _platform()
    with pytest.raises(
        ValueError, match="platform 'prod' has no placement 'eu'; placements: us-east, us-central, onprem"
    ):
        platform.placement("eu")
    with pytest.raises(ValueError, match="platform 'prod' has no team 'ops'; teams: chat, search"):
        platform.team("ops")
    with pytest.raises(ValueError, match=r"placement 'us-east' has no pool 'l4'; pools: l40s$"):
        platform.placement("us-east").pool("l4")
    with pytest.raises(ValueError, match=r"placement 'us-central' has no pool 'l40s'; pools: l4, h100-mig$"):
        platform.placement("us-central").pool("l40s")


def test_pool_node_type_is_the_smallest_offering_unless_given():
    platform = _platform()
    east, central = platform.placement("us-east"), platform.placement("us-central")
    offering_l40s = offering_for(east, east.pool("l40s"))
    offering_h100 = offering_for(central, central.pool("h100-mig"))
    assert offering_l40s is not None and offering_l40s.node_type == "g6e.xlarge"
    # 8-GPU H100 types in us-central1: a3-highgpu-8g (88.49 USD/h) and a3-megagpu-8g (92.93759): the cheaper
    assert offering_h100 is not None and offering_h100.node_type == "a3-highgpu-8g"
    pinned = _platform(
        {"placements": {0: {"gpu_pools": {0: {"gpus_per_node": None, "instance_type": "g6e.12xlarge"}}}}}
    )
    east = pinned.placement("us-east")
    offering = offering_for(east, east.pool("l40s"))
    assert offering is not None and offering.node_type == "g6e.12xlarge"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"placements": {0: {"gpu_pools": {0: {"min_nodes": 9}}}}},
            "placements[0].gpu_pools[0].min_nodes = 9: greater than max_nodes (8). Allowed: min_nodes <= max_nodes. "
            "Fix: lower min_nodes or raise max_nodes.",
        ),
        (
            {"placements": {1: {"gpu_pools": {1: {"mig": "3g.20gb"}}}}},
            "placements[1].gpu_pools[1].mig = '3g.20gb': not a MIG profile of H100. Did you mean '3g.40gb'? Allowed: "
            "1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb.",
        ),
        (
            {"placements": {1: {"gpu_pools": {0: {"mig": "1g.10gb"}}}}},
            "placements[1].gpu_pools[0].mig = '1g.10gb': not a MIG profile of L4. Allowed: none: L4 cannot be "
            "partitioned (catalog/data/mig.yaml).",
        ),
        (
            {"placements": {0: {"gpu_pools": {0: {"gpus_per_node": 2}}}}},
            "placements[0].gpu_pools[0]: aws offers no node with 2 L40S GPU(s) in us-east-1. Allowed: g6e.12xlarge "
            "(4 GPU), g6e.48xlarge (8 GPU), g6e.xlarge (1 GPU). Fix: pick an offered node type or GPU count, or "
            "another region.",
        ),
        (
            {"placements": {2: {"gpu_pools": {0: {"gpus_per_node": None}}}}},
            "placements[2].gpu_pools[0].gpus_per_node: required on an existing cluster: the planner cannot look its "
            "nodes up. Fix: write how many GPUs each of the pool's nodes has.",
        ),
        (
            {"placements": {2: {"gpu_pools": {0: {"instance_type": "p4d.24xlarge"}}}}},
            "placements[2].gpu_pools[0].instance_type = 'p4d.24xlarge': only for clusters inferstack creates. Fix: "
            "remove it, and select the pool's nodes with node_labels.",
        ),
        (
            {"placements": {1: {"gpu_pools": {1: {"name": "l4"}}}}},
            "placements[1].gpu_pools[1].name = 'l4': pool names must be unique. Fix: rename it.",
        ),
        (
            {"placements": {1: {"name": "us-east", "network_cidr": "10.62.0.0/16"}}},
            "placements[1].name = 'us-east': placement names must be unique. Fix: rename it.",
        ),
        ({"teams": {1: {"name": "chat"}}}, "teams[1].name = 'chat': team names must be unique. Fix: rename it."),
        (
            {"placements": {2: {"name": "models"}}},
            "placements[2].name = 'models': names a folder `inferstack render` writes beside the placements. Allowed: "
            "any DNS label but dashboards, rules, models. Fix: rename the placement.",
        ),
        (
            {"placements": {1: {"region": "europe-west4"}}},
            "placements[1].region = 'europe-west4': outside the baseline's region lock (regions of residency group "
            "'us'). Fix: move the placement, or widen compliance.residency / allowed_regions.",
        ),
        (
            {"compliance": {"allowed_clouds": ["aws", "gcp"]}},
            "placements[2].cloud = 'kubernetes': cloud not allowed by compliance.allowed_clouds. Allowed: aws, gcp.",
        ),
        (
            {"compliance": {"allowed_gpus": ["L40S", "L4", "A100-80GB"]}},
            "placements[1].gpu_pools[1].gpu = 'H100': GPU not allowed by compliance.allowed_gpus. Allowed: L40S, L4, "
            "A100-80GB.",
        ),
        (
            {"placements": {1: {"network_cidr": "10.60.0.0/16"}}},
            "placements[1].network_cidr = '10.60.0.0/16': overlaps placement 'us-east' (10.60.0.0/16): one VPN could "
            "not reach both. Allowed: a private /16 no other placement uses. Fix: set placements[1].network_cidr to an "
            "unused /16.",
        ),
        ({"kind": "platform"}, "kind = 'platform': not an allowed value. Did you mean 'Platform'? Allowed: Platform."),
        (
            {"placements": {0: {"gpu_pools": {0: {"gpu": "H1000"}}}}},
            "placements[0].gpu_pools[0].gpu = 'H1000': unknown GPU. Did you mean 'H100'? Allowed: A100-40GB, "
            "A100-80GB, A10G, B200, H100, H200, L4, L40S.",
        ),
    ],
)
def test_each_platform_rule_refuses_with_its_message(changes, message):
    assert _problems(changes) == [message]


def test_a_mig_pool_where_the_cloud_does_not_partition_gpus_is_refused():
    (l40s,) = example("platform.yaml")["placements"][0]["gpu_pools"]
    mig_pool = {"name": "h100-mig", "gpu": "H100", "mig": "3g.40gb", "max_nodes": 1}  # the pool on AWS (EKS)
    assert _problems({"placements": {0: {"gpu_pools": [l40s, mig_pool]}}}) == [
        "placements[0].gpu_pools[1].mig = '3g.40gb': MIG slices need a cluster that partitions its GPUs itself, and "
        "aws clusters do not (EKS and existing clusters leave it to the NVIDIA GPU operator's MIG manager, which "
        "inferstack does not install). Allowed: clouds whose clusters partition GPUs: gcp. Fix: move the pool to a "
        "placement on one of those clouds, or use whole GPUs."
    ]


def test_a_mig_pool_on_gke_is_accepted():
    central = _platform().placement("us-central")
    assert (central.cloud, central.pool("h100-mig").gpu, central.pool("h100-mig").mig) == ("gcp", "H100", "3g.40gb")


def test_a_platform_that_is_not_a_mapping_is_refused():
    with pytest.raises(SpecError) as caught:
        parse_platform(["kind", "Platform"], "p.yaml")
    assert caught.value.render() == (
        "p.yaml: 1 problem\n  - (top level): the platform document is not a mapping. Fix: start from "
        "specs/fleet/platform.yaml: the top level holds kind, name, teams, placements."
    )
