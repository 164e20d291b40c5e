"""GPUDirect-TCPX / TCPXO facts read from `data/gpudirect.yaml`: per fabric kind (multinode.yaml's
`fabric`), the NCCL plugin installer, the receive-datapath daemon sidecar (image, command, capabilities,
devices, host directories) and the NCCL settings the serving container needs. Fabric kinds without a row
(EFA, RDMA) need none of it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from inferstack.catalog import _data


@dataclass(frozen=True)
class HostDir:
    """A host directory the daemon or the serving container mounts (None: that side does not)."""

    name: str
    host: str
    daemon: str | None
    serving: str | None


@dataclass(frozen=True)
class Installer:
    """The DaemonSet that installs the NCCL plugin into the nodes' NVIDIA library directory."""

    name: str
    image: str
    gke_accelerator: str
    plugin_dir: str
    pause_image: str


@dataclass(frozen=True)
class Daemon:
    """The sidecar that runs the GPU NICs' receive datapath beside the serving container."""

    name: str
    image: str
    command: tuple[str, ...]
    capabilities: tuple[str, ...]
    devices: tuple[str, ...]
    volumes: tuple[HostDir, ...]
    #: (daemon path, serving container path) of the directory the daemon's sockets are shared through,
    #: None where the daemon shares none with the workload.
    socket: tuple[str, str] | None = None


@dataclass(frozen=True)
class GpuDirect:
    kind: str
    installer: Installer
    daemon: Daemon
    nccl_env: dict[str, str]
    #: The NCCL variable that lists the GPU NICs (eth1,eth2,...).
    nic_list_env: str
    source: str


def default_interface() -> tuple[str, str]:
    """The pod's own interface and the network it is on (eth0, "default")."""
    data = _data("gpudirect.yaml")
    return str(data["default_interface"]), str(data["default_network"])


def device_injector() -> tuple[str, str]:
    """The NRI device injector DaemonSet's name and pinned image."""
    row = _data("gpudirect.yaml")["device_injector"]
    return str(row["name"]), str(row["image"])


@cache
def gpudirect(kind: str) -> GpuDirect | None:
    """The GPUDirect facts of a fabric kind, None where the kind needs no daemon or plugin."""
    row = _data("gpudirect.yaml")["fabrics"].get(kind)
    if row is None:
        return None
    d = row["daemon"]
    return GpuDirect(
        kind=kind,
        installer=Installer(**row["installer"]),
        daemon=Daemon(
            name=d["name"],
            image=d["image"],
            command=tuple(d["command"]),
            capabilities=tuple(d["capabilities"]),
            devices=tuple(d["devices"]),
            volumes=tuple(HostDir(name, **paths) for name, paths in d["volumes"].items()),
            socket=(d["socket"]["daemon"], d["socket"]["serving"]) if d.get("socket") else None,
        ),
        nccl_env={k: str(v) for k, v in row["nccl_env"].items()},
        nic_list_env=row["nic_list_env"],
        source=row["source"],
    )


def all_gpudirect() -> list[GpuDirect]:
    """Every fabric kind's GPUDirect facts (what INF011's GPUDirect exception accepts)."""
    return [g for kind in _data("gpudirect.yaml")["fabrics"] if (g := gpudirect(kind)) is not None]
