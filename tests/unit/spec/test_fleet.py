"""Loading a fleet: binding platform placements, compliance inheritance (narrow yes, widen never),
binding errors, and every problem of every file in one error; each message exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.spec import SpecError, format_violation
from inferstack.spec.fleet import is_platform_document, load_fleet, load_platform
from tests.conftest import SPECS
from tests.fleet_folder import FLEET, example, fleet_folder


def _problems(tmp_path: Path, changes: dict) -> list[str]:
    folder = fleet_folder(tmp_path / "fleet", changes)
    with pytest.raises(SpecError) as caught:
        load_fleet(folder)
    assert caught.value.source == str(folder)
    return [format_violation(v).replace(f"{folder}/", "") for v in caught.value.violations]


def test_example_folder_binds_every_model_to_its_pool():
    fleet = load_fleet(FLEET)
    assert fleet.platform is not None and fleet.platform.name == "prod"
    assert fleet.platform_source == str(FLEET / "platform.yaml")
    assert [s.name for s in fleet.specs] == ["chat-8b-mig", "chat-8b", "search-mistral", "search-qwen"]
    assert fleet.sources["chat-8b"] == str(FLEET / "chat-8b.yaml")
    assert fleet.pools == {
        ("chat-8b-mig", "us-central"): "h100-mig",
        ("chat-8b", "us-east"): "l40s",
        ("search-mistral", "onprem"): "a100",
        ("search-qwen", "us-central"): "l4",
    }
    placement = fleet.spec("chat-8b").placements[0]
    assert (placement.name, placement.platform, placement.cloud, placement.region) == (
        "us-east",
        "prod",
        "aws",
        "us-east-1",
    )
    assert placement.network_cidr == "10.60.0.0/16"
    assert placement.cluster.instance_type == "g6e.xlarge"
    assert placement.cluster.name == "prod-us-east"
    assert placement.cluster.operator_cidrs == ["172.20.0.0/16"]
    assert placement.capacity == ["on_demand"]
    assert (placement.replicas.min, placement.replicas.max) == (2, 4)
    assert placement.cluster_name("chat-8b") == "prod-us-east"
    mig = fleet.spec("chat-8b-mig").placements[0]
    assert (mig.name, mig.cloud, mig.region, mig.cluster.instance_type) == (
        "us-central",
        "gcp",
        "us-central1",
        "a3-highgpu-8g",
    )
    assert mig.capacity == ["spot"]  # the pool's own capacity, not the placement's [spot, on_demand]
    assert fleet.spec("search-qwen").placements[0].capacity == ["spot", "on_demand"]


def test_existing_cluster_placement_carries_the_pool_labels_and_price():
    placement = load_fleet(FLEET).spec("search-mistral").placements[0]
    assert placement.cloud == "kubernetes"
    assert placement.cluster.kind == "existing"
    assert placement.cluster.context == "onprem-gpu"
    assert placement.cluster.instance_type is None
    assert placement.cluster.gpu_node_labels == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert placement.price_per_gpu_hour == 2.10
    assert placement.network_cidr is None


def test_model_compliance_is_the_baseline_narrowed_by_the_model():
    fleet = load_fleet(FLEET)
    narrowed = fleet.spec("chat-8b").compliance
    assert narrowed.residency == "us"
    assert narrowed.allowed_gpus == ["L40S"]
    assert narrowed.allowed_clouds == ["aws", "gcp", "kubernetes"]
    assert narrowed.allowed_engines == ["vllm", "sglang"]
    assert narrowed.monthly_budget == 15000
    inherited = fleet.spec("search-qwen").compliance
    assert inherited.allowed_gpus == ["L40S", "L4", "H100", "A100-80GB"]
    assert inherited.monthly_budget is None


def test_narrowing_residency_and_flags_is_accepted(tmp_path):
    folder = fleet_folder(
        tmp_path / "fleet",
        {
            "platform.yaml": {"compliance": {"residency": None, "pin_revisions": False, "monthly_budget": 50000}},
            "chat-8b.yaml": {"compliance": {"residency": "us", "pin_images": False, "pin_revisions": True}},
        },
    )
    rules = load_fleet(folder).spec("chat-8b").compliance
    assert (rules.residency, rules.pin_revisions, rules.pin_images, rules.monthly_budget) == ("us", True, False, 15000)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"chat-8b.yaml": {"compliance": {"allowed_gpus": ["L40S", "B200"]}}},
            "chat-8b.yaml: compliance.allowed_gpus = ['L40S', 'B200']: widens the platform baseline "
            "(platform.yaml: compliance.allowed_gpus = ['L40S', 'L4', 'H100', 'A100-80GB']). Fix: list only "
            "values the baseline allows, or leave it out to inherit them.",
        ),
        (
            {"chat-8b.yaml": {"compliance": {"pin_revisions": False}}},
            "chat-8b.yaml: compliance.pin_revisions = False: widens the platform baseline (platform.yaml: "
            "compliance.pin_revisions = True). Fix: leave it out: the platform requires it.",
        ),
        (
            {"chat-8b.yaml": {"compliance": {"residency": "eu"}}},
            "chat-8b.yaml: compliance.residency = 'eu': widens the platform baseline (platform.yaml: "
            "compliance.residency = 'us'). Fix: leave it out to inherit 'us'.",
        ),
        (
            {"chat-8b.yaml": {"compliance": {"allowed_regions": ["europe-west4"]}}},
            "chat-8b.yaml: compliance.allowed_regions = ['europe-west4']: widens the platform baseline "
            "(platform.yaml: compliance.allowed_regions = []). Fix: remove europe-west4: the baseline does not "
            "allow them.",
        ),
        (
            {"platform.yaml": {"compliance": {"monthly_budget": 10000}}},
            "chat-8b.yaml: compliance.monthly_budget = 15000.0: widens the platform baseline (platform.yaml: "
            "compliance.monthly_budget = 10000.0). Fix: lower it to at most 10000, or leave it out.",
        ),
    ],
)
def test_a_model_may_not_widen_the_baseline(tmp_path, changes, message):
    assert _problems(tmp_path, changes) == [message]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"chat-8b.yaml": {"placements": {0: {"placement": "us-eats"}}}},
            "chat-8b.yaml: placements[0].placement = 'us-eats': platform 'prod' has no such placement. Did you mean "
            "'us-east'? Allowed: us-east, us-central, onprem.",
        ),
        (
            {"chat-8b.yaml": {"placements": {0: {"pool": "l40"}}}},
            "chat-8b.yaml: placements[0].pool = 'l40': placement 'us-east' has no such pool. Did you mean 'l40s'? "
            "Allowed: l40s (L40S).",
        ),
        (
            {"search-qwen.yaml": {"placements": {0: {"pool": "h100-mig"}}}},
            "search-qwen.yaml: placements[0].pool = 'h100-mig': the pool's GPU is H100 but resources.gpu is L4. "
            "Allowed: l4 (L4), h100-mig (H100 MIG 3g.40gb). Fix: set resources.gpu to H100, or name a pool with "
            "L4 GPUs.",
        ),
        (
            {"chat-8b.yaml": {"placements": {0: {"cloud": "gcp"}}}},
            "chat-8b.yaml: placements[0].cloud: 'cloud' is set by the platform, not by a model placement on it. "
            "Allowed: platform, placement, pool, replicas. Fix: remove it: the platform document holds the cloud, "
            "region, cluster and pools.",
        ),
        (
            {"chat-8b.yaml": {"placements": {0: {"platform": "staging"}}}},
            "chat-8b.yaml: placements[0].platform = 'staging': not the platform of this folder ('prod'). Allowed: "
            "prod. Fix: name the folder's platform, or plan the folder of the platform it names.",
        ),
        (
            {"chat-8b.yaml": {"team": "chta"}},
            "chat-8b.yaml: team = 'chta': not a team of platform 'prod'. Did you mean 'chat'? Allowed: chat, search. "
            "Fix: name a team of the platform document, or add the team there.",
        ),
        (
            {"chat-8b-mig.yaml": {"resources": {"gpu": "H100:2"}}},
            "chat-8b-mig.yaml: resources.gpu.count = 2: a replica on pool 'h100-mig' runs in one MIG 3g.40gb slice, "
            "which cannot be split across GPUs. Allowed: 1. Fix: remove the count, or place the model on a pool of "
            "whole H100 GPUs (placements[0].pool).",
        ),
        (
            {"chat-8b-mig.yaml": {"engine": {"name": "sglang"}}},
            "chat-8b-mig.yaml: engine.name = 'sglang': cannot serve from a MIG slice (pool 'h100-mig'): its adapter "
            "sizes memory from whole GPUs. Allowed: vllm, tgi. Fix: serve it with vllm or tgi, or place it on a pool "
            "of whole H100 GPUs.",
        ),
        (
            {"zz.yaml": example("chat-8b.yaml")},
            "zz.yaml: name = 'chat-8b': the spec name is already used by chat-8b.yaml; names must be unique in a "
            "fleet. Fix: rename one of them.",
        ),
        (
            {"zz.yaml": example("platform.yaml")},
            "zz.yaml: kind = 'Platform': a second platform document (the first is platform.yaml). Fix: keep one "
            "platform per folder; put the other platform's models in their own folder.",
        ),
    ],
)
def test_binding_errors(tmp_path, changes, message):
    assert _problems(tmp_path, changes) == [message]


def test_a_model_is_on_a_platform_placement_once(tmp_path):
    twice = {"placements": [{"platform": "prod", "placement": "us-east"}, {"platform": "prod", "placement": "us-east"}]}
    assert _problems(tmp_path, {"chat-8b.yaml": twice}) == [
        "chat-8b.yaml: placements[1].placement = 'us-east': the model is already on this platform placement (one pool "
        "per placement). Fix: merge the two into one placement with the replicas of both."
    ]


def test_a_model_runs_on_one_device(tmp_path):
    (l40s,) = example("platform.yaml")["placements"][0]["gpu_pools"]
    whole = {"name": "h100", "gpu": "H100", "max_nodes": 1}
    changes = {
        "platform.yaml": {"placements": {0: {"gpu_pools": [l40s, whole]}}},
        "chat-8b-mig.yaml": {
            "placements": [
                {"platform": "prod", "placement": "us-central", "pool": "h100-mig"},
                {"platform": "prod", "placement": "us-east", "pool": "h100"},
            ]
        },
    }
    assert _problems(tmp_path, changes) == [
        "chat-8b-mig.yaml: placements: a model is planned for one device, but its placements are on different ones "
        "(placements[0]: MIG 3g.40gb, placements[1]: whole GPUs). Fix: put the model on pools with the same MIG "
        "profile (or all whole GPUs), or split it into two specs."
    ]


def test_two_pools_with_the_models_gpu_must_be_named(tmp_path):
    pools = [
        {"name": "a", "gpu": "L40S", "gpus_per_node": 1, "max_nodes": 2},
        {"name": "b", "gpu": "L40S", "gpus_per_node": 4, "max_nodes": 2},
    ]
    problems = _problems(
        tmp_path, {"platform.yaml": {"placements": {0: {"gpu_pools": pools}}}, "chat-8b-mig.yaml": None}
    )
    assert problems == [
        "chat-8b.yaml: placements[0].pool: placement 'us-east' has 2 pools with L40S GPUs. Allowed: a (L40S), "
        "b (L40S). Fix: name the pool in placements[].pool."
    ]


def test_a_model_whose_gpu_no_pool_has_is_refused(tmp_path):
    problems = _problems(tmp_path, {"chat-8b.yaml": {"resources": {"gpu": "L4:1"}, "compliance": {"allowed_gpus": []}}})
    assert problems == [
        "chat-8b.yaml: placements[0].pool: placement 'us-east' has no pool with L4 GPUs. Allowed: l40s (L40S). Fix: "
        "change resources.gpu to a pool's GPU."
    ]


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    problems = _problems(
        tmp_path,
        {
            "chat-8b.yaml": {"team": "chta"},
            "search-qwen.yaml": {"engine": {"name": "vlm"}},
            "platform.yaml": {"teams": {1: {"gpus": -1}}},
        },
    )
    assert problems == [
        "platform.yaml: teams[1].gpus = -1: out of range. Allowed: at least 0.",
        "search-qwen.yaml: engine.name = 'vlm': not an allowed value. Did you mean 'vllm'? Allowed: vllm, sglang, "
        "tgi, trtllm.",
    ]


def test_a_single_spec_is_bound_to_the_platform_beside_it():
    fleet = load_fleet(FLEET / "chat-8b-mig.yaml")
    assert fleet.platform is not None and [s.name for s in fleet.specs] == ["chat-8b-mig"]
    assert fleet.pool_of("chat-8b-mig", "us-central") == "h100-mig"


def test_a_spec_naming_a_platform_not_in_its_folder_is_refused(tmp_path):
    (tmp_path / "chat.yaml").write_text((FLEET / "chat-8b.yaml").read_text())
    with pytest.raises(SpecError) as caught:
        load_fleet(tmp_path / "chat.yaml")
    assert [format_violation(v) for v in caught.value.violations] == [
        f"placements: names a platform but no platform document is in its folder ({tmp_path}). Fix: put the "
        "platform document (kind: Platform) beside the spec, or give the placement its cloud, region and cluster."
    ]


def test_a_team_needs_a_platform(tmp_path):
    (tmp_path / "q.yaml").write_text((SPECS / "quickstart.yaml").read_text() + "team: chat\n")
    with pytest.raises(SpecError) as caught:
        load_fleet(tmp_path / "q.yaml")
    assert [format_violation(v) for v in caught.value.violations] == [
        "team = 'chat': a team is only for models on a platform. Fix: remove it, or place the model on a platform "
        "placement."
    ]


def test_a_spec_without_platform_loads_as_today():
    fleet = load_fleet(SPECS / "quickstart.yaml")
    assert fleet.platform is None and fleet.pools == {}
    assert [s.name for s in fleet.specs] == ["quickstart"]


def test_platform_document_detection_and_loading():
    assert is_platform_document(example("platform.yaml"))
    assert not is_platform_document(example("chat-8b.yaml"))
    assert not is_platform_document(["kind", "Platform"])
    assert load_platform(FLEET / "platform.yaml").name == "prod"
    alone = load_fleet(FLEET / "platform.yaml")
    assert alone.platform is not None and alone.specs == ()


def test_a_folder_without_yaml_is_refused_as_a_folder(tmp_path):
    with pytest.raises(SpecError) as caught:
        load_fleet(tmp_path)
    assert [format_violation(v) for v in caught.value.violations] == [
        f"(file) = '{tmp_path}': is a folder, not a file. Fix: name the file inside it."
    ]
