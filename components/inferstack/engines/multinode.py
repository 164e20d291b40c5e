"""How each pod of a multi-node replica starts: the leader's and the workers' command, arguments and
environment, by the engine's launch kind (catalog/data/multinode.yaml).

Ray (vLLM): the image's own helper, examples/online_serving/multi-node-serving.sh (the one the
LeaderWorkerSet vLLM example runs, kubernetes-sigs/lws docs/examples/vllm/GPU/lws.yaml @v0.9.0), starts
the Ray head and waits until the group's nodes have joined, then the leader execs the engine; workers join
with `ray start --address=$(LWS_LEADER_ADDRESS)` and block. The scripts are constants: every value reaches
them as environment variables, and the engine's command and arguments as positional parameters, so nothing
from a spec is ever parsed as shell. Other launch kinds run the engine directly on every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inferstack.catalog import multinode
from inferstack.engines.base import EngineAdapter

if TYPE_CHECKING:
    from inferstack.plan import Plan

#: Where the vLLM image keeps the multi-node helper (the LWS vLLM example calls it at this path).
RAY_HELPER = "/vllm-workspace/examples/online_serving/multi-node-serving.sh"
#: Leader: start the Ray head, wait for the whole group, then exec the engine ("$0" "$@").
RAY_LEADER_SCRIPT = (
    'bash "$RAY_HELPER" leader --ray_port="$RAY_PORT" --ray_cluster_size="$LWS_GROUP_SIZE" '
    '--ray_init_timeout="$RAY_INIT_TIMEOUT" && exec "$0" "$@"'
)
#: Worker: join the leader's Ray head and block.
RAY_WORKER_SCRIPT = (
    'exec bash "$RAY_HELPER" worker --ray_address="$LWS_LEADER_ADDRESS" --ray_port="$RAY_PORT" '
    '--ray_init_timeout="$RAY_INIT_TIMEOUT"'
)


@dataclass(frozen=True)
class PodLaunch:
    """What one pod of a group runs."""

    command: list[str]
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


def pod_launch(adapter: EngineAdapter, plan: Plan, leader: bool, join_timeout_seconds: int) -> PodLaunch:
    """The leader's (or a worker's) launch. `join_timeout_seconds`: how long the Ray leader waits for its
    workers, and a worker retries the leader (they start as fast as their weights load)."""
    span = multinode.engine_spans()[adapter.name]
    args = adapter.group_args(plan, leader)
    if span.launch != "ray":
        return PodLaunch(list(adapter.command), args)
    env = {"RAY_HELPER": RAY_HELPER, "RAY_PORT": str(span.port), "RAY_INIT_TIMEOUT": str(join_timeout_seconds)}
    if leader:
        return PodLaunch(["sh", "-c", RAY_LEADER_SCRIPT, adapter.command[0]], [*adapter.command[1:], *args], env)
    return PodLaunch(["sh", "-c", RAY_WORKER_SCRIPT], [], env)
