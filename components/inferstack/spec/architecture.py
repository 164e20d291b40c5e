"""Which architecture a spec's model has: catalog name, Hugging Face id, or a local config.json."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from inferstack import catalog
from inferstack.spec import inputs
from inferstack.spec.suggest import closest

if TYPE_CHECKING:
    from inferstack.spec.models import DeploymentSpec


class UnknownArchitecture(LookupError):
    """The spec names no architecture the planner can use; `field` is where to fix it."""

    def __init__(
        self, field: str, value: object, problem: str, allowed: str = "", hint: str = "", suggestion: str | None = None
    ):
        super().__init__(problem)
        self.field, self.value, self.problem = field, value, problem
        self.allowed, self.hint, self.suggestion = allowed, hint, suggestion


@cache
def _from_config(path: str) -> catalog.Architecture:
    """A config.json read through the input boundary (regular file, at most 4 MiB, UTF-8)."""
    try:
        text = inputs.read_text(path, inputs.MAX_CONFIG_BYTES)
    except inputs.InputProblem as problem:
        raise catalog.ConfigProblem(path, problem.problem) from None
    return catalog.architecture_from_config(path, text)


def resolve_architecture(spec: DeploymentSpec) -> catalog.Architecture:
    """The spec's architecture, in order: `model.architecture`, `model.config`, the hf:// id."""
    model = spec.model
    known = catalog.architectures()
    if model.architecture is not None:
        if model.architecture not in known:
            raise UnknownArchitecture(
                "model.architecture",
                model.architecture,
                "not a catalog architecture",
                ", ".join(sorted(known)),
                suggestion=closest(model.architecture, known),
            )
        return known[model.architecture]
    if model.config is not None:
        try:
            return _from_config(model.config)
        except catalog.ConfigProblem as exc:
            raise UnknownArchitecture("model.config", model.config, f"cannot read config.json: {exc.reason}") from None
    if model.scheme == "hf":
        arch = catalog.architecture_for_hf_id(model.location)
        if arch is not None:
            return arch
    raise UnknownArchitecture(
        "model.architecture",
        None,
        f"the planner does not know the architecture of {model.source!r}",
        ", ".join(sorted(known)),
        "set model.architecture to a catalog name, or model.config to the checkpoint's config.json",
    )
