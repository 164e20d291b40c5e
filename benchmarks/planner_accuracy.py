"""Predicted vs logged weights, KV pool and KV tokens for every reference point, fitted and held back.

Run: python benchmarks/planner_accuracy.py
Targets (issue 15): KV pool within 5 % on fitted points and 10 % on held-back ones, KV tokens within
10 %, no false "fits" and no false "no fit". Exit status 1 when a target is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import reference_points, reference_spec
from inferstack.plan import plan
from inferstack.plan.memory import GIB

TARGETS = {"fitted": 0.05, "held_back": 0.10}
TOKENS_TARGET = 0.10


def _error(predicted: float, logged: float | None) -> float | None:
    return None if logged is None or logged == 0 else (predicted - logged) / abs(logged)


def _cell(predicted: float, logged: float | None, digits: int = 2) -> str:
    error = _error(predicted, logged)
    shown = "-" if logged is None else f"{logged:,.{digits}f}"
    return f"{predicted:>10,.{digits}f} {shown:>10} {'-' if error is None else f'{error:+.1%}':>7}"


def _verdict(fits: bool | None) -> str:
    return "-" if fits is None else ("fits" if fits else "no fit")


def main() -> int:
    header = (
        f"{'id':7} {'split':9} {'weights':>10} {'logged':>10} {'err':>7} {'KV GiB':>10} {'logged':>10} {'err':>7} "
        f"{'KV tokens':>10} {'logged':>10} {'err':>7} {'verdict':>7} {'logged':>7}  case"
    )
    print(header)
    print("-" * len(header))
    worst = {"fitted": 0.0, "held_back": 0.0}
    worst_tokens, false_fits, false_no_fits = 0.0, 0, 0
    for pid, point in reference_points().items():
        fit = plan(reference_spec(point)).fit
        split = point["split"]
        kv_error = _error(fit.kv_pool_bytes / GIB, point.get("kv_gib"))
        if kv_error is not None:
            worst[split] = max(worst[split], abs(kv_error))
        tokens_error = _error(fit.kv_tokens, point.get("kv_tokens"))
        if tokens_error is not None:
            worst_tokens = max(worst_tokens, abs(tokens_error))
        if point["fits"] is not None:
            false_fits += fit.fits and not point["fits"]
            false_no_fits += point["fits"] and not fit.fits
        print(
            f"{pid:7} {split:9} {_cell(fit.weights_per_gpu_bytes / GIB, point.get('weights_gib'))} "
            f"{_cell(fit.kv_pool_bytes / GIB, point.get('kv_gib'))} {_cell(fit.kv_tokens, point.get('kv_tokens'), 0)} "
            f"{_verdict(fit.fits):>7} {_verdict(point['fits']):>7}  {point['what']}"
        )
    counts = {s: sum(p["split"] == s for p in reference_points().values()) for s in TARGETS}
    print(
        f"\nworst KV pool error: fitted {worst['fitted']:.1%} ({counts['fitted']} points, target "
        f"{TARGETS['fitted']:.0%}), held back {worst['held_back']:.1%} ({counts['held_back']} points, target "
        f"{TARGETS['held_back']:.0%}); worst KV tokens error {worst_tokens:.1%} (target {TOKENS_TARGET:.0%}); "
        f"false fits {false_fits}, false no-fits {false_no_fits}"
    )
    missed = any(worst[s] > TARGETS[s] for s in TARGETS) or worst_tokens > TOKENS_TARGET
    return 1 if missed or false_fits or false_no_fits else 0


if __name__ == "__main__":
    raise SystemExit(main())
