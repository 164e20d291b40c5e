"""Write a fleet folder for tests and benchmarks: one platform (a new EKS placement with L40S and H100
pools, a new GKE placement with an L4 pool, an existing cluster with A100s) and N small model specs
spread over its placements and two teams."""

from __future__ import annotations

from pathlib import Path

import yaml

PLATFORM = {
    "kind": "Platform",
    "name": "acme",
    "compliance": {"residency": "us", "pin_revisions": True},
    "teams": [
        {"name": "chat", "gpus": 1000, "monthly_budget": 100_000_000},
        {"name": "search", "gpus": 1000},
    ],
    "placements": [
        {
            "name": "us-east",
            "cloud": "aws",
            "region": "us-east-1",
            "network_cidr": "10.70.0.0/16",
            "cluster": {"operator_cidrs": ["172.20.0.0/16"]},
            "system_pool": {"instance_type": "m6i.xlarge", "min_nodes": 3, "max_nodes": 6},
            "gpu_pools": [
                {"name": "l40s", "gpu": "L40S", "gpus_per_node": 1, "max_nodes": 1000},
                {"name": "h100", "gpu": "H100", "gpus_per_node": 8, "max_nodes": 100},
            ],
        },
        {
            "name": "us-central",
            "cloud": "gcp",
            "region": "us-central1",
            "network_cidr": "10.71.0.0/16",
            "cluster": {"operator_cidrs": ["172.20.0.0/16"]},
            "gpu_pools": [{"name": "l4", "gpu": "L4", "gpus_per_node": 1, "max_nodes": 1000}],
        },
        {
            "name": "onprem",
            "cloud": "kubernetes",
            "region": "us-east-2",
            "price_per_gpu_hour": 2.0,
            "cluster": {
                "kind": "existing",
                "context": "onprem-gpu",
                "prometheus_operator": True,
                "prometheus_url": "http://prometheus-operated.monitoring.svc:9090",
            },
            "gpu_pools": [{"name": "a100", "gpu": "A100-80GB", "gpus_per_node": 8, "max_nodes": 100}],
        },
    ],
}

#: (placement, pool, GPU) the i-th model runs on, in turn.
SLOTS = (
    ("us-east", "l40s", "L40S"),
    ("us-central", "l4", "L4"),
    ("onprem", "a100", "A100-80GB"),
    ("us-east", "h100", "H100"),
)


def model_spec(index: int) -> dict:
    """The `index`-th model: Qwen2.5 7B (hf, pinned; FP8 where the GPU has it), one GPU, 1-2 replicas,
    alternating teams."""
    placement, pool, gpu = SLOTS[index % len(SLOTS)]
    return {
        "name": f"m-{index:03d}",
        "team": ("chat", "search")[index % 2],
        "model": {
            "source": "hf://Qwen/Qwen2.5-7B-Instruct",
            "revision": "a09a35458c702b33eeacc393d103063234e8bc28",
            "served_name": f"qwen-{index:03d}",
            "max_context": 8192,
        },
        "engine": {"name": "vllm", "version": "0.32.0", "quantization": "none" if gpu == "A100-80GB" else "fp8"},
        "resources": {"gpu": f"{gpu}:1"},
        "placements": [{"platform": "acme", "placement": placement, "pool": pool, "replicas": {"min": 1, "max": 2}}],
    }


def write_fleet(folder: Path, models: int | list[int], file_name=lambda i: f"m-{i:03d}.yaml") -> Path:
    """`folder` with platform.yaml and the model specs `models` (a count, or the indexes to write)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "platform.yaml").write_text(yaml.safe_dump(PLATFORM, sort_keys=False))
    for index in range(models) if isinstance(models, int) else models:
        (folder / file_name(index)).write_text(yaml.safe_dump(model_spec(index), sort_keys=False))
    return folder
