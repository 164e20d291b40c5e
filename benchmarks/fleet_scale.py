"""Toolkit speed against fleet size: one platform (a new EKS placement with two GPU pools, a new GKE
placement, an existing cluster; `tests/components/large_fleet.py`) and 1-200 model specs, through the
whole Pulumi program (load and plan the folder, register every resource) under Pulumi mocks.

Each size runs in a fresh interpreter so its peak RSS is its own. The Pulumi SDK and provider modules
are imported before the clock starts (shown apart). Beside inferstack's time, the raw-SDK floor: a
fresh interpreter registering the very same resources (types, names and inputs; flat, without
parents) straight through the Pulumi SDK under the same mocks, so the ratio is what inferstack itself
costs.

Run: python benchmarks/fleet_scale.py [SIZES...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (1, 10, 50, 100, 200)
#: SDK modules the program uses, imported before timing (they load lazily on first attribute access).
SDK_MODULES = {
    "pulumi_aws": ("cloudwatch", "ec2", "efs", "eks", "iam", "kms"),
    "pulumi_gcp": ("compute", "container", "filestore", "kms", "projects", "serviceaccount", "storage"),
    "pulumi_kubernetes": (
        "apps.v1",
        "batch.v1",
        "core.v1",
        "helm.v3",
        "meta.v1",
        "networking.v1",
        "policy.v1",
        "rbac.v1",
        "storage.v1",
        "apiextensions",
    ),
}


def _import_sdk() -> float:
    import importlib

    started = time.perf_counter()
    import pulumi  # noqa: F401

    import inferstack.clouds.aws
    import inferstack.clouds.gcp
    import inferstack.clouds.kubernetes
    import inferstack.platform  # noqa: F401

    for package, modules in SDK_MODULES.items():
        for module in modules:
            # The SDKs' modules are lazy: any attribute outside the introspection set loads them.
            getattr(importlib.import_module(f"{package}.{module}"), "__all__", None)
    return time.perf_counter() - started


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def inferstack_run(size: int, dump: Path) -> dict:
    """The program on a fleet folder of `size` models, in this process; writes what it registered to
    `dump` for the raw-SDK run."""
    from inferstack.program import tune_gc

    tune_gc()  # what `pulumi up` gets: stacks/__main__.py runs `program.main`, which tunes the collector
    imports = _import_sdk()
    from tests.components.large_fleet import write_fleet

    folder = write_fleet(Path(tempfile.mkdtemp()) / "acme", size)
    from inferstack.offline import run_offline
    from inferstack.plan.fleet import plan_fleet
    from inferstack.program import run
    from inferstack.spec.fleet import load_fleet

    started = time.perf_counter()
    plan_fleet(load_fleet(folder))  # load and plan alone, shown apart; the program does it again
    planned = time.perf_counter()
    result = run_offline(run, value=str(folder), base=ROOT)
    done = time.perf_counter()
    dump.write_text(json.dumps([[r.typ, r.name, r.inputs] for r in result.resources], default=str))
    return {
        "models": size,
        "resources": len(result.resources),
        "imports_s": imports,
        "plan_s": planned - started,
        "total_s": done - planned,
        "peak_rss_mib": _peak_rss_mib(),
    }


def raw_run(dump: Path) -> dict:
    """The same resources registered straight through the SDK, under the same mocks: components as
    `ComponentResource`s, everything else as `CustomResource`s of the same type, name and inputs."""
    imports = _import_sdk()
    import pulumi

    from inferstack.offline import RecordingMocks

    registered = json.loads(dump.read_text())
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="inferstack", stack="raw", preview=False)
    started = time.perf_counter()

    @pulumi.runtime.test
    def program():
        for typ, name, inputs in registered:
            if typ.startswith("pulumi:providers:"):
                pulumi.ProviderResource(typ.split(":")[-1], name, inputs)
            elif typ.startswith("inferstack:"):
                pulumi.ComponentResource(typ, name)
            else:
                pulumi.CustomResource(typ, name, inputs)

    program()
    return {"raw_s": time.perf_counter() - started, "raw_imports_s": imports, "raw_resources": len(mocks.resources)}


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inferstack"]:
        print(json.dumps(inferstack_run(int(argv[1]), Path(argv[2]))))
        return 0
    if argv[:1] == ["--raw"]:
        print(json.dumps(raw_run(Path(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or list(SIZES)
    header = (
        f"{'models':>6} {'resources':>9} {'plan s':>7} {'program s':>9} {'ms/model':>8} {'raw SDK s':>9} "
        f"{'ratio':>5} {'peak RSS MiB':>12} {'imports s':>9}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            dump = Path(tmp) / "registered.json"
            row = _child(["--inferstack", str(size), str(dump)]) | _child(["--raw", str(dump)])
        rows.append(row)
        print(
            f"{row['models']:>6} {row['resources']:>9} {row['plan_s']:>7.2f} {row['total_s']:>9.2f} "
            f"{1000 * row['total_s'] / size:>8.0f} {row['raw_s']:>9.2f} {row['total_s'] / row['raw_s']:>5.2f} "
            f"{row['peak_rss_mib']:>12.0f} {row['imports_s']:>9.2f}"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        per_model = (last["total_s"] - first["total_s"]) / (last["models"] - first["models"])
        print(
            f"fleet: {per_model * 1000:.0f} ms per added model; t = {first['total_s'] - per_model * first['models']:.2f} s + {per_model:.3f} s x models"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
