"""Prefix-cache hit rate, time to first token and throughput under each routing policy, on this machine.

Two real vLLM CPU servers (the tiny local model) behind the real vllm-router, all started from the
rendered manifests exactly as tests/e2e/test_routing.py does (tests/e2e/routing.py lists the
substitutions: pod discovery becomes a static list of the two local servers, loopback ports). Per
policy a fresh router runs the same shared-prefix workload: conversations that each open with their
own system prompt of about 200 tokens (vLLM's CPU block is 128 tokens) and then take turns, turn by
turn, one request at a time and then 4 at a time. Each run gets system prompts of its own, so no run
is served from another's cache. The hit rate is the servers' own counters (vllm:prefix_cache_hits_total over
vllm:prefix_cache_queries_total, in tokens) over the run; TTFT is measured by the client, to the first
streamed content chunk.

The client is a small thread pool here, not aiperf or guidellm: the workload's turns must follow each
other within a conversation (each turn carries the history so far), which their fixed-dataset
request streams do not keep, and the hit rate has to come from the servers anyway.

Run: python benchmarks/routing.py [--conversations N] [--turns N]
(needs scripts/install-vllm.sh and scripts/install-router.sh). The last line is the summary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "components"))

POLICIES = ("cache_aware", "round_robin")
#: Requests in flight: one at a time (what the e2e asserts on), then 4 (see routing.shared_prefix_workload).
IN_FLIGHT = (1, 4)


def main(argv: list[str] | None = None) -> int:
    from tests.e2e import routing
    from tests.e2e.test_vllm_serving import _stop

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=9, help="Conversations (odd: see routing.py).")
    parser.add_argument("--turns", type=int, default=5, help="User turns per conversation.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="routing-bench-") as tmp:
        servers = routing.start_servers(Path(tmp))
        results = []
        try:
            for in_flight in IN_FLIGHT:
                for policy in POLICIES:
                    process, base, _ = routing.start_router(servers, policy)
                    try:
                        result = routing.shared_prefix_workload(
                            servers, base, policy, args.conversations, args.turns, in_flight
                        )
                        results.append((in_flight, result))
                    finally:
                        _stop(process)
        finally:
            servers.stop()
    print(
        f"servers ready in {servers.timings['servers_ready_s']} s; {args.conversations} conversations x {args.turns} turns"
    )
    print(
        f"{'in flight':>9} {'policy':<12} {'requests':>8} {'failed':>6} {'hit rate':>9} {'TTFT p50':>9} "
        f"{'TTFT p95':>9} {'req/s':>7}"
    )
    for in_flight, r in results:
        print(
            f"{in_flight:>9} {r.policy:<12} {r.requests:>8} {r.failed:>6} {r.hit_rate:>8.1%} "
            f"{r.ttft_p50 * 1000:>7.0f}ms {r.ttft_p95 * 1000:>7.0f}ms {r.requests_per_s:>7.2f}"
        )
    # The summary is the workload the e2e asserts on: one request at a time.
    by = {r.policy: r for in_flight, r in results if in_flight == IN_FLIGHT[0]}
    print(
        f"routing: cache_aware prefix hit rate {by['cache_aware'].hit_rate * 100:.0f}%, "
        f"round_robin {by['round_robin'].hit_rate * 100:.0f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
