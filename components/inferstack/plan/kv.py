"""KV cache accounting the way vLLM's hybrid allocator does it: KV groups, blocks, concurrency, tokens.

Read from vLLM's source (vllm/v1/core/kv_cache_utils.py and vllm/v1/kv_cache_interface.py, the vLLM
0.32.0 wheel and vllm-project/vllm@001cabc1be16a59a70d720ed61a13b678c060a18):

- Layers with the same spec form groups of equal size. A model with only one layer kind is one group.
  A hybrid model (full + sliding-window layers) uses the smaller layer count as the group size, or the
  larger when it is under 1.5x the smaller; each kind is split into ceil(layers / size) groups, the
  last one padded (`_get_kv_cache_groups_uniform_page_size`).
- One block is one page (block_tokens x per-layer bytes) for every layer of a group, so a block costs
  group_size x page bytes and num_blocks = pool // that (`get_kv_cache_config_from_groups`).
- A request at max_model_len takes ceil(L / block) blocks in each full group and
  ceil(min(window - 1 + in-flight tokens, L) / block) + 1 in each sliding-window group
  (`SlidingWindowSpec`); concurrency = num_blocks / that sum (`get_max_concurrency_for_kv_cache_config`).
- The logged token count depends on the version (engine_memory.yaml `kv_tokens_report`).
"""

from __future__ import annotations

from dataclasses import dataclass

from inferstack import catalog
from inferstack.plan.memory import KvLayout, version_key


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class KvGroups:
    """KV cache groups of one model on one GPU."""

    block_tokens: int
    page_bytes: int
    group_size: int
    full_groups: int
    window_groups: int
    window: int | None

    @property
    def count(self) -> int:
        return self.full_groups + self.window_groups

    @property
    def block_bytes(self) -> int:
        """Bytes one block id costs: a page in each layer of the widest group."""
        return self.group_size * self.page_bytes

    def blocks_per_request(self, max_context: int, in_flight_tokens: int) -> int:
        """Blocks one request of `max_context` tokens needs across all groups."""
        full = _cdiv(max_context, self.block_tokens) * self.full_groups
        if not self.window_groups or self.window is None:
            return full
        kept = min(self.window - 1 + in_flight_tokens, max_context)
        return full + (_cdiv(kept, self.block_tokens) + 1) * self.window_groups


def kv_groups(layout: KvLayout, block_tokens: int, hybrid_allocator: bool) -> KvGroups:
    """Group the layers as vLLM does; without a hybrid allocator every layer is a full-attention layer."""
    page = block_tokens * layout.layer_bytes
    full, window = layout.full_layers, layout.window_layers
    if not hybrid_allocator or not window:
        return KvGroups(block_tokens, page, full + window, 1, 0, None)
    if not full:
        return KvGroups(block_tokens, page, window, 0, 1, layout.window)
    smallest, largest = min(full, window), max(full, window)
    size = largest if largest < smallest * 1.5 else smallest
    return KvGroups(block_tokens, page, size, _cdiv(full, size), _cdiv(window, size), layout.window)


@dataclass(frozen=True)
class KvCapacity:
    """What the engine allocates and reports for one pool."""

    blocks: int
    blocks_per_request: int
    concurrency: float
    reported_tokens: int


def kv_capacity(
    groups: KvGroups, pool_bytes: float, max_context: int, in_flight_tokens: int, report: str
) -> KvCapacity:
    """Blocks in the pool, requests of `max_context` they hold, and the token figure the engine logs."""
    blocks = int(max(pool_bytes, 0) // groups.block_bytes)
    per_request = groups.blocks_per_request(max_context, in_flight_tokens)
    concurrency = blocks / per_request
    if report == "concurrency_x_context":
        tokens = int(concurrency * max_context)
    elif report == "blocks_per_group":
        tokens = blocks // groups.count * groups.block_tokens
    else:
        tokens = blocks * groups.block_tokens
    return KvCapacity(blocks, per_request, concurrency, tokens)


def mla_block_tokens(engine: str, version: str, gpu: str) -> int:
    """Tokens per KV block of an MLA model: the block the engine's MLA attention backend takes on this GPU
    in this version (engine_memory.yaml `mla_block_tokens`, newest row whose `since` <= version), else the
    engine's one `block_tokens_mla`."""
    table = catalog.engine_memory()[engine]
    rows = table.get("mla_block_tokens")
    if not rows:
        return int(table["block_tokens_mla"])
    row = next((r for r in rows if version_key(version) >= version_key(r["since"])), rows[-1])
    return int(row["gpus"].get(gpu, row["other"]))
