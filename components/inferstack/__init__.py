"""inferstack: one compliance-aware model spec in; GPU capacity, cached weights, hardened LLM serving
and monitoring out, on AWS, GCP or any Kubernetes cluster, with Pulumi.

    from inferstack import ModelDeployment, load_spec
    from inferstack.plan import plan

The Pulumi components are imported on first use, so planning and rendering never load a cloud SDK.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.deployment import InferenceService, ModelDeployment
    from inferstack.spec import load_spec

__version__ = "0.1.0"

_LAZY = {
    "ModelDeployment": "inferstack.deployment",
    "InferenceService": "inferstack.deployment",
    "load_spec": "inferstack.spec",
}
__all__ = ["InferenceService", "ModelDeployment", "load_spec"]  # the keys of _LAZY


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'inferstack' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
