"""Toolkit speed against fleet size: the whole Pulumi program (load, plan, register every resource)
under Pulumi mocks for fleets of 1, 10, 50 and 100 deployments, each a copy of specs/quickstart.yaml
with its own name (one GKE placement each: network, private cluster, GPU pool, Filestore cache,
add-ons and serving objects).

Each fleet runs in a fresh interpreter so its peak RSS (resource.getrusage) is its own; the time
is wall-clock for planning + registering, excluding interpreter start and the Pulumi SDK imports
(shown apart).

Run: python benchmarks/fleet_scale.py [SIZES...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (1, 10, 50, 100)


def one(size: int) -> dict:
    """Run a fleet of `size` deployments under mocks in this process; returns the measurements."""
    import resource

    started = time.perf_counter()
    import pulumi

    import inferstack.clouds.gcp
    import inferstack.deployment  # noqa: F401
    from inferstack.offline import RecordingMocks
    from inferstack.program import deploy, plans
    from inferstack.spec import load_spec

    imported = time.perf_counter()
    base = load_spec(ROOT / "specs" / "quickstart.yaml")
    specs = [base.model_copy(update={"name": f"quickstart-{i:03d}"}) for i in range(size)]
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="inferstack", stack="fleet", preview=False)

    @pulumi.runtime.test
    def program():
        deployments = deploy(plans(specs))
        return pulumi.Output.all(*[d.endpoints for d in deployments])

    program()
    done = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "deployments": size,
        "resources": len(mocks.resources),
        "import_s": imported - started,
        "run_s": done - imported,
        "peak_rss_mib": peak_kib / 1024,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or list(SIZES)
    header = (
        f"{'deployments':>11} {'resources':>9} {'run s':>7} {'ms/deployment':>13} {'peak RSS MiB':>12} {'imports s':>9}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{row['deployments']:>11} {row['resources']:>9} {row['run_s']:>7.2f} "
            f"{1000 * row['run_s'] / size:>13.0f} {row['peak_rss_mib']:>12.0f} {row['import_s']:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
