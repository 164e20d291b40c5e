"""Multi-node facts read from `data/multinode.yaml`: how each engine spreads one replica over nodes (or
why it cannot), the fabric (EFA, GPUDirect-TCPX/TCPXO, RDMA) each GPU node type needs between nodes, and
the layouts (nodes x GPUs per node, TP x PP) an engine can launch one replica in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from inferstack.catalog import Architecture, _data, offerings

#: Most GPUs one node of any catalog offering carries: a larger `resources.gpu.count` spans nodes.
SINGLE_NODE_MAX_GPUS = 8


@dataclass(frozen=True)
class EngineSpan:
    """How an engine runs one replica over several nodes. `parallelism` "pipeline": TP within a node,
    PP across nodes; "tensor": TP over every GPU of the replica. `refused` is why it cannot (then the
    other fields are empty)."""

    engine: str
    parallelism: str | None
    launch: str | None
    port: int | None
    source: str
    refused: str | None = None


@dataclass(frozen=True)
class Fabric:
    """The inter-node GPU network of one node type: its kind and how many interfaces it attaches."""

    cloud: str
    node_type: str
    kind: str
    interfaces: int
    source: str
    #: The extended resource a pod requests to use the interfaces (one per interface), where a device
    #: plugin advertises them; None where the node's networks are attached another way.
    device_resource: str | None = None


def max_nodes_per_replica() -> int:
    return int(_data("multinode.yaml")["max_nodes_per_replica"])


@cache
def engine_spans() -> dict[str, EngineSpan]:
    rows = _data("multinode.yaml")["engines"]
    return {
        name: EngineSpan(
            engine=name,
            parallelism=row.get("parallelism"),
            launch=row.get("launch"),
            port=row.get("port"),
            source=str(row.get("source") or row.get("refused")),
            refused=row.get("refused"),
        )
        for name, row in rows.items()
    }


def fabric(cloud: str, node_type: str | None) -> Fabric | None:
    """The fabric a node type brings, or None when the facts list none for it."""
    row = (_data("multinode.yaml")["fabrics"].get(cloud) or {}).get(node_type or "")
    if row is None:
        return None
    return Fabric(
        cloud, str(node_type), row["fabric"], int(row["interfaces"]), row["source"], row.get("device_resource")
    )


def node_gpus(sku: str) -> int | None:
    """GPUs per node a multi-node replica of `sku` uses: the most any offering of it carries, None when
    no offering with a fabric carries it (then no replica of it spans nodes)."""
    counts = [o.gpus for o in offerings() if o.gpu == sku and fabric(o.cloud, o.node_type) is not None]
    return max(counts) if counts else None


@dataclass(frozen=True)
class Topology:
    """One replica's layout: `nodes` nodes of `gpus_per_node` GPUs, TP x PP ranks (TP x PP = every GPU)."""

    nodes: int
    gpus_per_node: int
    tp: int
    pp: int

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    def describe(self) -> str:
        return f"{self.nodes} nodes x {self.gpus_per_node} GPUs, TP{self.tp} x PP{self.pp}"


def splits_heads(arch: Architecture, tp: int) -> bool:
    """TP must divide the attention heads, and the KV heads must split or replicate evenly over it."""
    return arch.attention_heads % tp == 0 and (arch.kv_heads % tp == 0 or tp % arch.kv_heads == 0)


def spanning(span: EngineSpan, nodes: int, gpus_per_node: int) -> Topology:
    """The layout the engine uses on `nodes` nodes: TP per node and PP per node ("pipeline"), or TP
    over all of them ("tensor")."""
    if span.parallelism == "pipeline":
        return Topology(nodes, gpus_per_node, gpus_per_node, nodes)
    return Topology(nodes, gpus_per_node, gpus_per_node * nodes, 1)


def multi_node_topologies(arch: Architecture, engine: str, sku: str) -> list[Topology]:
    """Every multi-node layout (2 nodes upwards, fewest first) the engine can launch for the model on
    `sku` nodes; none when the engine refuses multi-node or no node type of `sku` has a fabric."""
    span = engine_spans()[engine]
    per_node = node_gpus(sku)
    if span.refused or per_node is None:
        return []
    layouts = (spanning(span, n, per_node) for n in range(2, max_nodes_per_replica() + 1))
    return [t for t in layouts if splits_heads(arch, t.tp)]


def requested_topology(arch: Architecture, engine: str, sku: str, gpus: int) -> Topology | None:
    """The multi-node layout of exactly `gpus` GPUs per replica, or None when there is none."""
    return next((t for t in multi_node_topologies(arch, engine, sku) if t.gpus == gpus), None)
