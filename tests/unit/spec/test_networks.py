"""Networks that can coexist: one private /16 per new cluster, no overlaps between placements or with the
operators' ranges, and always a way for `pulumi up` to reach the cluster API."""

from __future__ import annotations

import pytest

from inferstack import contract
from inferstack.spec import SpecError
from tests.conftest import spec_variant


def _problems(source: str, changes: dict) -> list[str]:
    with pytest.raises(SpecError) as err:
        spec_variant(source, changes)
    return err.value.render().splitlines()[1:]


def test_default_networks_are_stable_private_slash_16s():
    assert contract.default_network("qwen3-32b", "aws-us-east") == contract.default_network("qwen3-32b", "aws-us-east")
    spec = spec_variant("multi-cloud-qwen", {})
    first, second = (p.network(spec.name) for p in spec.placements)
    assert first.prefixlen == second.prefixlen == 16 and first.is_private and not first.overlaps(second)


def test_overlapping_placements_are_refused_with_a_free_range():
    same = {"network_cidr": "10.42.0.0/16"}
    assert _problems("multi-cloud-qwen", {"placements": {0: same, 1: same}}) == [
        "  - placements[1].network_cidr = '10.42.0.0/16': overlaps placement 'aws-us-east' (10.42.0.0/16): one VPN "
        "could not reach both. Allowed: a private /16 no other placement uses. Fix: set placements[1].network_cidr "
        "to an unused /16, e.g. 10.43.0.0/16."
    ]


def test_an_operator_range_inside_the_placement_network_is_refused():
    changes = {"placements": {0: {"network_cidr": "10.42.0.0/16", "cluster": {"operator_cidrs": ["10.42.7.0/24"]}}}}
    assert _problems("deepseek-v3-h200", changes) == [
        "  - placements[0].cluster.operator_cidrs = '10.42.7.0/24': overlaps the placement's own network "
        "10.42.0.0/16, so replies to operators would stay inside it. Fix: set placements[0].network_cidr to a /16 "
        "outside the operators' ranges."
    ]


def test_a_new_cluster_needs_a_way_in():
    assert _problems("deepseek-v3-h200", {"placements": {0: {"cluster": {"operator_cidrs": []}}}}) == [
        "  - placements[0].cluster.operator_cidrs: no way for `pulumi up` to reach the cluster API: it answers only "
        "the cluster's own network and the operators' ranges. Fix: list the ranges you run `pulumi up` from (VPN, "
        "CI runners), or set cluster.access: from-inside when it runs inside the placement's network."
    ]


def test_from_inside_needs_no_operator_range():
    spec = spec_variant(
        "deepseek-v3-h200", {"placements": {0: {"cluster": {"operator_cidrs": [], "access": "from-inside"}}}}
    )
    assert spec.placements[0].cluster.access == "from-inside"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("10.42.0.0/20", "  - placements[0].network_cidr = '10.42.0.0/20': not a private /16."),
        ("8.8.0.0/16", "  - placements[0].network_cidr = '8.8.0.0/16': not a private /16."),
        ("10.42.1.0/16", "  - placements[0].network_cidr = '10.42.1.0/16': '10.42.1.0/16' is not an IPv4 network."),
    ],
)
def test_network_cidr_must_be_a_private_slash_16(value, line):
    (problem,) = _problems("deepseek-v3-h200", {"placements": {0: {"network_cidr": value}}})
    assert problem.startswith(line)
