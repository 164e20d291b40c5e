"""Pure planning: memory fit, TP choice, KV capacity, concurrency, nodes, cost, cold-start budget."""

from inferstack.plan.planner import Finding, Plan, plan

__all__ = ["Finding", "Plan", "plan"]
