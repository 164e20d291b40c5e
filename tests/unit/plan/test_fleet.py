"""Fleet planning: packing per pool, GPUs and nodes at min and max, cost per model / team / placement
from catalog prices worked out by hand, MIG slices, and each fleet finding with its exact message."""

from __future__ import annotations

import pytest

from inferstack.plan.capacity import CapacityChoice
from inferstack.plan.fleet import pack, plan_fleet
from inferstack.plan.scheduling import PodSize
from inferstack.spec.fleet import load_fleet
from tests.conftest import SPECS
from tests.fleet_folder import FLEET, fleet_folder
from tests.unit.plan.test_multinode import LLAMA_405B_ON_A100

#: Catalog on-demand prices (offerings.yaml) the figures below are worked out from. The MIG pool buys
#: a3-highgpu-8g as spot, but the catalog holds no spot price: the on-demand list price is its upper bound.
G6E_XLARGE, A3_HIGHGPU_8G, G2_STANDARD_4 = 1.861, 88.49, 0.70683
ONPREM_GPU_HOUR = 2.10


def _plan(tmp_path, changes):
    return plan_fleet(load_fleet(fleet_folder(tmp_path / "fleet", changes)))


#: The example keeps one H100 node (8 GPUs x 2 slices = 16) for a model at 2 of its slices: 16 - 2 = 14 idle,
#: noted, and tested on its own.
IDLE_NOTE = (
    "idle-at-min",
    "placement us-central pool h100-mig: 14 of 16 MIG slices idle at the models' min replicas on 1 node(s); more "
    "models or replicas fit there at no extra cost",
    False,
)


def _codes(result):
    """The fleet's findings but the example's idle-slices note."""
    return [(f.code, f.message, f.blocking) for f in result.findings if (f.code, f.message, f.blocking) != IDLE_NOTE]


def test_example_fleet_is_deployable_with_one_note():
    result = plan_fleet(load_fleet(FLEET))
    assert result.deployable
    assert [(f.code, f.message, f.blocking) for f in result.findings] == [IDLE_NOTE]
    assert [p.spec.name for p in result.models] == ["chat-8b-mig", "chat-8b", "search-mistral", "search-qwen"]


def test_pools_as_the_clouds_build_them():
    result = plan_fleet(load_fleet(FLEET))
    east, central, onprem = result.placements
    assert (east.name, east.cloud, east.region, east.cluster_name) == ("us-east", "aws", "us-east-1", "prod-us-east")
    (l40s,) = east.pools
    assert (l40s.name, l40s.gpu_sku, l40s.node.node_type, l40s.nodes_min, l40s.nodes_max) == (
        "gpu-l40s",
        "L40S",
        "g6e.xlarge",
        1,
        8,
    )
    assert (central.name, central.cloud, central.region) == ("us-central", "gcp", "us-central1")
    l4, h100 = central.pools
    assert (l4.capacity.mode, l4.node.node_type) == ("spot", "g2-standard-4")
    # a3-highgpu-8g: the only 8-GPU H100 type in us-central1 cheaper than a3-megagpu-8g (88.49 < 92.93759 USD/h)
    assert (h100.name, h100.node.node_type, h100.node.gpus_per_node, h100.node.replicas_per_node, h100.mig_profile) == (
        "gpu-h100-mig",
        "a3-highgpu-8g",
        8,
        16,  # 8 GPUs x 2 slices of 3g.40gb
        "3g.40gb",
    )
    # capacity [spot]: cloud_facts sells a3-highgpu-8g as spot (true), so the choice is verified
    assert (h100.nodes_min, h100.nodes_max, h100.capacity) == (0, 1, CapacityChoice("spot", None, True))
    assert onprem.pools[0].node.node_type is None
    assert onprem.pools[0].node.price_per_node_hour == pytest.approx(8 * ONPREM_GPU_HOUR)
    assert east.system_node_type == "m6i.large" and onprem.system_node_type is None


def test_gpus_and_nodes_at_min_and_max():
    east, central, onprem = plan_fleet(load_fleet(FLEET)).placements
    # l40s: chat-8b 2-4 replicas of 1 GPU, 1 GPU per node
    assert (east.gpus_min, east.gpus_max) == ({"l40s": 2}, {"l40s": 4})
    assert (east.nodes_needed_min, east.nodes_needed_max) == ({"l40s": 2}, {"l40s": 4})
    # l4: search-qwen 2-4 replicas of 1 GPU, 1 GPU per node; h100-mig: chat-8b-mig 2-8 replicas of one 3g.40gb
    # slice, 2 per GPU: 2/2 = 1 and 8/2 = 4 GPUs, all within one node of 8 GPUs (16 slices)
    assert central.gpus_min == {"l4": 2, "h100-mig": 1}
    assert central.gpus_max == {"l4": 4, "h100-mig": 4}
    assert central.nodes_needed_min == {"l4": 2, "h100-mig": 1}
    assert central.nodes_needed_max == {"l4": 4, "h100-mig": 1}
    assert (onprem.gpus_min, onprem.gpus_max, onprem.nodes_needed_max) == ({"a100": 2}, {"a100": 3}, {"a100": 1})


def test_costs_per_model_team_and_placement():
    result = plan_fleet(load_fleet(FLEET))
    mig_share = 8 / 16 * A3_HIGHGPU_8G * 730  # 8 slices of the 16 an a3-highgpu-8g holds: 32,298.85
    onprem = 3 / 8 * 8 * ONPREM_GPU_HOUR * 730  # 4,599
    assert result.cost_per_model() == pytest.approx(
        {
            "chat-8b-mig": mig_share,
            "chat-8b": 4 * G6E_XLARGE * 730,  # 5,434.12
            "search-mistral": onprem,
            "search-qwen": 4 * G2_STANDARD_4 * 730,  # 2,063.9436
        }
    )
    assert result.cost_per_team() == pytest.approx(  # chat 37,732.97; search 6,662.9436
        {"chat": mig_share + 4 * G6E_XLARGE * 730, "search": onprem + 4 * G2_STANDARD_4 * 730}
    )
    assert result.cost_per_placement() == pytest.approx(
        {
            "us-east": 4 * G6E_XLARGE * 730,  # 5,434.12
            "us-central": (4 * G2_STANDARD_4 + A3_HIGHGPU_8G) * 730,  # (2.82732 + 88.49) x 730 = 66,661.6436
            "onprem": 8 * ONPREM_GPU_HOUR * 730,  # 12,264
        }
    )


def test_an_8b_model_on_h100_mig_slices_runs_two_replicas_per_gpu():
    result = plan_fleet(load_fleet(FLEET))
    model = result.models[0]
    assert model.spec.name == "chat-8b-mig"
    assert (model.fit.gpu, model.fit.tp, model.fit.fits) == ("H100-MIG-3g.40gb", 1, True)
    assert "H100-MIG-3g.40gb memory 39.5 GiB as seen by the engine" in model.assumptions[1]
    placement = model.placements[0]
    assert placement.node is not None
    assert placement.node.replicas_per_node // placement.node.gpus_per_node == 2
    assert (placement.nodes_min, placement.nodes_max) == (1, 1)
    # A sixteenth of an a3-highgpu-8g's room (208 vCPU, 1872 GiB = 1,916,928 MiB; GKE formulas in cloud_facts.yaml):
    # CPU: kube-reserved 60 + 10 + 10 + 0.25% x 204,000 (= 510) = 590m; 208,000 - 590 - 400 (DaemonSets) = 207,010;
    #   / 16 = 12,938 -> 12,900m (100m steps).
    # Memory: kube-reserved 25% x 4,096 + 20% x 4,096 + 10% x 8,192 + 6% x 114,688 + 2% x 1,785,856
    #   = 1,024 + 819.2 + 819.2 + 6,881.28 + 35,717.12 = 45,260.8; eviction 100; kernel 1,916,928 / 64 + 16 + 64
    #   + min(0.00175 x 1,916,928, 248) = 29,952 + 80 + 248 = 30,280; DaemonSets 768;
    #   1,916,928 - 45,260.8 - 100 - 30,280 - 768 = 1,840,519.2; / 16 = 115,032.45 -> 114,944 MiB (256 MiB steps).
    assert placement.serving_pod == PodSize(cpu_m=12900, memory_mib=114944)
    whole = plan_fleet(load_fleet(SPECS / "aws-llama-8b-us.yaml")).models[0]
    assert model.fit.kv_pool_bytes < whole.fit.kv_pool_bytes * 2  # the slice's pool, not an H100's


def test_a_model_too_large_for_the_slice_does_not_fit(tmp_path):
    result = _plan(tmp_path, {"platform.yaml": {"placements": {1: {"gpu_pools": {1: {"mig": "1g.10gb"}}}}}})
    model = result.models[0]
    assert (model.fit.gpu, model.fit.tp, model.fit.fits) == ("H100-MIG-1g.10gb", 1, False)
    assert not result.deployable
    assert [f.code for f in model.findings if f.blocking] == ["no-fit"]


def test_over_subscription_is_a_note(tmp_path):
    result = _plan(
        tmp_path,
        {
            "chat-8b-mig.yaml": {"placements": {0: {"replicas": {"min": 2, "max": 20}}}},
            # 20 slices (each one device of the GKE quota) on us-central; chat's models at max cost
            # 20/16 x 88.49 x 730 + 4 x 1.861 x 730 = 80,747.125 + 5,434.12 = 86,181.245 USD: within 90,000
            "platform.yaml": {"teams": {0: {"gpus": 20, "monthly_budget": 90000}}},
        },
    )
    assert _codes(result) == [
        (
            "over-subscribed",
            # 20 replicas of one slice, 16 slices per node: 2 nodes; 20 slices / 2 per GPU = 10 GPUs
            "placement us-central pool h100-mig: the models' max replicas need 2 nodes (10 GPUs) but max_nodes is 1, so "
            "not every model can reach its max at once; raise max_nodes or lower replicas.max",
            False,
        )
    ]


def test_min_replicas_beyond_the_pool_block(tmp_path):
    result = _plan(tmp_path, {"chat-8b-mig.yaml": {"placements": {0: {"replicas": {"min": 17, "max": 17}}}}})
    assert ("pool-too-small", True) in [(f.code, f.blocking) for f in result.findings]
    # 17 slices, 16 per node: 2 nodes; ceil(17 / 2 slices per GPU) = 9 GPUs
    assert next(f.message for f in result.findings if f.code == "pool-too-small") == (
        "placement us-central pool h100-mig: the models' min replicas need 2 nodes (9 GPUs) but max_nodes is 1; raise "
        "max_nodes or lower replicas.min"
    )
    assert not result.deployable


def test_team_quota(tmp_path):
    result = _plan(tmp_path, {"platform.yaml": {"teams": {0: {"gpus": 6}}}})
    # us-east: chat-8b holds 4 GPUs (within 6). us-central: chat-8b-mig's 8 replicas each request one slice, which
    # GKE advertises as one nvidia.com/gpu, the resource the team's ResourceQuota caps: 8 devices, over 6.
    assert _codes(result) == [
        (
            "over-quota",
            "team chat on placement us-central: its models hold 8 GPUs at max replicas but its quota is 6; lower "
            "replicas.max or raise the team's gpus",
            True,
        )
    ]


def test_team_budget_judges_the_teams_models_together(tmp_path):
    result = _plan(tmp_path, {"platform.yaml": {"teams": {0: {"monthly_budget": 20000}}}})
    assert _codes(result) == [
        (
            "team-over-budget",
            # chat-8b-mig 8/16 x 88.49 x 730 = 32,298.85 + chat-8b 4 x 1.861 x 730 = 5,434.12: 37,732.97
            "team chat: its models cost 37,733 USD per month at max replicas, over its monthly_budget 20,000 USD; "
            "lower replicas.max or raise the budget",
            True,
        )
    ]
    assert not result.deployable


def test_unknown_price_leaves_a_team_budget_unjudged(tmp_path):
    result = _plan(tmp_path, {"platform.yaml": {"placements": {2: {"price_per_gpu_hour": None}}}})
    assert ("team-budget-unknown", True) in [(f.code, f.blocking) for f in result.findings]
    assert result.cost_per_team()["search"] is None


def test_a_replica_larger_than_a_node(tmp_path):
    result = _plan(tmp_path, {"chat-8b.yaml": {"resources": {"gpu": "L40S:2"}}})
    assert (
        "replica-larger-than-node",
        "placement us-east pool l40s: a replica of chat-8b needs 2 GPUs but a node has 1; place it on a pool with "
        "larger nodes",
        True,
    ) in _codes(result)


def test_an_unused_pool_is_noted(tmp_path):
    result = _plan(tmp_path, {"search-mistral.yaml": None})
    assert _codes(result) == [("pool-unused", "placement onprem pool a100: no model runs on it", False)]


@pytest.mark.parametrize(
    ("items", "slots", "nodes"),
    [
        ([(4, 2), (2, 2), (1, 4)], 8, 2),  # 4+4 | 2+2+1+1+1+1
        ([(5, 3)], 8, 3),
        ([(1, 17)], 16, 2),
        ([(2, 3), (1, 3)], 4, 3),  # 2+2 | 2+1+1 | 1
        ([(3, 2), (2, 2)], 8, 2),  # 3+3+2 | 2
        ([], 8, 0),
        ([(9, 1)], 8, 0),
        ([(1, 2**31 - 1)], 16, 134_217_728),  # a hostile replicas.max costs nothing to pack
    ],
)
def test_packing(items, slots, nodes):
    assert pack(items, slots) == nodes


def test_packing_matches_first_fit_decreasing_one_item_at_a_time():
    def first_fit(sizes, slots):
        free: list[int] = []
        for size in sorted(sizes, reverse=True):
            for i, room in enumerate(free):
                if room >= size:
                    free[i] -= size
                    break
            else:
                free.append(slots - size)
        return len(free)

    for items in ([(8, 1), (4, 3), (2, 5), (1, 7)], [(2, 9), (1, 1)], [(4, 1), (1, 3)], [(1, 40)]):
        assert pack(items, 8) == first_fit([size for size, count in items for _ in range(count)], 8), items


def test_a_folder_without_platform_plans_each_spec_alone(tmp_path):
    for name in ("quickstart", "existing-cluster"):
        (tmp_path / f"{name}.yaml").write_text((SPECS / f"{name}.yaml").read_text())
    result = plan_fleet(load_fleet(tmp_path))
    assert result.placements == () and result.findings == ()
    assert [p.spec.name for p in result.models] == ["mistral-7b", "quickstart"]
    assert result.cost_per_model()["quickstart"] == result.models[1].monthly_cost_max


def test_unverified_capacity_is_a_note(tmp_path):
    result = _plan(tmp_path, {"platform.yaml": {"placements": {0: {"gpu_pools": {0: {"capacity": ["spot"]}}}}}})
    assert _codes(result) == [
        (
            "capacity-unverified",
            "placement us-east pool l40s: no source confirms that g6e.xlarge is sold as spot; it is planned so, but "
            "check it before deploying, or put a mode it is known to be sold in (on_demand) first in the pool's "
            "capacity",
            False,
        )
    ]
    assert result.placements[0].pools[0].capacity == CapacityChoice("spot", None, False)


def test_capacity_no_mode_sells_blocks(tmp_path):
    result = _plan(tmp_path, {"platform.yaml": {"placements": {0: {"gpu_pools": {0: {"capacity": ["flex_start"]}}}}}})
    assert (
        "capacity-unavailable",
        "placement us-east pool l40s: g6e.xlarge cannot be bought as flex_start",
        True,
    ) in _codes(result)


def test_system_pool_limits_are_carried():
    east = plan_fleet(load_fleet(FLEET)).placements[0]
    assert east.system_nodes == (2, 4)


def test_model_notes_of_idle_gpus_give_way_to_the_pools(tmp_path):
    model = plan_fleet(load_fleet(FLEET)).models[0]
    assert model.spec.name == "chat-8b-mig"
    assert "idle-gpus" not in [f.code for f in model.findings]  # the pool is shared: idle-at-min judges it
    result = _plan(tmp_path, {"chat-8b-mig.yaml": {"placements": {0: {"replicas": {"min": 16, "max": 16}}}}})
    assert "idle-at-min" not in [f.code for f in result.findings]


def test_a_multi_node_model_on_a_platform_pool_is_refused(tmp_path):
    llama = {
        **LLAMA_405B_ON_A100,
        "placements": [{"platform": "prod", "placement": "onprem", "replicas": {"min": 1, "max": 1}}],
    }
    result = _plan(tmp_path, {"search-qwen.yaml": llama})
    (model,) = [m for m in result.models if m.spec.name == "search-qwen"]
    assert model.fit.describe() == "16x A100-80GB (2 nodes, TP8 x PP2)"
    assert [(f.code, f.message) for f in model.findings if f.blocking] == [
        (
            "multi-node-on-platform",
            "placement onprem: platform pools are packed per GPU on one node; a replica spanning 2 nodes cannot be "
            "placed on one yet: give it its own placement (cluster), or a larger GPU or smaller quantization that "
            "fits one node",
        )
    ]
    assert not result.deployable
