"""Human-readable plan report (Rich). Every value that comes from the spec or the planner is escaped
(`_e`) before it reaches Rich, so a name like `[/]` or `[bold]x` prints literally."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferstack import catalog
from inferstack.catalog import routers
from inferstack.plan import Plan
from inferstack.plan.capacity import PlacementPlan


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
    return text


def plan_text(result: Plan) -> str:
    """The report as plain text at a fixed width (for files; no colour, deterministic)."""
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None, force_terminal=False)
    print_plan(result, console)
    return console.export_text()


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
        table.add_row(
            "TP tried", ", ".join(f"{t['tensor_parallel_size']}:{'fits' if t['fits'] else 'no'}" for t in fit["tried"])
        )
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
        place.add_row(
            "replicas / nodes",
            f"{p['replicas']['min']}-{p['replicas']['max']} / {p['nodes']['min']}-{p['nodes']['max']}",
        )
        place.add_row(
            "cost per hour", f"{_money(p['cost_per_hour']['min'])} at min, {_money(p['cost_per_hour']['max'])} at max"
        )
        place.add_row("cost per month (max)", _money(p["monthly_cost_max"]))
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

    cold = data["cold_start"]
    console.print(
        f"cold start: image {cold['image_pull_seconds']} s + weights read {cold['weight_read_seconds']} s + "
        f"engine init {cold['engine_init_seconds']} s = {cold['replica_seconds']} s per replica "
        f"(startup probe budget {cold['startup_probe_seconds']} s); first fetch {cold['weight_fetch_seconds']} s "
        f"into a {data['cache']['size_gib']} GiB {data['cache']['kind']} cache",
        highlight=False,
    )
    if data["findings"]:
        console.print("[bold]Findings[/]")
        for f in data["findings"]:
            mark = "[red]BLOCKING[/]" if f["blocking"] else "[yellow]note[/]"
            console.print(f"  {mark} {_e(f['code'])}: {_e(f['message'])}", highlight=False)
    console.print("[bold]Assumptions[/]")
    for a in data["assumptions"]:
        console.print(f"  - {_e(a)}", highlight=False, soft_wrap=True)
