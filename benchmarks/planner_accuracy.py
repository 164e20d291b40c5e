"""Predicted vs logged weights, KV pool and KV tokens for every reference point, fitted and held back.

Run: python benchmarks/planner_accuracy.py
Targets (issue 15): KV pool within 5 % on fitted points and 10 % on held-back ones, KV tokens within
10 %, no false "fits" and no false "no fit", on the ADMITTED points (the admission rule is written in
reference_points.yaml and applied to every point alike). Exit status 1 when a target is missed; the points
that miss one are listed with the error in GiB as well, since a relative error on a refused (near-zero or
negative) pool is large for a small absolute miss.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import reference_points, reference_spec
from inferstack import catalog
from inferstack.plan import Plan, plan
from inferstack.plan.memory import GIB, version_key

TARGETS = {"fitted": 0.05, "held_back": 0.10}
TOKENS_TARGET = 0.10
#: How far a point's logged terms may sum from its logged budget (reference_points.yaml says why).
IDENTITY_TOLERANCE_GIB = 0.1
#: vLLM release whose sampler profile shrank about 60 % (engine_memory.yaml); the issue asks for versions on both sides.
VERSION_STEP = "0.17.0"


def _error(predicted: float, logged: float | None) -> float | None:
    return None if logged is None or logged == 0 else (predicted - logged) / abs(logged)


def _cell(predicted: float, logged: float | None, digits: int = 2) -> str:
    error = _error(predicted, logged)
    shown = "-" if logged is None else f"{logged:,.{digits}f}"
    return f"{predicted:>10,.{digits}f} {shown:>10} {'-' if error is None else f'{error:+.1%}':>7}"


def admission(point: dict[str, Any]) -> str | None:
    """Why a point is not admitted (reference_points.yaml ADMISSION), or None when it is."""
    if point.get("setup_unstated"):
        return "the source does not state the command it ran with"
    if outside := point["flags_outside_spec"]:
        return f"ran with {', '.join(outside)}, which the spec cannot express"
    if identity := point.get("identity"):
        terms, budget = identity["terms_gib"], identity["budget_gib"]
        total = sum(terms.values())
        if abs(total - budget) > IDENTITY_TOLERANCE_GIB:
            return (
                f"logged terms sum to {total:.2f} GiB against its {budget:.2f} GiB budget "
                f"({total - budget:+.2f}; tolerance {IDENTITY_TOLERANCE_GIB} GiB)"
            )
    return None


def _verdict(fits: bool | None) -> str:
    return "-" if fits is None else ("fits" if fits else "no fit")


@dataclass(frozen=True)
class Scored:
    """One reference point planned and compared with what the engine logged."""

    pid: str
    point: dict[str, Any]
    result: Plan

    @property
    def pool_gib(self) -> float:
        return self.result.fit.kv_pool_bytes / GIB

    @property
    def refused(self) -> str | None:
        """Why the admission rule leaves this point out of the targets, or None when it counts."""
        return admission(self.point)

    @property
    def pool_error(self) -> float | None:
        return _error(self.pool_gib, self.point.get("kv_gib"))

    @property
    def tokens_error(self) -> float | None:
        return _error(self.result.fit.kv_tokens, self.point.get("kv_tokens"))

    @property
    def verdict_wrong(self) -> str | None:
        """'false fit' or 'false no-fit' when the plan's verdict contradicts the logged start."""
        logged, fits = self.point["fits"], self.result.fit.fits
        if logged is None or logged == fits:
            return None
        return "false fit" if fits else "false no-fit"

    def misses(self) -> list[str]:
        """The targets this point misses, each with its figures (none when it is not admitted)."""
        found: list[str] = []
        if self.refused:
            return found
        pool, limit = self.pool_error, TARGETS[self.point["split"]]
        if pool is not None and abs(pool) > limit:
            miss_gib = self.pool_gib - self.point["kv_gib"]
            found.append(f"KV pool {pool:+.1%} ({miss_gib:+.2f} GiB of {self.point['kv_gib']:.2f}; target {limit:.0%})")
        tokens = self.tokens_error
        if tokens is not None and abs(tokens) > TOKENS_TARGET:
            found.append(f"KV tokens {tokens:+.1%} (target {TOKENS_TARGET:.0%})")
        if self.verdict_wrong:
            found.append(self.verdict_wrong)
        return found

    def row(self) -> str:
        fit = self.result.fit
        return (
            f"{self.pid:13} {self.point['split']:9} {_cell(fit.weights_per_gpu_bytes / GIB, self.point.get('weights_gib'))} "
            f"{_cell(self.pool_gib, self.point.get('kv_gib'))} {_cell(fit.kv_tokens, self.point.get('kv_tokens'), 0)} "
            f"{_verdict(fit.fits):>7} {_verdict(self.point['fits']):>7}  "
            + (f"not admitted: {self.refused}" if self.refused else self.point["what"])
        )


def score(points: dict[str, dict[str, Any]]) -> list[Scored]:
    return [Scored(pid, point, plan(reference_spec(point))) for pid, point in points.items()]


#: The architecture classes issue 15 asks the corpus to span, in the order the coverage line prints them.
ARCHITECTURE_KINDS = ("dense", "MoE", "MLA", "hybrid")


def architecture_kinds(arch: catalog.Architecture) -> list[str]:
    """The classes a catalog entry belongs to: MoE (a moe block), MLA (an mla block), hybrid (sliding-window
    layers beside full ones); dense when it has none of them. A model can be several (DeepSeek: MoE and MLA)."""
    traits = {"MoE": arch.is_moe, "MLA": arch.is_mla, "hybrid": arch.sliding_window is not None}
    return [kind for kind, has in traits.items() if has] or ["dense"]


def architectures_line(scored: list[Scored]) -> str:
    """Points per architecture class, with the admitted ones in brackets."""
    counts = []
    for kind in ARCHITECTURE_KINDS:
        points = [s for s in scored if kind in architecture_kinds(s.result.architecture)]
        counts.append(f"{kind} {len(points)} ({sum(not s.refused for s in points)})")
    return "architectures, points (admitted): " + ", ".join(counts)


def coverage(scored: list[Scored]) -> list[str]:
    """What the corpus spans: GPUs, engines and versions, weight formats, KV dtypes, TP sizes, splits, and
    architecture classes."""
    engines = sorted({(s.result.spec.engine.name, s.result.spec.engine.version) for s in scored})
    vllm = [version for name, version in engines if name == "vllm"]
    before = [v for v in vllm if version_key(v) < version_key(VERSION_STEP)]
    since = [v for v in vllm if version_key(v) >= version_key(VERSION_STEP)]
    tps = sorted({s.result.fit.tp for s in scored})
    admitted = [s for s in scored if not s.refused]
    return [
        f"points: {len(scored)}, {len(admitted)} admitted ({sum(s.point['split'] == 'fitted' for s in admitted)} "
        f"fitted, {sum(s.point['split'] == 'held_back' for s in admitted)} held back), "
        f"{len(scored) - len(admitted)} not admitted",
        f"GPU types: {', '.join(sorted({s.result.fit.gpu for s in scored}))}",
        f"engines: {', '.join(sorted({name for name, _ in engines}))}; vLLM releases before {VERSION_STEP}: "
        f"{', '.join(sorted(before, key=version_key))}; from {VERSION_STEP}: {', '.join(sorted(since, key=version_key))}",
        f"weight formats: {', '.join(sorted({s.result.quantization for s in scored}))}; KV cache dtypes: "
        f"{', '.join(sorted({s.result.spec.engine.kv_cache_dtype for s in scored}))}",
        f"tensor-parallel sizes: {', '.join(str(tp) for tp in tps)}",
        architectures_line(scored),
    ]


def main() -> int:
    header = (
        f"{'id':13} {'split':9} {'weights':>10} {'logged':>10} {'err':>7} {'KV GiB':>10} {'logged':>10} {'err':>7} "
        f"{'KV tokens':>10} {'logged':>10} {'err':>7} {'verdict':>7} {'logged':>7}  case"
    )
    print(header)
    print("-" * len(header))
    scored = score(reference_points())
    for item in scored:
        print(item.row())
    admitted = [s for s in scored if not s.refused]
    worst = {split: 0.0 for split in TARGETS}
    for item in admitted:
        if item.pool_error is not None:
            worst[item.point["split"]] = max(worst[item.point["split"]], abs(item.pool_error))
    worst_tokens = max((abs(s.tokens_error) for s in admitted if s.tokens_error is not None), default=0.0)
    false_fits = sum(s.verdict_wrong == "false fit" for s in admitted)
    false_no_fits = sum(s.verdict_wrong == "false no-fit" for s in admitted)
    print("\n" + "\n".join(coverage(scored)))
    print(
        f"\nadmitted points only: worst KV pool error: fitted {worst['fitted']:.1%} (target {TARGETS['fitted']:.0%}), held back "
        f"{worst['held_back']:.1%} (target {TARGETS['held_back']:.0%}); worst KV tokens error {worst_tokens:.1%} "
        f"(target {TOKENS_TARGET:.0%}); false fits {false_fits}, false no-fits {false_no_fits}"
    )
    missed = [(s.pid, s.misses()) for s in scored if s.misses()]
    if missed:
        print("targets missed:")
        for pid, what in missed:
            print(f"  {pid}: {'; '.join(what)}")
    else:
        print("all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
