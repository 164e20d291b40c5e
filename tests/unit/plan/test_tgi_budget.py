"""TGI's KV budget: its --cuda-memory-fraction (default 1.0) times the wiggle room it keeps free (0.90)."""

import pytest

from inferstack.plan import plan
from inferstack.plan.memory import GIB
from tests.conftest import spec_variant

#: quickstart runs on one L4, 22.03 GiB as the engine sees it (catalog/data/gpus.yaml).
L4_GIB = 22.03


def _fit(engine):
    return plan(spec_variant("quickstart", {"engine": {"name": "tgi", "version": "3.3.6", **engine}})).fit


def _budget_gib(fit):
    o = fit.overhead
    return (fit.weights_per_gpu_bytes + fit.kv_pool_bytes) / GIB + o.activation_gib + o.non_torch_gib


@pytest.mark.parametrize(
    ("engine", "budget_gib"),
    [
        ({}, 1.0 * 0.90 * L4_GIB),  # launcher default --cuda-memory-fraction 1.0, TGI_WIGGLE_ROOM 0.90
        ({"gpu_memory_utilization": 0.8}, 0.8 * 0.90 * L4_GIB),  # the flag scales, the wiggle room stays
    ],
)
def test_tgi_budgets_its_fraction_times_its_wiggle_room(engine, budget_gib):
    assert _budget_gib(_fit(engine)) == pytest.approx(budget_gib, abs=1e-6)


def test_a_tgi_fraction_is_not_the_whole_budget():
    fit = _fit({"gpu_memory_utilization": 0.8})
    assert fit.settings.memory_fraction == pytest.approx(0.72)
    assert _budget_gib(fit) < 0.8 * L4_GIB - 1.0  # 1.76 GiB less than the flag alone would give
