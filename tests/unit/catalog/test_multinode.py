"""Multi-node catalog facts: engine spans, fabrics per node type, layouts."""

from inferstack import catalog
from inferstack.catalog import multinode
from inferstack.spec.models import MAX_GPUS_PER_REPLICA


def test_every_engine_spans_nodes_or_says_why_not():
    spans = multinode.engine_spans()
    assert set(spans) == set(catalog.engine_capabilities())
    assert {name for name, s in spans.items() if s.refused} == {"tgi", "trtllm"}
    assert (spans["vllm"].parallelism, spans["vllm"].launch, spans["vllm"].port) == ("pipeline", "ray", 6379)
    assert (spans["sglang"].parallelism, spans["sglang"].launch, spans["sglang"].port) == ("tensor", "dist_init", 20000)


def _fabric(cloud, node_type):
    found = multinode.fabric(cloud, node_type)
    return None if found is None else (found.kind, found.interfaces)


def test_fabrics_per_node_type():
    assert _fabric("aws", "p5.48xlarge") == ("efa", 32)
    assert _fabric("aws", "p5en.48xlarge") == ("efa", 16)
    assert _fabric("aws", "p4d.24xlarge") == ("efa", 4)
    assert _fabric("gcp", "a3-highgpu-8g") == ("gpudirect-tcpx", 4)
    assert _fabric("gcp", "a3-megagpu-8g") == ("gpudirect-tcpxo", 8)
    assert _fabric("gcp", "a3-ultragpu-8g") == ("rdma", 8)
    assert _fabric("aws", "g6.48xlarge") is None
    assert _fabric("gcp", "a2-highgpu-8g") is None


def test_every_fabric_row_is_a_catalog_offering_with_a_source():
    offered = {(o.cloud, o.node_type) for o in catalog.offerings()}
    rows = catalog._data("multinode.yaml")["fabrics"]
    for cloud, types in rows.items():
        for node_type, row in types.items():
            assert (cloud, node_type) in offered
            assert row["source"]


def test_gpus_per_node_of_a_multi_node_replica():
    assert multinode.node_gpus("H100") == 8
    assert multinode.node_gpus("L4") is None  # no L4 node type has a fabric


def test_the_spec_bound_is_the_search_bound():
    assert multinode.max_nodes_per_replica() * multinode.SINGLE_NODE_MAX_GPUS == MAX_GPUS_PER_REPLICA
    assert max(o.gpus for o in catalog.offerings()) == multinode.SINGLE_NODE_MAX_GPUS


def test_layouts_keep_heads_split_evenly():
    llama = catalog.architectures()["llama-3.1-405b"]
    assert [t.gpus for t in multinode.multi_node_topologies(llama, "vllm", "H100")] == [16, 24, 32, 40, 48, 56, 64]
    # SGLang's TP over every GPU: 128 heads split by 16, 32 and 64 only.
    assert [t.tp for t in multinode.multi_node_topologies(llama, "sglang", "H100")] == [16, 32, 64]
    assert multinode.multi_node_topologies(llama, "tgi", "H100") == []
