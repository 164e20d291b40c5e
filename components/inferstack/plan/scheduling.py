"""Will every pod the stack creates be scheduled? Sizes pods to what a node leaves them, and checks it.

A pod schedules only on a node whose allocatable CPU and memory, minus what is already requested there,
hold its requests. What a node of each type leaves for pods is `catalog.cloud_facts` (the providers'
published kube-reserved and eviction formulas, and an estimated kernel share) minus the per-node
DaemonSet budget (`cloud_facts.daemonset_budget`). The pods inferstack creates, and the pool each lands on:

* **serving pod** (GPU pool, tolerates the GPU taint, selects the planned node type): sized here to its
  share of the node's room, requests = limits (Guaranteed QoS, so it is the last evicted under node
  memory pressure). It needs at least `serving_floor`; a node type that cannot give that is not chosen.
* **wait-for-weights init container** (same pod): tiny; an init container's request counts as
  max(init, sum of app containers), so it never raises the pod's footprint.
* **prefetch Job pod** (system pool): see `PREFETCH`.

Existing clusters (no catalog node type) are not checked: their nodes are not known to the planner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack.catalog import cloud_facts

MIB_PER_GIB = 1024


@dataclass(frozen=True)
class PodSize:
    """CPU (millicores) and memory (MiB) a pod requests; rendered as Kubernetes quantities."""

    cpu_m: int
    memory_mib: int

    def fits_in(self, room: NodeRoom) -> bool:
        return self.cpu_m <= room.cpu_m and self.memory_mib <= room.memory_mib

    @property
    def cpu(self) -> str:
        return str(self.cpu_m // 1000) if self.cpu_m % 1000 == 0 else f"{self.cpu_m}m"

    @property
    def memory(self) -> str:
        return f"{self.memory_mib // MIB_PER_GIB}Gi" if self.memory_mib % MIB_PER_GIB == 0 else f"{self.memory_mib}Mi"

    def describe(self) -> str:
        return f"{self.cpu_m / 1000:g} CPU, {self.memory_mib / MIB_PER_GIB:.1f} GiB"


@dataclass(frozen=True)
class NodeRoom:
    """What one node of a type leaves for inferstack's pods: allocatable minus the DaemonSet budget."""

    cloud: str
    node_type: str
    cpu_m: int
    memory_mib: int

    def describe(self) -> str:
        return f"{self.node_type} leaves {self.cpu_m / 1000:g} CPU, {self.memory_mib / MIB_PER_GIB:.1f} GiB"


#: The prefetch Job's requests and limits. It runs on the system (CPU) pool, not the GPU pool:
#: the fetcher is one stdlib process streaming 1 MiB chunks to disk and hashing them, so it needs
#: little CPU or memory and no GPU; GPU nodes are the expensive ones and the serving pod is sized to
#: take all of a GPU node's room (Guaranteed QoS), so a Job there would either not fit or squeeze the
#: engine; and the system pool exists from the first minute, whereas GPU nodes may be queued
#: (flex-start) or reclaimed (spot) mid-download. The same choice as GKE's and KServe's model caches,
#: which fill the cache from CPU nodes. The request is small enough for the smallest system node
#: inferstack creates (m6i.large: 2 vCPU, of which 1.63 CPU is left after kube-reserved and DaemonSets);
#: the CPU limit is higher so a free node lets hashing run at full speed.
PREFETCH = PodSize(cpu_m=500, memory_mib=1024)
PREFETCH_CPU_LIMIT_M = 2000
#: The init container that waits for the cache marker: a shell loop.
WAIT_FOR_WEIGHTS = PodSize(cpu_m=100, memory_mib=64)
#: Host memory the engine needs besides /dev/shm: Python, CUDA context, tokenizer, HTTP server.
ENGINE_HOST_MEMORY_MIB = 6 * MIB_PER_GIB
#: Serving pods' CPU is rounded down to this, memory to `MEMORY_STEP_MIB`.
CPU_STEP_M = 100
MEMORY_STEP_MIB = 256


def shm_gib(tp: int) -> int:
    """/dev/shm for NCCL between tensor-parallel workers (2 GiB per GPU, at most 16). A memory-backed
    emptyDir: it counts against the container's memory limit, so the floor includes it."""
    return min(16, 2 * tp)


def vllm_processes(tp: int) -> int:
    """vLLM V1 runs 1 API server + 1 engine core + one worker per GPU: "at least `2 + N` processes
    competing for CPU time" (vLLM docs, configuration/optimization.md, CPU Resources for GPU Deployments)."""
    return 2 + tp


def serving_floor(tp: int) -> PodSize:
    """The least a serving pod can run with: a CPU for each of the engine's busy processes (fewer
    "will cause contention and significantly degrade throughput and latency", same vLLM page), and
    the engine's host memory plus its /dev/shm."""
    return PodSize(vllm_processes(tp) * 1000, ENGINE_HOST_MEMORY_MIB + shm_gib(tp) * MIB_PER_GIB)


def serving_recommended_cpu_m(tp: int) -> int:
    """vLLM's recommendation: `2 + N` physical cores, "With hyperthreading: need 2 x (2 + N) vCPUs";
    cloud vCPUs are hyperthreads."""
    return 2 * vllm_processes(tp) * 1000


def node_room(cloud: str, node_type: str) -> NodeRoom:
    """Allocatable (cloud_facts, after the estimated kernel share) minus the per-node DaemonSet budget."""
    facts = cloud_facts.node_facts(cloud, node_type)
    budget = cloud_facts.daemonset_budget(cloud)
    return NodeRoom(
        cloud, node_type, facts.allocatable_cpu_m - budget.cpu_m, facts.allocatable_memory_mib - budget.memory_mib
    )


def serving_size(room: NodeRoom, replicas_per_node: int) -> PodSize:
    """One replica's share of a GPU node's room, rounded down to 100m CPU and 256 MiB."""
    cpu = room.cpu_m // replicas_per_node
    memory = room.memory_mib // replicas_per_node
    return PodSize(cpu - cpu % CPU_STEP_M, memory - memory % MEMORY_STEP_MIB)


def fallback_serving_size(tp: int, weights_bytes: float) -> PodSize:
    """Existing clusters, whose nodes the planner does not know: 4 CPU per GPU and 1.5x the checkpoint
    (at least 16 GiB) of memory, the sizes inferstack has always asked there."""
    return PodSize(4000 * tp, max(16, math.ceil(weights_bytes / 2**30 * 1.5)) * MIB_PER_GIB)


def system_node_type(cloud: str, pods: tuple[PodSize, ...]) -> tuple[str | None, NodeRoom | None]:
    """The smallest system node type (cloud_facts `system_node_types`) that holds the largest of `pods`."""
    rooms = sorted(
        (node_room(cloud, t) for t in cloud_facts.facts_data()["system_node_types"].get(cloud, {})),
        key=lambda r: (r.cpu_m, r.memory_mib),
    )
    for room in rooms:
        if all(p.fits_in(room) for p in pods):
            return room.node_type, room
    return None, rooms[-1] if rooms else None


def check(placement, tp: int, prefetch: bool) -> list[tuple[str, str, bool]]:
    """(code, message, blocking) for each pod of a planned placement that would not schedule, and a
    note when the serving pod has fewer vCPUs than vLLM recommends. Existing clusters are skipped."""
    node, serving = placement.node, placement.serving_pod
    if node is None or node.node_type is None or serving is None:
        return []
    out: list[tuple[str, str, bool]] = []
    room = node_room(placement.cloud, node.node_type)
    per_node = PodSize(serving.cpu_m * node.replicas_per_node, serving.memory_mib * node.replicas_per_node)
    if not per_node.fits_in(room) or not WAIT_FOR_WEIGHTS.fits_in(room):
        out.append(
            (
                "unschedulable",
                f"placement {placement.name}: {node.replicas_per_node} serving pod(s) of {serving.describe()} do not "
                f"fit one {node.node_type}: {room.describe()}; lower the pod size or pick a larger node type",
                True,
            )
        )
    if serving.cpu_m < serving_recommended_cpu_m(tp):
        out.append(
            (
                "cpu-below-recommendation",
                f"placement {placement.name}: each replica gets {serving.cpu_m / 1000:g} CPU on {node.node_type}; vLLM "
                f"recommends {serving_recommended_cpu_m(tp) // 1000} vCPUs for {tp} GPU(s) (2 x (2 + {tp}): API server, "
                "engine core and a worker per GPU, each a physical core), so tokenization and scheduling may slow it; "
                "a node type with more vCPUs per GPU avoids this",
                False,
            )
        )
    if prefetch:
        system = placement.system_node_type
        if system is None:
            out.append(
                (
                    "unschedulable",
                    f"placement {placement.name}: the prefetch Job requests {PREFETCH.describe()} but no "
                    f"{placement.cloud} system node type holds it",
                    True,
                )
            )
        elif not PREFETCH.fits_in(sys_room := node_room(placement.cloud, system)):
            out.append(
                (
                    "unschedulable",
                    f"placement {placement.name}: the prefetch Job requests {PREFETCH.describe()} but "
                    f"{sys_room.describe()}; use a larger system node type",
                    True,
                )
            )
    return out
