"""Predicted vs logged KV pool and fit verdict for every reference point.

Run: python benchmarks/planner_accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import reference_points, reference_spec
from inferstack.plan import plan
from inferstack.plan.memory import GIB


def main() -> int:
    header = f"{'id':8} {'logged KV GiB':>13} {'predicted':>10} {'error':>7} {'logged fit':>10} {'predicted':>10}  case"
    print(header)
    print("-" * len(header))
    worst = 0.0
    wrong_verdicts = 0
    for pid, point in reference_points().items():
        result = plan(reference_spec(point))
        predicted = result.fit.kv_pool_bytes / GIB
        logged = point["kv_gib"]
        if logged is None:
            error = "-"
        else:
            rel = (predicted - logged) / logged
            worst = max(worst, abs(rel))
            error = f"{rel:+.1%}"
        wrong_verdicts += result.fit.fits != point["fits"]
        print(
            f"{pid:8} {logged if logged is not None else '-':>13} {predicted:>10.2f} {error:>7} "
            f"{'fits' if point['fits'] else 'no fit':>10} {'fits' if result.fit.fits else 'no fit':>10}  {point['what']}"
        )
    print(f"\nworst KV error {worst:.1%}; wrong fit verdicts: {wrong_verdicts}")
    return 1 if wrong_verdicts or worst > 0.10 else 0


if __name__ == "__main__":
    raise SystemExit(main())
