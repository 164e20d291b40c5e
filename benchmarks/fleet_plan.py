"""The pure side of a fleet against its size: `inferstack plan DIR` work (read and bind every file,
plan every model, pack the pools) for folders of 1, 10, 50, 100 and 200 model specs on the example
platform (specs/fleet/platform.yaml with room for them: copies of specs/fleet/chat-8b.yaml, each with
its own name, on the us-east L40S pool).

Each size runs in a fresh interpreter so its peak RSS (resource.getrusage) is its own; the time is
wall-clock for load_fleet + plan_fleet, without interpreter start and imports.

Run: python benchmarks/fleet_plan.py [SIZES...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "specs" / "fleet"
SIZES = (1, 10, 50, 100, 200)


def write_folder(folder: Path, size: int) -> None:
    """The example platform, with pool and team limits that hold `size` models, and `size` model specs."""
    platform = yaml.safe_load((FLEET / "platform.yaml").read_text())
    platform["placements"][0]["gpu_pools"][0]["max_nodes"] = 1000
    platform["teams"][0].update(gpus=100_000, monthly_budget=1e9)
    (folder / "platform.yaml").write_text(yaml.safe_dump(platform))
    model = yaml.safe_load((FLEET / "chat-8b.yaml").read_text())
    for i in range(size):
        name = f"model-{i:03d}"
        copy = {**model, "name": name, "model": {**model["model"], "served_name": name}}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(copy))


def one(size: int) -> dict:
    """Load and plan a folder of `size` models in this process; returns the measurements."""
    import resource

    from inferstack.plan.fleet import plan_fleet
    from inferstack.spec.fleet import load_fleet

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, size)
        started = time.perf_counter()
        fleet = load_fleet(folder)
        loaded = time.perf_counter()
        result = plan_fleet(fleet)
        planned = time.perf_counter()
    assert result.deployable and len(result.models) == size
    return {
        "models": size,
        "load_s": loaded - started,
        "plan_s": planned - loaded,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(sizes: tuple[int, ...]) -> None:
    print(f"{'models':>6} {'load s':>8} {'plan s':>8} {'total s':>8} {'ms/model':>9} {'peak MiB':>9}")
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True
        ).stdout
        row = json.loads(out)
        total = row["load_s"] + row["plan_s"]
        print(
            f"{row['models']:>6} {row['load_s']:>8.2f} {row['plan_s']:>8.2f} {total:>8.2f} "
            f"{total / size * 1000:>9.1f} {row['peak_rss_mib']:>9.1f}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(int(sys.argv[2]))))
    else:
        main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
