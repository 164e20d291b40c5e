"""A fleet: a folder holding one platform document and the model specs that run on it (or a single
spec file, its own implicit platform), loaded and bound in one pass.

Binding turns each model placement that names the platform, `{platform: P, placement: X, pool: Y,
replicas: ...}`, into a full `Placement` before the model is validated: the platform placement's
cloud, region, zones, network and cluster, with the pool's node type as `cluster.instance_type` (so
the single-spec planner sizes the model on the pool's node) and the pool's capacity preference. The
model's compliance is the platform baseline narrowed by the model's own section; a widening is an
error naming both documents. Every problem of every file is raised together in one `SpecError`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inferstack import catalog
from inferstack.spec.loader import SpecError, parse_platform, parse_spec, read_spec_data
from inferstack.spec.models import Compliance, DeploymentSpec, Replicas, _parse_gpu
from inferstack.spec.platform import PLATFORM_KIND, GpuPool, PlatformPlacement, PlatformSpec, offering_for
from inferstack.spec.rules import region_allowed
from inferstack.spec.suggest import closest
from inferstack.spec.values import FieldProblem, Violation, shown

#: Keys a model placement bound to a platform may hold; the platform sets everything else.
BOUND_KEYS = ("platform", "placement", "pool", "replicas")
#: Compliance lists where empty allows everything and a model may keep only a subset.
ALLOW_LISTS = ("allowed_clouds", "allowed_gpus", "allowed_engines", "allowed_quantizations")
#: Engines whose adapters size memory from the plan's fit alone, so they can serve from a MIG slice
#: (the SGLang and TensorRT-LLM adapters read the whole GPU's memory from the catalog).
MIG_ENGINES = ("vllm", "tgi")
#: Compliance switches the baseline may turn on and a model may not turn off.
REQUIRED_FLAGS = ("private_networking", "encryption", "pin_images", "pin_revisions")


@dataclass(frozen=True)
class Fleet:
    """A platform (None for a folder of standalone specs) and its bound model specs, in file order."""

    platform: PlatformSpec | None
    specs: tuple[DeploymentSpec, ...]
    #: spec name -> the file it came from.
    sources: dict[str, str]
    #: (spec name, placement name) -> the platform pool that placement runs on.
    pools: dict[tuple[str, str], str] = field(default_factory=dict)
    #: The platform document's file (None without a platform).
    platform_source: str | None = None

    def pool_of(self, spec: str, placement: str) -> str | None:
        """The platform pool a model placement runs on; None for a standalone placement."""
        return self.pools.get((spec, placement))

    def spec(self, name: str) -> DeploymentSpec:
        """The bound spec called `name`; ValueError naming the specs there are."""
        for candidate in self.specs:
            if candidate.name == name:
                return candidate
        raise ValueError(f"no spec {name!r} in the fleet; specs: {', '.join(s.name for s in self.specs)}")


def is_platform_document(data: object) -> bool:
    """True for parsed YAML that is a platform document (`kind: Platform` at the top level)."""
    return isinstance(data, dict) and data.get("kind") == PLATFORM_KIND


def load_platform(path: str | Path) -> PlatformSpec:
    """Read and validate a platform document; raises SpecError."""
    return parse_platform(read_spec_data(path), str(path))


def is_folder(path: str | Path) -> bool:
    """True for a folder; False for anything else, including a path the system cannot even look up
    (too long, a loop), which the input boundary then reports."""
    return os.path.isdir(path)


def fleet_files(path: Path) -> list[Path]:
    """The YAML documents of a fleet folder, sorted by name (`*.yaml`)."""
    return sorted(p for p in path.glob("*.yaml"))


def load_fleet(path: str | Path) -> Fleet:
    """A folder (one platform document and model specs, `*.yaml` sorted) or a single spec file, loaded
    and bound; raises SpecError listing every problem of every file."""
    path = Path(path)
    if not is_folder(path):
        return _load_file(path)
    files = fleet_files(path)
    if not files:
        read_spec_data(path)  # raises the input boundary's own "is a folder, not a file"
    problems: list[Violation] = []
    documents: list[tuple[Path, object]] = []
    for file in files:
        try:
            documents.append((file, read_spec_data(file)))
        except SpecError as exc:
            problems += _in(exc)
    platforms = [(file, data) for file, data in documents if is_platform_document(data)]
    platform, platform_file = None, None
    if len(platforms) > 1:
        problems.append(
            Violation(
                f"{platforms[1][0]}: kind",
                PLATFORM_KIND,
                f"a second platform document (the first is {platforms[0][0]})",
                hint="keep one platform per folder; put the other platform's models in their own folder",
            )
        )
    if platforms:
        platform_file = platforms[0][0]
        try:
            platform = parse_platform(platforms[0][1], str(platform_file))
        except SpecError as exc:
            problems += _in(exc)
    specs: list[DeploymentSpec] = []
    sources: dict[str, str] = {}
    pools: dict[tuple[str, str], str] = {}
    for file, data in documents:
        if is_platform_document(data):
            continue
        try:
            spec, bound = _bind_and_parse(file, data, platform, platform_file, platforms != [])
        except SpecError as exc:
            problems += _in(exc)
            continue
        if spec.name in sources:
            problems.append(
                Violation(
                    f"{file}: name",
                    spec.name,
                    f"the spec name is already used by {sources[spec.name]}; names must be unique in a fleet",
                    hint="rename one of them",
                )
            )
            continue
        specs.append(spec)
        sources[spec.name] = str(file)
        pools.update({(spec.name, placement): pool for placement, pool in bound.items()})
    if problems:
        raise SpecError(str(path), problems)
    return Fleet(platform, tuple(specs), sources, pools, None if platform_file is None else str(platform_file))


def _load_file(path: Path) -> Fleet:
    """One file: a platform document alone, or a model spec; a spec that names a platform is bound to
    the platform document in its own folder."""
    data = read_spec_data(path)
    if is_platform_document(data):
        return Fleet(parse_platform(data, str(path)), (), {}, {}, str(path))
    platform, platform_file = None, None
    if _names_platform(data):
        found = [file for file in fleet_files(path.parent) if file != path and _is_platform_file(file)]
        if found:
            platform_file = found[0]
            platform = load_platform(platform_file)
    spec, pools = _bind_and_parse(path, data, platform, platform_file, False)
    return Fleet(
        platform,
        (spec,),
        {spec.name: str(path)},
        {(spec.name, p): pool for p, pool in pools.items()},
        None if platform_file is None else str(platform_file),
    )


def _is_platform_file(path: Path) -> bool:
    try:
        return is_platform_document(read_spec_data(path))
    except SpecError:
        return False


def _names_platform(data: object) -> bool:
    placements = data.get("placements") if isinstance(data, dict) else None
    return isinstance(placements, list) and any(isinstance(p, dict) and "platform" in p for p in placements)


def _in(exc: SpecError) -> list[Violation]:
    """A file's violations with the file named in each path (a fleet error spans files)."""
    return [dataclasses.replace(v, path=f"{exc.source}: {v.path}") for v in exc.violations]


def _bind_and_parse(
    file: Path, data: object, platform: PlatformSpec | None, platform_file: Path | None, folder_has_platform: bool
) -> tuple[DeploymentSpec, dict[str, str]]:
    """Bind a model document's platform placements and compliance, then validate it; returns the spec
    and, per bound placement, its pool. Raises SpecError (the binding's problems first, then the
    spec's own)."""
    source = str(file)
    problems: list[Violation] = []
    bound_pools: dict[str, str] = {}
    unbound = False
    if isinstance(data, dict):
        placements = data.get("placements")
        if _names_platform(data) and isinstance(placements, list):
            if platform is None and folder_has_platform:
                # the platform document's own problems say why nothing binds; judge the rest of the spec
                data = {**data, "placements": [p for p in placements if not (isinstance(p, dict) and "platform" in p)]}
                unbound = True
            elif platform is None:
                raise SpecError(
                    source,
                    [
                        Violation(
                            "placements",
                            None,
                            f"names a platform but no platform document is in its folder ({file.parent})",
                            hint="put the platform document (kind: Platform) beside the spec, or give the placement "
                            "its cloud, region and cluster",
                        )
                    ],
                )
            else:
                data = dict(data)
                data["placements"], bound_pools = _bind_placements(placements, data, platform, problems)
                unbound = len(data["placements"]) < len(placements)
                data["compliance"] = _inherit(data.get("compliance"), platform, source, str(platform_file), problems)
                problems += _team(data.get("team"), platform)
        elif data.get("team") is not None:
            problems.append(
                Violation(
                    "team",
                    data.get("team"),
                    "a team is only for models on a platform",
                    hint="remove it, or place the model on a platform placement",
                )
            )
    try:
        spec = parse_spec(data, source, file.parent)
    except SpecError as exc:
        found = exc.violations
        if unbound:  # the placements left out shift the indices, and may leave none: not the user's to read
            found = [v for v in found if not (v.path == "placements" or v.path.startswith("placements["))]
        raise SpecError(source, problems + found) from None
    if problems or unbound:
        raise SpecError(source, problems)
    return spec, bound_pools


def _gpu_sku(data: dict) -> str | None:
    resources = data.get("resources")
    try:
        gpu = _parse_gpu(resources.get("gpu")) if isinstance(resources, dict) else None
    except FieldProblem:
        return None
    sku = gpu.get("sku") if isinstance(gpu, dict) else None
    return catalog.resolve_gpu(sku) if isinstance(sku, str) else None


def _bind_placements(
    placements: list, data: dict, platform: PlatformSpec, problems: list[Violation]
) -> tuple[list, dict[str, str]]:
    sku = _gpu_sku(data)
    out: list = []
    pools: dict[str, str] = {}
    devices: dict[str, str | None] = {}  # placement path -> MIG profile of its pool (None: whole GPUs)
    for i, item in enumerate(placements):
        if not (isinstance(item, dict) and "platform" in item):
            devices[f"placements[{i}]"] = None
            out.append(item)
            continue
        at = f"placements[{i}]"
        before = len(problems)
        extra = [key for key in item if key not in BOUND_KEYS]
        for key in extra:
            problems.append(
                Violation(
                    f"{at}.{key}" if isinstance(key, str) else at,
                    None,
                    f"{shown(key, 80)} is set by the platform, not by a model placement on it",
                    ", ".join(BOUND_KEYS),
                    "remove it: the platform document holds the cloud, region, cluster and pools",
                    closest(key, list(BOUND_KEYS)) if isinstance(key, str) else None,
                )
            )
        if item["platform"] != platform.name:
            problems.append(
                Violation(
                    f"{at}.platform",
                    item["platform"],
                    f"not the platform of this folder ({platform.name!r})",
                    platform.name,
                    "name the folder's platform, or plan the folder of the platform it names",
                )
            )
        where = _platform_placement(item.get("placement"), platform, at, problems)
        pool = None if where is None else _pool(item.get("pool"), where, sku, at, problems)
        if len(problems) > before or where is None or pool is None:
            continue
        if where.name in pools:
            problems.append(
                Violation(
                    f"{at}.placement",
                    where.name,
                    "the model is already on this platform placement (one pool per placement)",
                    hint="merge the two into one placement with the replicas of both",
                )
            )
            continue
        devices[at] = pool.mig
        out.append(_expanded(item, platform, where, pool))
        pools[where.name] = pool.name
        if pool.mig is not None:
            problems += _one_slice(data, pool, at)
    if len(set(devices.values())) > 1:
        shown_devices = ", ".join(f"{at}: {f'MIG {m}' if m else 'whole GPUs'}" for at, m in devices.items())
        problems.append(
            Violation(
                "placements",
                None,
                f"a model is planned for one device, but its placements are on different ones ({shown_devices})",
                hint="put the model on pools with the same MIG profile (or all whole GPUs), or split it into two specs",
            )
        )
    return out, pools


def _platform_placement(
    name: object, platform: PlatformSpec, at: str, problems: list[Violation]
) -> PlatformPlacement | None:
    known = [p.name for p in platform.placements]
    if name is None:
        problems.append(Violation(f"{at}.placement", None, "required field is missing", ", ".join(known)))
        return None
    for candidate in platform.placements:
        if candidate.name == name:
            return candidate
    problems.append(
        Violation(
            f"{at}.placement",
            name,
            f"platform {platform.name!r} has no such placement",
            ", ".join(known),
            suggestion=closest(name, known) if isinstance(name, str) else None,
        )
    )
    return None


def _pool(
    name: object, where: PlatformPlacement, sku: str | None, at: str, problems: list[Violation]
) -> GpuPool | None:
    listing = ", ".join(f"{p.name} ({p.gpu}{f' MIG {p.mig}' if p.mig else ''})" for p in where.gpu_pools)
    if name is not None:
        for pool in where.gpu_pools:
            if pool.name == name:
                if sku is not None and pool.gpu != sku:
                    problems.append(
                        Violation(
                            f"{at}.pool",
                            name,
                            f"the pool's GPU is {pool.gpu} but resources.gpu is {sku}",
                            listing,
                            f"set resources.gpu to {pool.gpu}, or name a pool with {sku} GPUs",
                        )
                    )
                    return None
                return pool
        names = [p.name for p in where.gpu_pools]
        problems.append(
            Violation(
                f"{at}.pool",
                name,
                f"placement {where.name!r} has no such pool",
                listing,
                suggestion=closest(name, names) if isinstance(name, str) else None,
            )
        )
        return None
    if sku is None:
        return None  # resources.gpu is invalid: the spec's own validation reports it
    matching = [p for p in where.gpu_pools if p.gpu == sku]
    if len(matching) == 1:
        return matching[0]
    problem = (
        f"placement {where.name!r} has {len(matching)} pools with {sku} GPUs"
        if matching
        else f"placement {where.name!r} has no pool with {sku} GPUs"
    )
    problems.append(
        Violation(
            f"{at}.pool",
            None,
            problem,
            listing,
            "name the pool in placements[].pool" if matching else "change resources.gpu to a pool's GPU",
        )
    )
    return None


def _one_slice(data: dict, pool: GpuPool, at: str) -> list[Violation]:
    """A replica on a MIG pool is one slice: `resources.gpu.count` 1 (set when omitted, so the planner
    never splits a model across slices), anything else refused."""
    resources = data.get("resources")
    try:
        gpu = _parse_gpu(resources.get("gpu")) if isinstance(resources, dict) else None
    except FieldProblem:
        return []
    if not isinstance(gpu, dict) or not isinstance(resources, dict):
        return []
    out = []
    engine = data.get("engine")
    name = engine.get("name") if isinstance(engine, dict) else None
    if isinstance(name, str) and name not in MIG_ENGINES:
        out.append(
            Violation(
                "engine.name",
                name,
                f"cannot serve from a MIG slice (pool {pool.name!r}): its adapter sizes memory from whole GPUs",
                ", ".join(MIG_ENGINES),
                f"serve it with {' or '.join(MIG_ENGINES)}, or place it on a pool of whole {pool.gpu} GPUs",
            )
        )
    count = gpu.get("count")
    if count is None:
        data["resources"] = {**resources, "gpu": {**gpu, "count": 1}}
    elif count != 1:
        out.append(
            Violation(
                "resources.gpu.count",
                count,
                f"a replica on pool {pool.name!r} runs in one MIG {pool.mig} slice, which cannot be split across GPUs",
                "1",
                f"remove the count, or place the model on a pool of whole {pool.gpu} GPUs ({at}.pool)",
            )
        )
    return out


def _expanded(item: dict, platform: PlatformSpec, where: PlatformPlacement, pool: GpuPool) -> dict[str, Any]:
    """The full placement a platform reference stands for."""
    cluster = where.cluster.model_dump(exclude_none=True)
    builds = catalog.cloud_profile(where.cloud).creates_clusters and where.cluster.kind == "new"
    if where.cluster.name is None and where.cluster.context is None:
        cluster["name"] = where.cluster_name(platform.name)
    if builds:
        offering = offering_for(where, pool)
        if offering is not None:
            cluster["instance_type"] = offering.node_type
    else:
        cluster["gpu_node_labels"] = {**where.cluster.gpu_node_labels, **pool.node_labels}
    placement: dict[str, Any] = {
        "name": where.name,
        "platform": platform.name,
        "cloud": where.cloud,
        "region": where.region,
        "zones": list(where.zones),
        "cluster": cluster,
        "capacity": list(where.pool_capacity(pool)),
        "replicas": item.get("replicas", Replicas().model_dump()),
    }
    if builds:
        placement["network_cidr"] = str(where.network(platform.name))
    if where.price_per_gpu_hour is not None:
        placement["price_per_gpu_hour"] = where.price_per_gpu_hour
    return placement


def _team(team: object, platform: PlatformSpec) -> list[Violation]:
    names = [t.name for t in platform.teams]
    if team is None or team in names:
        return []
    return [
        Violation(
            "team",
            team,
            f"not a team of platform {platform.name!r}",
            ", ".join(names) or "none: the platform lists no teams",
            "name a team of the platform document, or add the team there",
            closest(team, names) if isinstance(team, str) else None,
        )
    ]


def _inherit(
    raw: object, platform: PlatformSpec, source: str, platform_source: str, problems: list[Violation]
) -> object:
    """The model's compliance: the baseline narrowed by what the model wrote. A widening is reported
    (naming both documents) and the baseline's value kept, so the spec's own rules still judge it."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return raw  # the spec's validation reports a compliance that is not a mapping
    try:
        own = Compliance.model_validate(raw)
    except ValidationError:
        return raw  # field errors are the spec's to report
    base = platform.compliance
    merged = base.model_dump()
    written = own.model_fields_set

    def widens(name: str, value: object, hint: str) -> None:
        base_value = getattr(base, name)
        problems.append(
            Violation(
                f"compliance.{name}",
                value,
                f"widens the platform baseline ({platform_source}: compliance.{name} = {shown(base_value)})",
                hint=hint,
            )
        )

    for name in ALLOW_LISTS:
        if name not in written or not getattr(own, name):
            continue
        base_values, values = getattr(base, name), getattr(own, name)
        if base_values and not set(values) <= set(base_values):
            widens(name, values, "list only values the baseline allows, or leave it out to inherit them")
        else:
            merged[name] = list(values)
    if "residency" in written and own.residency is not None:
        if base.residency is not None and own.residency != base.residency:
            widens("residency", own.residency, f"leave it out to inherit {base.residency!r}")
        else:
            merged["residency"] = own.residency
    if "allowed_regions" in written and own.allowed_regions:
        locked = base.residency is not None or bool(base.allowed_regions)
        outside = [
            r for r in own.allowed_regions if locked and not region_allowed(r, base.residency, base.allowed_regions)
        ]
        if outside:
            widens(
                "allowed_regions", own.allowed_regions, f"remove {', '.join(outside)}: the baseline does not allow them"
            )
        else:
            merged["allowed_regions"] = list(own.allowed_regions)
    for name in REQUIRED_FLAGS:
        if name not in written:
            continue
        if getattr(base, name) and not getattr(own, name):
            widens(name, False, "leave it out: the platform requires it")
        else:
            merged[name] = getattr(base, name) or getattr(own, name)
    if "monthly_budget" in written and own.monthly_budget is not None:
        if base.monthly_budget is not None and own.monthly_budget > base.monthly_budget:
            widens(
                "monthly_budget", own.monthly_budget, f"lower it to at most {base.monthly_budget:g}, or leave it out"
            )
        else:
            merged["monthly_budget"] = own.monthly_budget
    return merged
