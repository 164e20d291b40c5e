"""How each pod of a multi-node replica starts, per engine launch kind."""

import pytest

from inferstack.engines import adapter_for
from inferstack.engines.base import UnsupportedFeature
from inferstack.engines.multinode import RAY_HELPER, pod_launch
from inferstack.plan import plan
from tests.conftest import spec_variant


def test_vllm_workers_only_join_ray_and_the_leader_waits_as_long_as_a_replica_starts():
    result = plan(spec_variant("llama-405b-bf16-h100", {}))
    vllm = adapter_for("vllm")
    leader = pod_launch(vllm, result, True, 1800)
    worker = pod_launch(vllm, result, False, 1800)
    assert leader.env == worker.env == {"RAY_HELPER": RAY_HELPER, "RAY_PORT": "6379", "RAY_INIT_TIMEOUT": "1800"}
    assert leader.args[0] == "serve" and worker.args == []


def test_sglang_runs_the_server_on_every_node_with_its_rank():
    result = plan(spec_variant("deepseek-r1-bf16-h100", {"engine": {"name": "sglang"}}))
    sglang = adapter_for("sglang")
    leader, worker = pod_launch(sglang, result, True, 60), pod_launch(sglang, result, False, 60)
    assert leader.command == worker.command == ["python3", "-m", "sglang.launch_server"]
    assert leader.env == worker.env == {}
    assert leader.args[-2:] == ["--node-rank", "0"] and worker.args[-2:] == ["--node-rank", "$(LWS_WORKER_INDEX)"]


@pytest.mark.parametrize("engine", ["tgi", "trtllm"])
def test_engines_that_cannot_span_nodes_refuse_a_group_launch(engine):
    result = plan(spec_variant("quickstart", {}))
    with pytest.raises(UnsupportedFeature, match=f"{engine} does not support multi-node replicas; supported: none"):
        adapter_for(engine).group_args(result, True)
