"""Which pods of a replica answer requests: every serving pod on one node; only each group's leader when a
replica spans nodes as a LeaderWorkerSet group (its workers serve no API)."""

from __future__ import annotations

from inferstack.plan import Plan

#: The label LWS puts on every pod of a group: its index, "0" for the leader (api/leaderworkerset/v1
#: WorkerIndexLabelKey, kubernetes-sigs/lws v0.9.0).
WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
LEADER_INDEX = "0"


def leader_selector(plan: Plan) -> dict[str, str]:
    """Labels to add to a selector of serving pods so it picks the pods that answer requests."""
    return {WORKER_INDEX_LABEL: LEADER_INDEX} if plan.fit.nodes > 1 else {}
