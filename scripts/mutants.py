#!/usr/bin/env python3
"""Mutation check: break the code on purpose, one hand-written mutant at a time, and confirm the test
suite notices. Each mutant names the tests that must fail; a mutant that survives means those tests
cannot fail for the fault it plants.

Usage: scripts/mutants.py [--budget SECONDS] [--only NAME ...]

The tree is copied once to a temporary folder; the tests each mutant names are first run unmutated (a
selection that already fails proves nothing and is reported); each mutant is then applied there (its `old` text must occur
exactly once, so a mutant that no longer matches the code is reported, never silently skipped), the
named tests run with the copy first on the import path, and the file is restored. Prints a table and
the kill rate; exits 1 when any mutant survives or no longer applies, 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = "components/inferstack"


@dataclass(frozen=True)
class Mutant:
    name: str
    #: Path relative to the repository root.
    file: str
    #: Text replaced (must occur exactly once); None deletes the file.
    old: str | None
    new: str
    tests: tuple[str, ...]
    why: str


MUTANTS: tuple[Mutant, ...] = (
    # --- the "cannot fail" cases found in review (issue 16) -------------------------------------
    Mutant(
        "ignore-prometheus-url",
        f"{PKG}/kube/objects.py",
        ".cluster.prometheus_url or contract.PROMETHEUS_URL",
        ".cluster.prometheus_url and contract.PROMETHEUS_URL",
        ("tests/unit/kube",),
        "an existing cluster's Prometheus must reach the KEDA trigger",
    ),
    Mutant(
        "delete-resource-golden",
        "tests/golden/resources/quickstart.json",
        None,
        "",
        ("tests/components/test_model_deployment.py::test_resource_types_and_names_match_golden",),
        "a missing golden must fail, never be written back",
    ),
    Mutant(
        "delete-render-golden",
        "tests/golden/quickstart/plan.txt",
        None,
        "",
        ("tests/unit/test_render.py",),
        "a missing render golden must fail",
    ),
    Mutant(
        "plans-skip-deployability",
        f"{PKG}/program.py",
        "        if finding.blocking\n",
        "        if finding.blocking and False\n",
        (
            "tests/components/test_model_deployment.py::test_an_undeployable_spec_stops_the_stack_before_anything_is_registered",
        ),
        "an undeployable spec must stop the stack before anything is registered",
    ),
    Mutant(
        "gpu-suggestion-dropped",
        f"{PKG}/spec/models.py",
        "suggestion=closest(value, known)",
        "suggestion=None",
        ("tests/components/test_model_deployment.py::test_spec_yaml_args_and_errors_name_the_property",),
        "the specYaml error must carry the suggestion, not only echo the bad value",
    ),
    # --- contract and layers ---------------------------------------------------------------------
    Mutant(
        "provenance-key-spelling",
        f"{PKG}/contract.py",
        "return f\"{DOMAIN}/{field.replace('_', '-')}\"",
        'return f"{DOMAIN}/{field}"',
        ("tests/unit/compliance", "tests/unit/kube"),
        "the provenance record is written and read under one spelling",
    ),
    Mutant(
        "cluster-name-ignores-given",
        f"{PKG}/contract.py",
        'return given or f"{deployment}-{placement}"',
        'return f"{deployment}-{placement}"',
        ("tests/unit/monitoring", "tests/components/test_model_deployment.py"),
        "an existing cluster keeps its own name in labels and outputs",
    ),
    # --- spec -------------------------------------------------------------------------------------
    Mutant(
        "commit-accepts-short-hash",
        f"{PKG}/spec/patterns.py",
        'COMMIT = r"[0-9a-f]{40}"',
        'COMMIT = r"[0-9a-f]{7,40}"',
        ("tests/unit/spec", "tests/unit/compliance"),
        "a revision must be a full 40-hex commit",
    ),
    Mutant(
        "region-lock-open",
        f"{PKG}/spec/rules.py",
        "    if residency is None and not allowed_regions:\n        return True\n",
        "    return True\n",
        ("tests/unit/spec", "tests/unit/compliance"),
        "the region lock refuses regions outside it",
    ),
    Mutant(
        "tp-ignores-kv-heads",
        f"{PKG}/catalog/__init__.py",
        "and (self.kv_heads % tp == 0 or tp % self.kv_heads == 0)",
        "",
        ("tests/unit/spec", "tests/unit/plan", "tests/unit/catalog"),
        "tensor parallelism must split KV heads evenly or replicate them evenly",
    ),
    Mutant(
        "engine-settings-unchecked",
        f"{PKG}/spec/rules.py",
        "if setting not in configurable and wanted != engine_value:",
        "if False:",
        ("tests/unit/spec", "tests/unit/engines/test_engine_settings.py"),
        "an engine that cannot change a setting refuses a spec that asks it to",
    ),
    # --- plan -------------------------------------------------------------------------------------
    Mutant(
        "kv-bytes-without-values",
        f"{PKG}/plan/memory.py",
        "per_layer = 2 * kv_heads_per_gpu(arch, tp) * arch.head_dim * b",
        "per_layer = 1 * kv_heads_per_gpu(arch, tp) * arch.head_dim * b",
        ("tests/unit/plan",),
        "KV bytes count keys and values",
    ),
    Mutant(
        "monthly-hours",
        f"{PKG}/contract.py",
        "HOURS_PER_MONTH = 730",
        "HOURS_PER_MONTH = 720",
        ("tests/unit/plan", "tests/unit/compliance"),
        "monthly figures assume 730 hours",
    ),
    # --- engines ----------------------------------------------------------------------------------
    Mutant(
        "trtllm-drops-served-name",
        f"{PKG}/engines/adapters.py",
        '            "--served_model_name",\n            spec.served_name,\n',
        "",
        ("tests/unit/engines",),
        "TensorRT-LLM serves the model under the spec's served name",
    ),
    Mutant(
        "vllm-drops-kv-pool",
        f"{PKG}/engines/adapters.py",
        '"--kv-cache-memory-bytes",',
        '"--swap-space",',
        ("tests/unit/engines",),
        "vLLM allocates exactly the planned KV pool",
    ),
    # --- input boundary, scheduling, clouds (issues 11 and 12) -------------------------------------
    Mutant(
        "alias-bomb-unbounded",
        f"{PKG}/spec/inputs.py",
        "            if self._aliases > MAX_ALIASES:",
        "            if False:",
        ("tests/unit/spec",),
        "a YAML alias bomb is refused while it is parsed",
    ),
    Mutant(
        "daemonsets-take-no-room",
        f"{PKG}/plan/scheduling.py",
        "facts.allocatable_cpu_m - budget.cpu_m, facts.allocatable_memory_mib - budget.memory_mib",
        "facts.allocatable_cpu_m, facts.allocatable_memory_mib",
        ("tests/unit/plan",),
        "pods are sized to what the node has left after system DaemonSets",
    ),
    Mutant(
        "keda-ports-not-opened",
        f"{PKG}/clouds/gcp/__init__.py",
        "port.port for port in addon_ports",
        "port.port for port in ()",
        ("tests/components/test_cloud_constraints.py",),
        "private GKE opens KEDA's ports to the control plane",
    ),
    Mutant(
        "prefetch-without-its-identity",
        f"{PKG}/kube/objects.py",
        '"serviceAccountName": contract.prefetch_service_account(plan.spec.name),',
        '"serviceAccountName": contract.service_account(plan.spec.name),',
        ("tests/components/test_cloud_constraints.py", "tests/unit/kube"),
        "the prefetch Job runs as the service account the clouds bind to a weights-reading identity",
    ),
    Mutant(
        "any-root-container-allowed",
        f"{PKG}/compliance/rules.py",
        '        and capabilities.get("add") == ["CHOWN"]\n',
        "",
        ("tests/unit/compliance",),
        "only the share-owner shape may run as root",
    ),
    # --- compliance -------------------------------------------------------------------------------
    Mutant(
        "budget-rule-off",
        f"{PKG}/compliance/rules.py",
        "    if total > policy.monthly_budget:",
        "    if total > policy.monthly_budget * 100:",
        ("tests/unit/compliance",),
        "the budget rule fires over budget",
    ),
)


def _copy(target: Path) -> None:
    """The working tree without caches and environments; the tool environments the tests start (vLLM,
    checkov in .tools) are linked, not copied."""
    ignore = shutil.ignore_patterns(".git", ".venv", ".tools", "build", "__pycache__", ".pytest_cache", "*.egg-info")
    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    if (ROOT / ".tools").is_dir():
        (target / ".tools").symlink_to(ROOT / ".tools", target_is_directory=True)


def _apply(tree: Path, mutant: Mutant) -> tuple[Path, bytes] | str:
    path = tree / mutant.file
    if not path.is_file():
        return f"{mutant.file} does not exist"
    original = path.read_bytes()
    if mutant.old is None:
        path.unlink()
        return path, original
    text = original.decode()
    count = text.count(mutant.old)
    if count != 1:
        return f"{mutant.old!r} occurs {count} times in {mutant.file}, not once"
    path.write_text(text.replace(mutant.old, mutant.new))
    return path, original


def _run_tests(tree: Path, tests: tuple[str, ...], timeout: float) -> tuple[bool, float]:
    """True when the tests fail (the mutant is killed)."""
    env = {**os.environ, "PYTHONPATH": f"{tree / 'components'}{os.pathsep}{tree}", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("INFERSTACK_UPDATE_GOLDEN", None)
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not e2e", *tests],
            cwd=tree,
            env=env,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return True, time.monotonic() - started
    return result.returncode != 0, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=900, help="Stop starting new mutants after this many seconds.")
    parser.add_argument("--only", nargs="*", default=None, help="Run only these mutants (by name).")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"no mutant named {', '.join(sorted(unknown))}; known: {', '.join(m.name for m in MUTANTS)}")
    started = time.monotonic()
    rows: list[tuple[str, str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="inferstack-mutants-") as tmp:
        tree = Path(tmp) / "tree"
        _copy(tree)
        baseline: dict[tuple[str, ...], bool] = {}
        for mutant in chosen:
            if mutant.tests not in baseline:
                baseline[mutant.tests] = _run_tests(tree, mutant.tests, timeout=300)[0]
            if baseline[mutant.tests]:
                rows.append((mutant.name, "stale: its tests fail without the mutant", 0.0, mutant.why))
                continue
            if time.monotonic() - started > args.budget:
                rows.append((mutant.name, "not run (budget)", 0.0, mutant.why))
                continue
            applied = _apply(tree, mutant)
            if isinstance(applied, str):
                rows.append((mutant.name, "stale: " + applied, 0.0, mutant.why))
                continue
            path, original = applied
            try:
                killed, seconds = _run_tests(tree, mutant.tests, timeout=300)
            finally:
                path.write_bytes(original)
            rows.append((mutant.name, "killed" if killed else "SURVIVED", seconds, mutant.why))
    width = max(len(r[0]) for r in rows)
    print(f"{'mutant':<{width}}  {'result':<10}  {'seconds':>7}  what the tests must catch")
    for name, result, seconds, why in rows:
        print(f"{name:<{width}}  {result:<10}  {seconds:>7.1f}  {why}")
    killed = sum(r[1] == "killed" for r in rows)
    ran = sum(r[1] in ("killed", "SURVIVED") for r in rows)
    print(f"kill rate: {killed}/{ran} mutants killed ({len(rows) - ran} not run or stale)")
    bad = [r for r in rows if r[1] == "SURVIVED" or r[1].startswith("stale")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
