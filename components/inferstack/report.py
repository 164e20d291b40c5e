"""Human-readable plan report (Rich). Every value that comes from the spec or the planner is escaped
(`_e`) before it reaches Rich, so a name like `[/]` or `[bold]x` prints literally."""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferstack import catalog
from inferstack.catalog import dns, routers
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan
from inferstack.plan.fleet import FleetPlan
from inferstack.plan.traffic import GlobalRoute, global_routes
from inferstack.spec.models import Endpoint


def _e(value: object) -> str:
    """A value as literal text for Rich markup."""
    return escape(str(value))


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def traffic(result: Plan, placement: PlacementPlan) -> str:
    """How requests reach a placement's replicas: the engine's router and its policy, with the wake-up
    time when the placement scales from zero, or the plain Service and why."""
    spec = result.spec
    front = routers.router_for(spec.engine.name, spec.routing.enabled)
    if front is None:
        why = "routing.enabled is false" if not spec.routing.enabled else f"{spec.engine.name} ships no router"
        return f"Service only ({why}): kube-proxy spreads connections across replicas, blind to their prefix caches"
    text = (
        f"{front.package} {front.version}, policy {front.policy(spec.routing.policy)}, "
        f"{spec.routing.replicas} pod(s) behind the model's Service"
    )
    if placement.replicas_min == 0:
        wake = routers.wake_up_seconds(result.cold_start, placement)
        timeout = front.request_timeout_seconds(wake, spec.slo.e2e_p95_ms)
        text += (
            f"; scales from zero: a replica serves {wake} s after the first request (cold-start budget), "
            f"router request timeout {timeout} s"
        )
        hold = front.hold(wake)
        if hold is not None:
            text += (
                f"; requests are held up to {math.ceil(hold.total_wait_ms / 1000)} s while it wakes "
                f"({hold.max_retries} tries, at most {hold.max_backoff_ms / 1000:g} s apart)"
            )
    return text


def global_route_table(route: GlobalRoute) -> Table:
    """One global endpoint: its name and zone, the DNS policy it becomes, and each placement's capacity and
    weight or failover role; a closing row when it spans more than one residency group (INF014 fails it)."""
    facts = dns.dns_for(route.cloud)
    how = f"{facts.service}, {facts.policies[route.policy]} routing, health: {facts.health}" if facts else route.cloud
    table = Table(
        title=_e(f"Global endpoint {route.name}: {route.hostname} ({route.policy}; {how})"),
        title_justify="left",
    )
    for column in (
        "placement",
        "region",
        "residency",
        "capacity at max",
        "weight" if route.policy == "weighted" else "role",
    ):
        table.add_column(column)
    for target in route.targets:
        share = f"{target.weight} ({route.share(target):.0%})" if route.policy == "weighted" else target.role or "-"
        table.add_row(
            _e(target.placement),
            _e(target.region),
            _e(target.residency or "unknown"),
            f"{target.capacity_tokens_per_s:,.0f} output tokens/s",
            share,
        )
    if route.crosses_residency:
        table.caption = _e(
            f"spans residency groups {', '.join(route.residency_groups)}: compliance rule INF014 fails it in "
            "`inferstack check` and the policy pack"
        )
    return table


def endpoint_summary(endpoint: Endpoint) -> str:
    """The endpoint in one line: exposure, address and certificate, clients and their limits, and where
    the keys come from."""
    scheme = "http" if endpoint.tls.source == "none" else "https"
    where = f"{scheme}://{endpoint.hostname}" if endpoint.hostname else f"{scheme}, no hostname"
    cert = f" (cert-manager issuer {endpoint.tls.issuer})" if endpoint.tls.issuer else ""
    if endpoint.tls.zone_id:
        cert = f" (ACM certificate served by the load balancer, validated in Route 53 zone {endpoint.tls.zone_id})"
    clients = ", ".join(f"{c.name} {c.requests_per_minute}/min" for c in endpoint.clients)
    return (
        f"{endpoint.exposure} gateway, {where}{cert}, {endpoint.replicas} pod(s); clients {clients} per pod; "
        "keys from the secret config inferstack:apiKeys at `pulumi up` (render writes no Secret)"
    )


def plan_text(result: Plan) -> str:
    """The report as plain text at a fixed width (for files; no colour, deterministic)."""
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None, force_terminal=False)
    print_plan(result, console)
    return console.export_text()


def fleet_text(result: FleetPlan) -> str:
    """The fleet report as plain text at a fixed width (for files; no colour, deterministic)."""
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None, force_terminal=False)
    print_fleet(result, console)
    return console.export_text()


def print_fleet(result: FleetPlan, console: Console) -> None:
    """Per platform placement its pools (GPUs and nodes at min and max, what runs there), then cost per
    model, team and placement, then the fleet's findings and every model's blocking findings."""
    data = result.to_dict()
    verdict = "[bold green]deployable[/]" if result.deployable else "[bold red]NOT deployable[/]"
    name = data["platform"] or "folder without platform"
    console.print(
        f"[bold]{_e(name)}[/]: {verdict} ({len(data['models'])} model(s) on {len(data['placements'])} platform "
        "placement(s))"
    )
    for p in data["placements"]:
        console.print(
            _e(f"Placement {p['name']}: {p['cloud']} {p['region']}, cluster {p['cluster_name']}"), highlight=False
        )
        for pool in p["pools"]:
            table = Table(title=_e(f"Pool {p['name']}/{pool['name']}"), show_header=False, title_justify="left")
            gpu = pool["gpu"] + (f", MIG {pool['mig_profile']}" if pool["mig_profile"] else "")
            node = (
                f"{pool['node_type']} ({pool['gpus_per_node']} GPU, bought as {pool['capacity']['mode']})"
                if pool["node_type"]
                else f"existing nodes, {pool['gpus_per_node']} GPU each"
            )
            table.add_row("GPU", _e(gpu))
            table.add_row("node", _e(node))
            table.add_row(
                "slots per node", f"{pool['slots_per_node']} ({'MIG slices' if pool['mig_profile'] else 'GPUs'})"
            )
            table.add_row("nodes (pool limits)", f"{pool['nodes']['min']}-{pool['nodes']['max']}")
            table.add_row("nodes needed", f"{pool['nodes_needed']['min']} at min, {pool['nodes_needed']['max']} at max")
            table.add_row("GPUs held", f"{pool['gpus']['min']} at min, {pool['gpus']['max']} at max")
            models = [
                f"{m['name']}: {m['replicas']['min']}-{m['replicas']['max']} replicas x {m['slots_per_replica']} slot(s)"
                for m in pool["models"]
            ]
            table.add_row("models", _e("\n".join(models) or "none"))
            console.print(table)
    costs = Table(title="Cost per month at max replicas", title_justify="left")
    for column in ("model", "team", "placements (pool)", "cost", "verdict"):
        costs.add_column(column)
    for m in data["models"]:
        where = ", ".join(f"{place} ({pool})" if pool else place for place, pool in m["placements"].items())
        costs.add_row(
            _e(m["name"]),
            _e(m["team"] or "-"),
            _e(where),
            _money(m["monthly_cost_max"]),
            "[green]deployable[/]" if m["deployable"] else "[red]NOT deployable[/]",
        )
    console.print(costs)
    if data["teams"]:
        teams = Table(title="Teams", title_justify="left")
        for column in ("team", "GPU quota per cluster", "cost", "budget"):
            teams.add_column(column)
        for t in data["teams"]:
            teams.add_row(_e(t["name"]), str(t["gpus"]), _money(t["monthly_cost_max"]), _money(t["monthly_budget"]))
        console.print(teams)
    for p in data["placements"]:
        console.print(f"placement {_e(p['name'])}: {_money(p['monthly_cost_max'])} per month", highlight=False)
    findings = [("fleet", f) for f in data["findings"]] + [
        (m["name"], f) for m in data["models"] for f in m["plan"]["findings"] if f["blocking"]
    ]
    if findings:
        console.print("[bold]Findings[/]")
        for where, f in findings:
            mark = "[red]BLOCKING[/]" if f["blocking"] else "[yellow]note[/]"
            console.print(f"  {mark} {_e(where)} {_e(f['code'])}: {_e(f['message'])}", highlight=False, soft_wrap=True)
    console.print("each model's full plan: inferstack plan DIR --json, or inferstack plan FILE", highlight=False)


def _topology(fit: dict) -> str:
    gpus, nodes = fit["gpus_per_replica"], fit["nodes_per_replica"]
    return (
        f"{gpus} GPUs per replica: {nodes} nodes x {gpus // nodes} GPUs, tensor parallel "
        f"{fit['tensor_parallel_size']} x pipeline parallel {fit['pipeline_parallel_size']} (LeaderWorkerSet group)"
    )


def _tried(t: dict) -> str:
    """`8`, or `8xPP2/2 nodes` for a multi-node layout."""
    if "nodes" not in t:
        return str(t["tensor_parallel_size"])
    return f"{t['tensor_parallel_size']}xPP{t['pipeline_parallel_size']}/{t['nodes']} nodes"


def _interconnect(link: dict) -> str:
    if link["fabric"] is None:
        return "none known for this node type"
    return f"{link['fabric']}, {link['interfaces']} interfaces per node (source in plan.json)"


def _rollout(rollout: dict) -> str:
    shape = f"maxSurge {rollout['max_surge']}, maxUnavailable {rollout['max_unavailable']}"
    outage = rollout["outage_seconds"]
    return (
        f"{shape}: " + (f"outage of about {outage} s per rollout, " if outage is not None else "") + rollout["reason"]
    )


def print_plan(result: Plan, console: Console) -> None:
    data = result.to_dict()
    fit, model = data["fit"], data["model"]
    verdict = "[bold green]deployable[/]" if result.deployable else "[bold red]NOT deployable[/]"
    console.print(f"[bold]{_e(data['name'])}[/]: {verdict}")
    console.print(
        _e(
            f"model {model['source']}@{(model['revision'] or '-')[:12]} ({model['architecture']}), "
            f"{data['engine']['name']} {data['engine']['version']}, weights {model['quantization']}, "
            f"KV {model['kv_cache_dtype']}, max context {model['max_context']:,}"
        ),
        highlight=False,
    )

    table = Table(title="Fit per replica", show_header=False, title_justify="left")
    table.add_row("verdict", "[green]fits[/]" if fit["fits"] else "[red]does not fit[/]")
    table.add_row(
        "GPUs", _e(f"{fit['tensor_parallel_size']}x {fit['gpu']} (tensor parallel {fit['tensor_parallel_size']})")
    )
    if fit["nodes_per_replica"] > 1:
        table.add_row("topology", _e(_topology(fit)))
    table.add_row("weights", f"{fit['weights_gib']} GiB total, {fit['weights_per_gpu_gib']} GiB per GPU")
    table.add_row(
        "engine overhead", f"{fit['activation_gib']} GiB activation + {fit['non_torch_gib']} GiB non-torch per GPU"
    )
    table.add_row("KV pool", f"{fit['kv_pool_per_gpu_gib']} GiB per GPU, {fit['kv_cache_tokens']:,} tokens")
    table.add_row(
        "KV per token", f"{fit['kv_bytes_per_token']:,} B (model), {fit['kv_bytes_per_token_per_gpu']:,} B per GPU"
    )
    table.add_row("concurrency", f"{fit['max_concurrency']} sequences at {model['max_context']:,} tokens")
    table.add_row("why", _e(fit["reason"]))
    if len(fit["tried"]) > 1:
        table.add_row("TP tried", ", ".join(f"{_tried(t)}:{'fits' if t['fits'] else 'no'}" for t in fit["tried"]))
    console.print(table)

    for i, p in enumerate(data["placements"]):
        builds = catalog.cloud_profile(p["cloud"]).creates_clusters and p["capacity"] is not None
        node = p["node_type"] or ("none available" if builds else "existing nodes")
        place = Table(title=_e(f"Placement {p['name']}"), show_header=False, title_justify="left")
        place.add_row("where", _e(f"{p['cloud']} {p['region']}"))
        place.add_row(
            "node",
            _e(
                f"{node} ({p['gpus_per_node']} GPU, {p['replicas_per_node']} replica(s) per node)"
                if p["gpus_per_node"]
                else node
            ),
        )
        if (capacity := p["capacity"]) is not None:
            mode = capacity["mode"] + (f" ({capacity['reservation']})" if capacity["reservation"] else "")
            place.add_row("bought as", _e(mode if capacity["verified"] else f"{mode}, unverified: no source says so"))
        if p["gpu_zones"]:
            place.add_row("GPU zones", _e(", ".join(p["gpu_zones"])))
        if p["system_node_type"]:
            place.add_row("system nodes", _e(p["system_node_type"]))
        if (pod := p["serving_pod"]) is not None:
            place.add_row("serving pod", f"{pod['cpu']} CPU, {pod['memory']} memory (requests = limits)")
        place.add_row("traffic", _e(traffic(result, result.placements[i])))
        if result.spec.endpoint is not None:
            place.add_row("endpoint", _e(endpoint_summary(result.spec.endpoint)))
        place.add_row(
            "replicas / nodes",
            f"{p['replicas']['min']}-{p['replicas']['max']} / {p['nodes']['min']}-{p['nodes']['max']}",
        )
        place.add_row(
            "cost per hour", f"{_money(p['cost_per_hour']['min'])} at min, {_money(p['cost_per_hour']['max'])} at max"
        )
        place.add_row("cost per month (max)", _money(p["monthly_cost_max"]))
        if (link := p["interconnect"]) is not None:
            place.add_row("interconnect", _e(_interconnect(link)))
        if (rollout := p["rollout"]) is not None:
            place.add_row("rollout", _e(_rollout(rollout)))
        place.add_row("cost per 1M output tokens", _money(p["cost_per_million_output_tokens"]))
        if p["problem"]:
            place.add_row("problem", f"[red]{_e(p['problem'])}[/]")
        console.print(place)
    console.print(
        f"throughput: {data['throughput']['output_tokens_per_second']:,} output tokens/s per replica", highlight=False
    )
    if (workload := data["workload"]) is not None:
        console.print(
            f"peak workload: {workload['required_output_tokens_per_second']:,} output tokens/s needs about "
            f"{workload['replicas_needed']} replica(s); the placements allow {workload['replicas_max']}",
            highlight=False,
        )

    for route in global_routes(result):
        console.print(global_route_table(route))
    cold = data["cold_start"]
    console.print(
        f"cold start: image {cold['image_pull_seconds']} s + weights read {cold['weight_read_seconds']} s + "
        f"engine init {cold['engine_init_seconds']} s = {cold['replica_seconds']} s per replica "
        f"(startup probe budget {cold['startup_probe_seconds']} s); first fetch {cold['weight_fetch_seconds']} s "
        f"into a {data['cache']['size_gib']} GiB {data['cache']['kind']} cache",
        highlight=False,
    )
    _print_cache_tier(console, data["cache_tier"])
    if data["findings"]:
        console.print("[bold]Findings[/]")
        for f in data["findings"]:
            mark = "[red]BLOCKING[/]" if f["blocking"] else "[yellow]note[/]"
            console.print(f"  {mark} {_e(f['code'])}: {_e(f['message'])}", highlight=False)
    console.print("[bold]Assumptions[/]")
    for a in data["assumptions"]:
        console.print(f"  - {_e(a)}", highlight=False, soft_wrap=True)


def _print_cache_tier(console: Console, tier: dict) -> None:
    """The cache tier the plan chose, each tier it weighed, and the arithmetic of every stage."""
    objective = tier["objective_seconds"]
    wanted = f" (slo.cold_start_s {objective:g} s)" if objective is not None else ""
    console.print(f"cache tier: {tier['tier']}{wanted}", highlight=False)
    for stage in tier["stages"]:
        console.print(f"  {_e(stage)}", highlight=False)
    for option in tier["options"]:
        seconds = option["replica_seconds"]
        console.print(
            f"  {option['tier']}: "
            + (f"{seconds} s per replica" if seconds is not None else _e(option["unavailable"])),
            highlight=False,
        )
    console.print(
        f"outage with the minimum replicas: rollout {tier['rollout_outage_seconds']} s, node drain "
        f"{tier['drain_outage_seconds']} s",
        highlight=False,
    )
