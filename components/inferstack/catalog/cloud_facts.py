"""Cloud facts read from `data/cloud_facts.yaml`: what a node of each type leaves for pods, the capacity
modes it is sold in, its boot disks and GPU zones, the control-plane-to-node ports, supported versions.

The reservation formulas are implemented once here; their constants live in the YAML beside their
sources:

* EKS (AL2023 nodeadm): kube-reserved CPU by brackets (6 % of the first core, 1 % of the second,
  0.5 % of cores 3-4, 0.25 % above, each bracket truncated to whole millicores as nodeadm's Go integer
  arithmetic does), kube-reserved memory ``11 MiB x max pods + 255 MiB`` where max pods is the ENI
  value ``enis x (IPs per ENI - 1) + 2`` (nodeadm ignores the managed node group's lower cap there),
  eviction 100 MiB.
* GKE: kube-reserved memory by brackets of the machine's memory (25 % of the first 4 GiB ... 2 % above
  128 GiB; 255 MiB under 1 GiB), the same CPU brackets, eviction 100 MiB.

Allocatable = capacity - kube-reserved - eviction. Capacity is the memory the kernel leaves (below the
nominal machine size): an *estimate* per cloud (Karpenter's 7.5 % on AWS, the cluster autoscaler's
kernel-reservation model on GKE), applied in `allocatable_memory_mib`; `formula_allocatable_memory_mib`
is the published formula on the nominal size alone. Neither subtracts DaemonSets: `daemonset_budget`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from inferstack.catalog import SAFE_LOADER, offerings

CAPACITY_MODES = ("on_demand", "spot", "flex_start", "capacity_block", "reservation")
UNKNOWN = "unknown"


class UnknownNodeType(KeyError):
    """A cloud or node type the facts do not cover; the message names the known ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown node type"


@dataclass(frozen=True)
class NodeFacts:
    """What one node of a type offers pods, how it can be bought, and what it boots from."""

    cloud: str
    node_type: str
    vcpus: int
    memory_gib: float
    kube_reserved_cpu_m: int
    kube_reserved_memory_mib: int
    eviction_memory_mib: int
    os_reserved_memory_mib: int
    allocatable_cpu_m: int
    #: After the estimated kernel/hypervisor share: what the scheduler will most likely see.
    allocatable_memory_mib: int
    #: The published formula on the nominal memory (no kernel share): an upper bound.
    formula_allocatable_memory_mib: int
    #: Pods the kubelet admits (AWS: ENI formula capped by the managed node group; GCP: None, set per pool).
    max_pods: int | None
    capacity_modes: tuple[str, ...]
    capacity_modes_unavailable: tuple[str, ...]
    capacity_modes_unknown: tuple[str, ...]
    capacity_source: str
    boot_disks: tuple[str, ...]
    boot_disk_source: str
    #: Region -> zones that offer this node type; None when no source gave zones for this cloud/type.
    zones: dict[str, tuple[str, ...]] | None

    def can_buy(self, mode: str) -> bool | None:
        """True/False when a source says, None when unknown."""
        if mode not in CAPACITY_MODES:
            raise ValueError(f"unknown capacity mode {mode!r}; known: {', '.join(CAPACITY_MODES)}")
        if mode in self.capacity_modes:
            return True
        if mode in self.capacity_modes_unavailable:
            return False
        return None


@dataclass(frozen=True)
class DaemonSetBudget:
    cpu_m: int
    memory_mib: int
    estimate: bool
    reasoning: str


@dataclass(frozen=True)
class AddonPort:
    port: int
    addon: str
    component: str
    why: str
    source: str


@dataclass(frozen=True)
class ControlPlanePorts:
    """Ports the control plane reaches on nodes/pods: open by default (`None` = all) and needed by add-ons."""

    cloud: str
    open_by_default: tuple[int, ...] | None
    source: str
    applies_to: str
    required_by_addons: tuple[AddonPort, ...]

    def missing_for(self, addons: set[str] | frozenset[str]) -> tuple[AddonPort, ...]:
        """Add-on ports that a firewall rule must open, for the add-ons installed."""
        if self.open_by_default is None:
            return ()
        return tuple(p for p in self.required_by_addons if p.addon in addons and p.port not in self.open_by_default)


@cache
def facts_data() -> dict[str, Any]:
    return yaml.load(
        resources.files("inferstack.catalog").joinpath("data", "cloud_facts.yaml").read_text(), Loader=SAFE_LOADER
    )


def _bracketed(amount: float, brackets: list[list[Any]], truncate_each: bool) -> float:
    total = 0.0
    for start, end, fraction in brackets:
        if amount <= start:
            break
        top = amount if end is None else min(amount, end)
        part = (top - start) * fraction
        total += math.floor(part + 1e-9) if truncate_each else part
    return total


def kube_reserved_cpu_m(cloud: str, vcpus: float) -> int:
    """kube-reserved CPU in millicores by the cloud's published brackets."""
    f = _formula(cloud)
    return int(_bracketed(vcpus * 1000, f["cpu_reserved_brackets_m"], bool(f["cpu_integer_division"])))


def kube_reserved_memory_mib(cloud: str, memory_mib: float, eni_max_pods: int | None = None) -> int:
    """kube-reserved memory in MiB: AWS from the ENI max pods, GCP from the machine's memory."""
    f = _formula(cloud)
    if cloud == "aws":
        if eni_max_pods is None:
            raise ValueError("AWS kube-reserved memory needs the instance type's ENI max pods")
        return int(f["memory_reserved"]["per_pod_mib"] * eni_max_pods + f["memory_reserved"]["base_mib"])
    small = f["small_machine"]
    if memory_mib <= small["at_most_mib"]:
        return int(small["reserved_mib"])
    return int(_bracketed(memory_mib, f["memory_reserved_brackets_mib"], truncate_each=False))


def os_reserved_memory_mib(cloud: str, memory_mib: float) -> int:
    """Estimated memory the kernel/hypervisor keeps before the kubelet reports capacity (see the YAML)."""
    o = _formula(cloud)["os_memory_overhead"]
    if cloud == "aws":
        return math.ceil(memory_mib * o["fraction"])
    reserved = memory_mib * o["ratio"] + o["base_mib"]
    if memory_mib > o["swiotlb_above_mib"]:
        reserved += o["swiotlb_mib"]
    if memory_mib <= o["low_memory_at_most_mib"]:
        reserved += o["low_memory_offset_mib"]
    reserved += min(o["correction_fraction"] * memory_mib, o["correction_cap_mib"])
    return math.ceil(reserved)


def eni_max_pods(enis: int, ipv4_per_eni: int) -> int:
    """EKS AMI max pods without prefix delegation: ENIs x (IPs per ENI - 1) + 2."""
    return enis * (ipv4_per_eni - 1) + 2


def managed_node_group_max_pods(vcpus: int, eni_pods: int) -> int:
    cap = _formula("aws")["max_pods"]["managed_node_group_cap"]
    return min(eni_pods, cap["below"] if vcpus < cap["below_vcpus"] else cap["otherwise"])


def _formula(cloud: str) -> dict[str, Any]:
    formulas = facts_data()["formulas"]
    if cloud not in formulas:
        raise UnknownNodeType(f"no reservation formula for cloud {cloud!r}; known: {', '.join(sorted(formulas))}")
    return formulas[cloud]


def _shape(cloud: str, node_type: str) -> tuple[int, float]:
    for o in offerings():
        if o.cloud == cloud and o.node_type == node_type:
            return o.vcpus, o.memory_gib
    system = facts_data()["system_node_types"].get(cloud, {})
    if node_type in system:
        return int(system[node_type]["vcpus"]), float(system[node_type]["memory_gib"])
    raise UnknownNodeType(
        f"no vCPU/memory for {cloud} node type {node_type!r}; known: {', '.join(known_node_types(cloud))}"
    )


def known_node_types(cloud: str) -> tuple[str, ...]:
    data = facts_data()
    return tuple(sorted({*data["node_types"].get(cloud, {}), *data["system_node_types"].get(cloud, {})}))


def _modes(row: dict[str, Any] | None) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    if not row:
        return (), (), CAPACITY_MODES, "unknown: no capacity facts for this node type"
    yes = tuple(m for m in CAPACITY_MODES if row.get(m) is True)
    no = tuple(m for m in CAPACITY_MODES if row.get(m) is False)
    unknown = tuple(m for m in CAPACITY_MODES if m not in yes and m not in no)
    source = row.get("source", "")
    return yes, no, unknown, source if isinstance(source, str) else yaml.safe_dump(source, sort_keys=False)


@cache
def node_facts(cloud: str, node_type: str) -> NodeFacts:
    """Facts for one node type (a GPU offering or a system pool type); `UnknownNodeType` names the known ones."""
    data = facts_data()
    if cloud not in data["node_types"]:
        raise UnknownNodeType(f"no cloud facts for cloud {cloud!r}; known: {', '.join(sorted(data['node_types']))}")
    row = data["node_types"][cloud].get(node_type)
    system = data["system_node_types"].get(cloud, {}).get(node_type)
    if row is None and system is None:
        raise UnknownNodeType(
            f"no cloud facts for {cloud} node type {node_type!r}; known: {', '.join(known_node_types(cloud))}"
        )
    vcpus, memory_gib = _shape(cloud, node_type)
    memory_mib = memory_gib * 1024
    f = _formula(cloud)
    source_row = row if row is not None else system
    max_pods: int | None = None
    eni_pods: int | None = None
    if cloud == "aws":
        eni_pods = eni_max_pods(int(source_row["enis"]), int(source_row["ipv4_per_eni"]))
        max_pods = managed_node_group_max_pods(vcpus, eni_pods)
    reserved_cpu = kube_reserved_cpu_m(cloud, vcpus)
    reserved_mem = kube_reserved_memory_mib(cloud, memory_mib, eni_pods)
    eviction = int(f["eviction_hard_memory_mib"])
    os_reserved = os_reserved_memory_mib(cloud, memory_mib)
    formula_alloc = math.floor(memory_mib - reserved_mem - eviction)
    yes, no, unknown, capacity_source = _modes((row or {}).get("capacity_modes"))
    disks = (row or {}).get("boot_disks") or {}
    zones = (row or {}).get("zones")
    return NodeFacts(
        cloud=cloud,
        node_type=node_type,
        vcpus=vcpus,
        memory_gib=memory_gib,
        kube_reserved_cpu_m=reserved_cpu,
        kube_reserved_memory_mib=reserved_mem,
        eviction_memory_mib=eviction,
        os_reserved_memory_mib=os_reserved,
        allocatable_cpu_m=vcpus * 1000 - reserved_cpu,
        allocatable_memory_mib=formula_alloc - os_reserved,
        formula_allocatable_memory_mib=formula_alloc,
        max_pods=max_pods,
        capacity_modes=yes,
        capacity_modes_unavailable=no,
        capacity_modes_unknown=unknown,
        capacity_source=capacity_source,
        boot_disks=tuple(disks.get("types", ())),
        boot_disk_source=str(disks.get("source", "unknown: no boot disk facts for this node type")),
        zones={r: tuple(z) for r, z in zones.items()} if isinstance(zones, dict) else None,
    )


def gpu_zones(cloud: str, region: str, node_type: str) -> tuple[str, ...] | None:
    """Zones of `region` offering `node_type`: () when the source lists none there, None when unknown."""
    facts = node_facts(cloud, node_type)
    if facts.zones is None:
        return None
    return facts.zones.get(region, ())


def daemonset_budget(cloud: str) -> DaemonSetBudget:
    budgets = facts_data()["daemonset_budget"]
    if cloud not in budgets:
        raise UnknownNodeType(f"no DaemonSet budget for cloud {cloud!r}; known: {', '.join(sorted(budgets))}")
    b = budgets[cloud]
    return DaemonSetBudget(int(b["cpu_m"]), int(b["memory_mib"]), bool(b.get("estimate", False)), b["reasoning"])


def control_plane_ports(cloud: str) -> ControlPlanePorts:
    ports = facts_data()["control_plane_ports"]
    if cloud not in ports:
        raise UnknownNodeType(f"no control-plane port facts for cloud {cloud!r}; known: {', '.join(sorted(ports))}")
    p = ports[cloud]
    default = p["open_by_default"]
    return ControlPlanePorts(
        cloud=cloud,
        open_by_default=None if default == "all" else tuple(int(x) for x in default),
        source=p["open_by_default_source"],
        applies_to=p["applies_to"],
        required_by_addons=tuple(
            AddonPort(int(a["port"]), a["addon"], a["component"], a["why"], a["source"])
            for a in p["required_by_addons"]
        ),
    )


def eks_standard_support_versions(on: str) -> tuple[str, ...]:
    """EKS minor versions still in standard support on ISO date `on`, as far as the sourced dates go."""
    ends = facts_data()["kubernetes_versions"]["eks"]["end_of_standard_support"]
    return tuple(v for v, end in sorted(ends.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))) if end >= on)
