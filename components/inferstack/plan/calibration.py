"""Engine startup logs against the plan: what the engine logged per memory term, what the plan predicted,
and calibration rows measured on a team's own hardware that `plan` uses in place of the model's terms.

The log lines read are the ones vLLM and SGLang print at INFO level:

- vLLM: "Model loading took X GiB" (V1) / "Loading model weights took X GB" (V0, bytes / 2**30),
  "Available KV cache memory: X GiB", "GPU KV cache size: N tokens", "# GPU blocks: N" (V0/early V1,
  16-token blocks), "Maximum concurrency for L tokens per request: Cx", "Graph capturing finished in
  S secs, took X GiB", V0's "model weights take X GiB; non_torch_memory takes Y GiB; PyTorch activation
  peak memory takes Z GiB; the rest of the memory reserved for KV Cache is W GiB", and V1's profiling line
  (DEBUG in vLLM 0.19) "Memory profiling takes S seconds. Total non KV cache memory: T GiB; torch peak memory
  increase: Z GiB; non-torch forward increase memory: Y GiB; weights memory: X GiB."
- SGLang: "Init torch distributed ends. mem usage=X GB", "Load weight end. ... mem usage=X GB",
  "KV Cache is allocated. #tokens: N, K size: X GB, V size: Y GB" (SGLang's "GB" are bytes / 2**30),
  "Capture cuda graph end. ... mem usage=X GB".

With several ranks in one log, the first line of each kind is read (every rank logs the same sizes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from inferstack.plan.memory import EngineSettings

_NUMBER = r"(-?[\d,]+(?:\.\d+)?)"
#: (term, engine, pattern); the first group is the value, in GiB unless the term counts tokens or blocks.
PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("weights_gib", "vllm", rf"Model loading took {_NUMBER} GiB"),
    ("weights_gib", "vllm", rf"Loading model weights took {_NUMBER} GB"),
    ("weights_gib", "vllm", rf"model weights take {_NUMBER} ?GiB"),
    ("activation_gib", "vllm", rf"PyTorch activation peak memory takes {_NUMBER} ?GiB"),
    ("non_torch_gib", "vllm", rf"non_torch_memory takes {_NUMBER} ?GiB"),
    ("non_torch_gib", "vllm", rf"non_torch_memory={_NUMBER} ?GiB"),
    ("activation_gib", "vllm", rf"torch peak memory increase: {_NUMBER} ?GiB"),
    ("non_torch_gib", "vllm", rf"non-torch forward increase memory: {_NUMBER} ?GiB"),
    ("weights_gib", "vllm", rf"Total non KV cache memory: [\d.]+ ?GiB;.*?weights memory: {_NUMBER} ?GiB"),
    ("kv_pool_gib", "vllm", rf"Available KV cache memory: {_NUMBER} GiB"),
    ("kv_pool_gib", "vllm", rf"reserved for KV Cache is {_NUMBER} ?GiB"),
    ("kv_pool_gib", "vllm", rf"kv_cache_size={_NUMBER} ?GiB"),
    ("kv_tokens", "vllm", rf"GPU KV cache size: {_NUMBER} tokens"),
    ("kv_blocks", "vllm", rf"# GPU blocks: {_NUMBER}"),
    ("concurrency", "vllm", rf"Maximum concurrency for [\d,]+ tokens per request: {_NUMBER}x"),
    ("cuda_graph_gib", "vllm", rf"Graph capturing finished in \d+ secs?, took {_NUMBER} GiB"),
    ("cuda_graph_gib", "vllm", rf"Estimated CUDA graph memory: {_NUMBER} GiB total"),
    ("non_torch_gib", "sglang", rf"Init torch distributed ends\. mem usage={_NUMBER} GB"),
    ("weights_gib", "sglang", rf"Load weight end\..*?mem usage={_NUMBER} GB"),
    ("kv_tokens", "sglang", rf"KV Cache is allocated\. #tokens: {_NUMBER}"),
    ("kv_pool_gib", "sglang", rf"KV Cache is allocated\. #tokens: \d+, K size: {_NUMBER} GB"),
    ("v_size_gib", "sglang", rf"KV Cache is allocated\. #tokens: \d+, K size: [\d.]+ GB, V size: {_NUMBER} GB"),
    ("cuda_graph_gib", "sglang", rf"Capture cuda graph end\..*?mem usage={_NUMBER} GB"),
)
#: vLLM V0 and early V1 logged blocks instead of tokens; their blocks held 16 tokens.
V0_BLOCK_TOKENS = 16


class LogProblem(ValueError):
    """A log that has none of the lines calibration reads."""


@dataclass(frozen=True)
class Logged:
    """What one engine startup log says, per term (None where the log does not say)."""

    engine: str
    terms: dict[str, float]

    def get(self, term: str) -> float | None:
        return self.terms.get(term)


def parse_log(text: str) -> Logged:
    """The memory terms of an engine startup log; raises LogProblem when it has none."""
    found: dict[str, dict[str, float]] = {"vllm": {}, "sglang": {}}
    for term, engine, pattern in PATTERNS:
        if term in found[engine]:
            continue
        match = re.search(pattern, text)
        if match:
            found[engine][term] = float(match.group(1).replace(",", ""))
    engine = max(found, key=lambda name: len(found[name]))
    terms = found[engine]
    if not terms:
        raise LogProblem("no vLLM or SGLang memory line found (e.g. 'Model loading took', 'KV Cache is allocated')")
    if "v_size_gib" in terms:  # SGLang logs K and V separately; the pool is both
        terms["kv_pool_gib"] = terms.get("kv_pool_gib", 0.0) + terms.pop("v_size_gib")
    if "kv_blocks" in terms and "kv_tokens" not in terms:
        terms["kv_tokens"] = terms["kv_blocks"] * V0_BLOCK_TOKENS
    return Logged(engine, terms)


@dataclass(frozen=True)
class Term:
    """One row of the comparison: a memory term as predicted and as logged."""

    name: str
    unit: str
    predicted: float
    logged: float | None

    @property
    def error(self) -> float | None:
        """(predicted - logged) / logged, None when not logged or logged as 0."""
        if self.logged is None or self.logged == 0:
            return None
        return (self.predicted - self.logged) / abs(self.logged)


@dataclass(frozen=True)
class CalibrationRow:
    """Terms measured from one startup log, for one engine version, GPU, model, format, TP and settings."""

    engine: str
    version: str
    gpu: str
    architecture: str
    quantization: str
    tp: int
    max_num_batched_tokens: int | None
    max_num_seqs: int | None
    terms: dict[str, float]
    source: str

    def matches(self, settings: EngineSettings, gpu: str, architecture: str, quantization: str, tp: int) -> bool:
        """Same engine release, GPU, checkpoint, format, TP and batch settings as the logged run."""
        key = (self.engine, self.version, self.gpu, self.architecture, self.quantization, self.tp)
        batch = (self.max_num_batched_tokens, self.max_num_seqs)
        return key == (settings.name, settings.version, gpu, architecture, quantization, tp) and batch == (
            settings.max_num_batched_tokens,
            settings.max_num_seqs,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "version": self.version,
            "gpu": self.gpu,
            "architecture": self.architecture,
            "quantization": self.quantization,
            "tensor_parallel_size": self.tp,
            "max_num_batched_tokens": self.max_num_batched_tokens,
            "max_num_seqs": self.max_num_seqs,
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
            "source": self.source,
        }


#: Logged terms a calibration row carries: the ones the plan can use in place of its own.
CALIBRATED_TERMS = ("weights_gib", "activation_gib", "non_torch_gib", "cuda_graph_gib", "overhead_gib")


@dataclass(frozen=True)
class Calibration:
    """A user's calibration rows (read from their calibration file) that plan() consults."""

    rows: tuple[CalibrationRow, ...] = field(default_factory=tuple)

    def find(
        self, settings: EngineSettings, gpu: str, architecture: str, quantization: str, tp: int
    ) -> CalibrationRow | None:
        """The last matching row (a later measurement of the same setup wins)."""
        found = [r for r in self.rows if r.matches(settings, gpu, architecture, quantization, tp)]
        return found[-1] if found else None

    @classmethod
    def from_data(cls, data: Any, where: str) -> Calibration:
        """Rows from the file's parsed YAML: a list of mappings as `CalibrationRow.to_dict` writes them."""
        if data is None:
            return cls()
        if not isinstance(data, list):
            raise LogProblem(f"{where}: a calibration file is a list of rows")
        rows = []
        for index, row in enumerate(data):
            try:
                rows.append(
                    CalibrationRow(
                        engine=str(row["engine"]),
                        version=str(row["version"]),
                        gpu=str(row["gpu"]),
                        architecture=str(row["architecture"]),
                        quantization=str(row["quantization"]),
                        tp=int(row["tensor_parallel_size"]),
                        max_num_batched_tokens=row.get("max_num_batched_tokens"),
                        max_num_seqs=row.get("max_num_seqs"),
                        terms={str(k): float(v) for k, v in dict(row["terms"]).items() if k in CALIBRATED_TERMS},
                        source=str(row["source"]),
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise LogProblem(
                    f"{where}: row {index} is not a calibration row ({exc.__class__.__name__}: {exc})"
                ) from None
        return cls(tuple(rows))
