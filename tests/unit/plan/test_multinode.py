"""Multi-node replicas: the planner's layout search, node counts and cost per replica, rollouts."""

import pytest

from inferstack.plan import plan
from inferstack.plan.memory import GIB
from tests.conftest import spec_variant

#: deepseek-ai/DeepSeek-R1 at a real commit, in its own FP8 format.
R1_FP8 = {
    "model": {
        "source": "hf://deepseek-ai/DeepSeek-R1",
        "revision": "8a58a132790c9935686eb97f042afa8013451c9f",
        "architecture": None,
    }
}

#: Llama 3.1 405B in BF16 on 16 A100-80GB (two p4de-sized nodes), as another spec's model.
LLAMA_405B_ON_A100 = {
    "model": {
        "source": "hf://meta-llama/Llama-3.1-405B-Instruct",
        "revision": "f9801cba95a53242b3cc928a4a418d12571d1c5f",
        "served_name": "llama",
        "max_context": 8192,
    },
    "engine": {"quantization": None},
    "resources": {"gpu": "A100-80GB:16"},
}


def test_deepseek_r1_bf16_spans_three_h100_nodes():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {}))
    fit = result.fit
    assert (fit.tp, fit.pp, fit.nodes, fit.gpus, fit.gpus_per_node) == (8, 3, 3, 24, 8)
    # 671e9 parameters x 2 bytes over 24 GPUs: the checkpoint's 685e9 less the 14e9 MTP layer vLLM skips.
    assert fit.weights_per_gpu_bytes / GIB == pytest.approx(671e9 * 2 / 24 / GIB)
    assert fit.checkpoint_bytes == pytest.approx(685e9 * 2)
    # MLA: 61 layers x (512 + 64) x 2 bytes per token; a PP stage holds ceil(61 / 3) = 21 layers.
    assert fit.kv.full_bytes + fit.kv.window_bytes == 21 * (512 + 64) * 2
    assert [(t.tp, t.pp, t.nodes, t.fits) for t in result.tried] == [
        (1, 1, 1, False),
        (2, 1, 1, False),
        (4, 1, 1, False),
        (8, 1, 1, False),
        (8, 2, 2, False),
        (8, 3, 3, True),
    ]
    # Two nodes: 671e9 x 2 / 16 bytes = 78.11 GiB per GPU, and 0.9 x 79.18 GiB leaves no room for it.
    assert result.tried[4].reason.startswith("weights (78.11 GiB/GPU)")
    assert result.deployable


def test_multi_node_placement_counts_and_prices_every_node():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {}))
    (p,) = result.placements
    assert (p.gpu_node_type, p.nodes_per_replica, p.nodes_min, p.nodes_max) == ("p5.48xlarge", 3, 3, 6)
    # p5.48xlarge at 55.04 USD/h: 3 nodes at min (1 replica), 6 at max (2).
    assert p.cost_per_hour_min == pytest.approx(165.12)
    assert p.cost_per_hour_max == pytest.approx(330.24)
    assert p.idle_gpus_at_min == 0
    interconnect = result.to_dict()["placements"][0]["interconnect"]
    assert (interconnect["fabric"], interconnect["interfaces"]) == ("efa", 32)


def test_llama_405b_bf16_on_sixteen_h100_is_two_nodes_tp8_pp2():
    result = plan(spec_variant("llama-405b-bf16-h100", {}))
    assert (result.fit.tp, result.fit.pp, result.fit.nodes) == (8, 2, 2)
    assert result.fit.describe() == "16x H100 (2 nodes, TP8 x PP2)"
    (p,) = result.placements
    assert (p.gpu_node_type, p.nodes_min, p.nodes_max) == ("a3-highgpu-8g", 2, 2)
    assert p.cost_per_hour_min == pytest.approx(2 * 88.49)
    assert result.to_dict()["placements"][0]["interconnect"]["fabric"] == "gpudirect-tcpx"
    assert result.deployable


def test_sglang_spans_nodes_with_tensor_parallel_over_all_gpus():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {"engine": {"name": "sglang"}}))
    # TP16 leaves 79.74 GiB/GPU of weights (no fit); TP24 does not divide 128 heads; TP32 over 4 nodes.
    assert (result.fit.tp, result.fit.pp, result.fit.nodes, result.fit.gpus_per_node) == (32, 1, 4, 8)
    # MLA's latent is not split by TP: every rank holds all 61 layers.
    assert result.fit.kv.full_bytes == 61 * (512 + 64) * 2


def test_deepseek_r1_fp8_on_one_h100_node_stays_no_fit():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {**R1_FP8, "resources": {"gpu": "H100:8"}}))
    assert not result.deployable
    assert [f.code for f in result.findings if f.blocking] == ["no-fit"]
    assert result.fit.nodes == 1 and result.fit.tp == 8


def test_an_engine_that_cannot_span_nodes_says_why():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {"engine": {"name": "tgi"}}))
    findings = {f.code: f for f in result.findings}
    assert findings["no-fit"].blocking
    assert findings["no-multi-node"].message.startswith(
        "tgi cannot spread a replica over nodes: text-generation-inference shards one model only within one node"
    )


def test_single_node_models_keep_their_plan():
    result = plan(spec_variant("deepseek-v3-h200", {}))
    assert (result.fit.tp, result.fit.pp, result.fit.nodes) == (8, 1, 1)
    assert result.placements[0].nodes_per_replica == 1
    assert result.to_dict()["placements"][0]["interconnect"] is None


def test_one_replica_without_room_names_the_rollout_outage():
    result = plan(spec_variant("llama-405b-bf16-h100", {}))
    rollout = result.rollouts["us-central"]
    assert (rollout.max_surge, rollout.max_unavailable) == (0, 1)
    assert rollout.outage_seconds == result.cold_start.replica_seconds
    outage = next(f for f in result.findings if f.code == "rollout-outage")
    assert outage.message == (
        "placement us-central: rollouts cannot surge (the pool's 2 node(s) at most hold 1 replica(s), 1 at min, "
        f"no room for one more), so with one replica each rollout is an outage of about "
        f"{round(result.cold_start.replica_seconds)} s; set replicas.min to 2, and replicas.max above it so the "
        "pool has room to surge"
    )


def test_room_for_one_more_replica_surges():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {}))
    rollout = result.rollouts["us-east"]
    assert (rollout.max_surge, rollout.max_unavailable, rollout.outage_seconds) == (1, 0, None)
    assert "rollout-outage" not in {f.code for f in result.findings}


def test_two_replicas_without_room_replace_in_place_without_outage():
    spec = spec_variant("llama-405b-bf16-h100", {"placements": {0: {"replicas": {"min": 2, "max": 2}}}})
    rollout = plan(spec).rollouts["us-central"]
    assert (rollout.max_surge, rollout.max_unavailable, rollout.outage_seconds) == (0, 1, None)


def test_cost_per_million_tokens_prices_every_node_of_a_replica():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {}))
    (p,) = result.placements
    # 3 nodes x 55.04 USD/h per replica, over its output tokens per hour.
    expected = 3 * 55.04 / (result.throughput.tokens_per_second * 3600) * 1e6
    assert result.cost_per_million_tokens(p) == pytest.approx(expected)


def test_an_existing_cluster_must_bring_the_lws_controller_and_a_fabric():
    spec = spec_variant("existing-cluster", LLAMA_405B_ON_A100)
    result = plan(spec)
    assert result.fit.nodes == 2
    (note,) = [f for f in result.findings if f.code == "multi-node-existing-cluster"]
    assert note.message == (
        "placement onprem-fra: an existing cluster's own add-ons are kept, so it must already run the "
        "LeaderWorkerSet controller (v0.9.0 or later) and give its GPU nodes an inter-node fabric; inferstack "
        "installs neither there"
    )
    assert not note.blocking


def test_the_cache_tier_report_names_the_rollout_outage_the_rollouts_cause():
    surging = plan(spec_variant("deepseek-v3-h200", {}))
    assert surging.to_dict()["cache_tier"]["rollout_outage_seconds"] == 0
    in_place = plan(spec_variant("llama-405b-bf16-h100", {}))
    tier = in_place.to_dict()["cache_tier"]
    assert tier["rollout_outage_seconds"] == round(in_place.cold_start.replica_seconds)
