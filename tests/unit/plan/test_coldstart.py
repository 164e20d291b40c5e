"""Cache tiers and the cold-start budget: the sourced rates, one budget per tier computed by hand from
them, the tier the plan picks for an objective, and the outage a rollout and a drain cause."""

import pytest

from inferstack import catalog
from inferstack.plan import plan
from inferstack.plan.coldstart import local_nvme_bytes, tier_cold_start, unavailable_reason
from tests.conftest import spec_variant

#: The sourced figures, copied here so a change to the catalog has to change a test too.
SHARED_VOLUME_RATE = 500_000_000  # EFS per-client read, lower of the documented figures
NVME_RATE = 4.9 * 2**30  # runai-model-streamer#120: 4.9 GiB/s from one local NVMe SSD
S3_STREAM_RATE = 800 * 2**20  # runai-model-streamer#120: 800 MiB/s from an S3 API, default concurrency
IMAGE_SECONDS = 12e9 / 100e6  # 12 GB image at 100 MB/s
HF_RATE = 75_000_000

W = 100e9  # a 100 GB checkpoint
INIT = 60 + 30 * 1.0  # engine init: 60 s + 30 s per 100 GB


def test_the_catalog_holds_the_sourced_rates():
    rates = catalog.cold_start()
    assert rates["weight_read"]["shared_volume"]["bytes_per_second"] == SHARED_VOLUME_RATE
    assert rates["node_local"]["bytes_per_second"] == round(NVME_RATE)
    assert rates["streaming"]["rates"]["s3"]["bytes_per_second"] == S3_STREAM_RATE
    assert rates["streaming"]["rates"]["gs"]["bytes_per_second"] == S3_STREAM_RATE
    assert rates["tiers"]["order"] == ["streaming", "shared_volume", "node_local"]
    assert all(row["source"] for row in rates["local_nvme"].values())
    assert "runai-model-streamer#120" in rates["node_local"]["source"]


@pytest.mark.parametrize(
    ("node_type", "total"),
    [
        ("p5.48xlarge", 8 * 3.84e12),
        ("p5en.48xlarge", 8 * 3.84e12),
        ("p4d.24xlarge", 8 * 1e12),
        ("a3-highgpu-8g", 16 * 375e9),
        ("a3-megagpu-8g", 16 * 375e9),
        ("g6.xlarge", None),
        (None, None),
    ],
)
def test_local_nvme_per_node_type(node_type, total):
    assert local_nvme_bytes(node_type) == total


def test_shared_volume_budget_every_rank_reads_the_volume():
    cold = tier_cold_start("shared_volume", W, "hf", 8, "vllm")
    assert cold.weight_read_seconds == pytest.approx(8 * W / SHARED_VOLUME_RATE)  # 1,600 s
    assert cold.weight_fetch_seconds == pytest.approx(W / HF_RATE)
    assert cold.node_fill_seconds == 0
    assert cold.replica_seconds == pytest.approx(IMAGE_SECONDS + 1600 + INIT)  # 1,810 s
    assert cold.startup_probe_seconds == 3660  # 1,810 x 2, rounded up to minutes


def test_node_local_budget_streamer_reads_once_and_the_copy_is_per_node():
    cold = tier_cold_start("node_local", W, "hf", 8, "vllm")
    assert cold.weight_read_seconds == pytest.approx(W / NVME_RATE)  # 19.0 s
    assert cold.node_fill_seconds == pytest.approx(W / SHARED_VOLUME_RATE)  # 200 s
    assert cold.replica_seconds == pytest.approx(IMAGE_SECONDS + 19.0066 + INIT, abs=1e-3)
    assert cold.startup_probe_seconds == 480  # 229 s x 2 = 458 s, in whole minutes
    assert cold.node_fill_deadline_seconds == 420  # 200 s x 2 = 400 s, in whole minutes
    assert cold.first_rollout_seconds == 600 + cold.prefetch_deadline_seconds + 420 + 480


def test_node_local_budget_without_the_streamer_reads_in_every_rank():
    cold = tier_cold_start("node_local", W, "hf", 8, "sglang")
    assert cold.weight_read_seconds == pytest.approx(8 * W / NVME_RATE)  # 152.1 s


def test_streaming_budget_one_pass_from_the_bucket_and_no_prefetch():
    cold = tier_cold_start("streaming", W, "s3", 8, "vllm")
    assert cold.weight_read_seconds == pytest.approx(W / S3_STREAM_RATE)  # 119.2 s
    assert cold.weight_fetch_seconds == 0
    assert cold.replica_seconds == pytest.approx(IMAGE_SECONDS + 119.2093 + INIT, abs=1e-3)
    assert [s.arithmetic() for s in cold.stages] == [
        "image pull: 12.0 GB / 100 MB/s = 120 s",
        "weights streamed from s3:// (once per node): 100.0 GB / 839 MB/s = 119 s",
        "engine init: 90 s",
    ]


def test_outage_of_a_rollout_and_a_drain():
    cold = tier_cold_start("node_local", W, "hf", 8, "vllm")
    assert cold.rollout_outage_seconds(1) == pytest.approx(cold.replica_seconds)
    assert cold.drain_outage_seconds(1) == pytest.approx(600 + 200 + cold.replica_seconds)
    assert cold.rollout_outage_seconds(2) == 0
    assert cold.drain_outage_seconds(2) == 0


def _deepseek(**changes):
    return plan(spec_variant("deepseek-v3-h200", changes))


def test_deepseek_example_plans_node_local_under_fifteen_minutes():
    result = _deepseek()
    weights = result.fit.checkpoint_bytes
    assert result.cold_start.tier == "node_local"
    expected = IMAGE_SECONDS + weights / NVME_RATE + 60 + 30 * weights / 100e9
    assert result.cold_start.replica_seconds == pytest.approx(expected)
    assert result.cold_start.replica_seconds < 900
    shared = next(o for o in result.cold_start.options if o.tier == "shared_volume")
    assert shared.replica_seconds == pytest.approx(
        IMAGE_SECONDS + 8 * weights / SHARED_VOLUME_RATE + expected - IMAGE_SECONDS - weights / NVME_RATE
    )
    assert result.to_dict()["cache"]["kind"] == "node_local"


def test_cheapest_tier_that_meets_the_objective_is_streaming_when_it_does():
    result = _deepseek(
        model={"source": "s3://weights/deepseek-v3", "revision": None, "architecture": "deepseek-v3"},
        slo={"cold_start_s": 1300},
    )
    weights = result.fit.checkpoint_bytes
    assert result.cold_start.tier == "streaming"
    assert result.cold_start.replica_seconds == pytest.approx(
        IMAGE_SECONDS + weights / S3_STREAM_RATE + 60 + 30 * weights / 100e9
    )
    assert not [f for f in result.findings if f.code.startswith("cold")]


def test_streaming_too_slow_for_the_objective_falls_to_node_local():
    result = _deepseek(model={"source": "s3://weights/deepseek-v3", "revision": None, "architecture": "deepseek-v3"})
    assert result.cold_start.tier == "node_local"


def test_no_tier_meets_the_objective_names_each_and_takes_the_fastest():
    result = _deepseek(slo={"cold_start_s": 300})
    assert result.cold_start.tier == "node_local"
    finding = next(f for f in result.findings if f.code == "cold-start-objective-unmet")
    assert finding.message == (
        "no cache tier starts a replica within slo.cold_start_s 300 s (streaming: streams only s3:// and gs:// "
        "sources, not hf://; shared_volume 11,380 s; node_local 517 s); node_local is the fastest and is used"
    )
    assert finding.blocking is False


def test_without_an_objective_the_tier_is_the_shared_volume():
    result = plan(spec_variant("quickstart", {}))
    assert result.cold_start.tier == "shared_volume"
    assert result.cold_start.objective_seconds is None


def test_a_named_tier_that_cannot_be_used_blocks_the_plan():
    result = _deepseek(cache={"kind": "streaming"})
    finding = next(f for f in result.findings if f.code == "cache-tier-unavailable")
    assert finding.message == "cache.kind streaming cannot be used: streams only s3:// and gs:// sources, not hf://"
    assert finding.blocking and not result.deployable


def test_node_local_needs_a_node_type_with_nvme():
    result = plan(spec_variant("quickstart", {"slo": {"cold_start_s": 60}}))
    node_local = next(o for o in result.cold_start.options if o.tier == "node_local")
    node_type = result.placements[0].gpu_node_type
    assert node_local.unavailable == f"placement us-central: {node_type} has no local NVMe in the catalog"


def test_streaming_is_refused_for_engines_without_a_streaming_loader():
    result = _deepseek(
        model={"source": "s3://weights/deepseek-v3", "revision": None, "architecture": "deepseek-v3"},
        engine={"name": "sglang"},
    )
    streaming = next(o for o in result.cold_start.options if o.tier == "streaming")
    assert streaming.unavailable == catalog.cold_start()["streaming"]["refused"]["sglang"]


def test_node_local_is_not_offered_on_a_platforms_pools():
    spec = spec_variant("deepseek-v3-h200", {"placements": {0: {"platform": "shared"}}})
    result = plan(spec_variant("deepseek-v3-h200", {}))
    reason = unavailable_reason("node_local", spec, result.fit.weights_bytes, result.placements)
    assert reason == "placement us-east: a platform's node pools do not set up their NVMe for it"
