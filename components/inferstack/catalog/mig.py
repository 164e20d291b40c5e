"""MIG profiles as data (data/mig.yaml): how a GPU splits into slices, what each slice holds, and the
names Kubernetes uses for them. `slice_gpu` gives a slice as a `Gpu` record (SKU `<GPU>-MIG-<profile>`),
so the planner fits a model into it exactly as into a whole GPU."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from inferstack.catalog import Gpu, _data, gpus


@dataclass(frozen=True)
class MigProfile:
    """One MIG profile of one GPU."""

    gpu: str
    profile: str
    memory_gib: float
    memory_fraction: Fraction
    #: Slices of this profile one GPU holds.
    instances: int
    source: str

    @property
    def sku(self) -> str:
        """The slice's device name (`<GPU>-MIG-<profile>`, a valid label value): a plan's `fit.gpu` on a
        MIG pool. Not a gpus.yaml row: specs name the whole GPU and the pool's profile."""
        return f"{self.gpu}-MIG-{self.profile}"

    @property
    def resource(self) -> str:
        """The extended resource a pod requests for one slice (GPU operator, `mixed` strategy)."""
        return str(_kubernetes()["mixed_strategy_resource"]).format(profile=self.profile)

    @property
    def mig_config(self) -> tuple[str, str]:
        """The node label (key, value) that makes the GPU operator's MIG manager partition a node."""
        kube = _kubernetes()
        return str(kube["mig_config_label"]), str(kube["mig_config_value"]).format(profile=self.profile)

    @property
    def gke_partition(self) -> tuple[str, str]:
        """GKE: the node label (key, value) of a pool partitioned with `gpu_partition_size` = the profile."""
        return str(_kubernetes()["gke_partition_label"]), self.profile


def _kubernetes() -> dict:
    return _data("mig.yaml")["kubernetes"]


@cache
def profiles() -> tuple[MigProfile, ...]:
    """Every profile of every GPU in the catalog, in file order."""
    out = []
    for sku, row in _data("mig.yaml").items():
        if sku == "kubernetes":
            continue
        for name, facts in row["profiles"].items():
            out.append(
                MigProfile(
                    gpu=sku,
                    profile=name,
                    memory_gib=float(facts["memory_gib"]),
                    memory_fraction=Fraction(str(facts["memory_fraction"])),
                    instances=int(facts["instances"]),
                    source=row["source"],
                )
            )
    return tuple(out)


def profiles_of(gpu: str) -> tuple[MigProfile, ...]:
    """The profiles of one GPU SKU; () when it cannot be partitioned."""
    return tuple(p for p in profiles() if p.gpu == gpu)


def profile(gpu: str, name: str) -> MigProfile | None:
    """The profile `name` of `gpu`, or None."""
    return next((p for p in profiles_of(gpu) if p.profile == name), None)


def slice_gpu(mig: MigProfile) -> Gpu:
    """One slice as the engine sees a device: the slice's memory and its share of the GPU's bandwidth
    (each memory slice has its own memory controllers), named by `MigProfile.sku`."""
    whole = gpus()[mig.gpu]
    return Gpu(
        sku=mig.sku,
        memory_gib=mig.memory_gib,
        bandwidth_gbps=whole.bandwidth_gbps * float(mig.memory_fraction),
        fp8=whole.fp8,
        aliases=(),
        memory_source=f"MIG {mig.profile} slice of {whole.sku}: {mig.source}",
    )


def slice_of(sku: str) -> MigProfile | None:
    """The MIG profile a slice SKU (e.g. `H100-MIG-3g.40gb`, a plan's `fit.gpu` on a MIG pool) stands
    for; None for a whole GPU."""
    return next((p for p in profiles() if p.sku == sku), None)
