"""Engine adapters: everything engine-specific about running and watching an inference server.

Each adapter turns a `Plan` into the container's image, command, arguments, environment, port and
probe paths, and declares the Prometheus metric names it exports; monitoring, autoscaling and the
end-to-end checks use those names only. Adapters are found by name in `REGISTRY`; asking for an
engine that is not registered is an error, never a fallback. What each engine can do (signals, LoRA,
quantizations, speculative decoding) is data in the catalog, which the spec rules read too.
"""

from inferstack.engines.adapters import SGLANG, TGI, TRTLLM, VLLM
from inferstack.engines.base import (
    EngineAdapter,
    Metrics,
    Probes,
    UnknownEngine,
    UnsupportedFeature,
    adapter_paths,
    cache_subpath,
    model_path,
)

REGISTRY: dict[str, EngineAdapter] = {adapter.name: adapter for adapter in (VLLM, SGLANG, TGI, TRTLLM)}


def adapter_for(name: str) -> EngineAdapter:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownEngine(f"no engine adapter named {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None


__all__ = [
    "REGISTRY",
    "EngineAdapter",
    "Metrics",
    "Probes",
    "UnknownEngine",
    "UnsupportedFeature",
    "adapter_for",
    "adapter_paths",
    "cache_subpath",
    "model_path",
]
