"""The `inferstack` command: plan, render, check and schema.

Exit codes: 0 deployable (check: compliant), 1 not deployable (check: a mandatory violation), 2 the
input is invalid (spec, policy file, option or output path). `plan` and `render` never import a cloud SDK, so they start fast; `check` runs the
Pulumi program under the SDK's mocks. None of them needs a cloud account.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from inferstack import calibrate
from inferstack.compliance.report import FORMATS
from inferstack.plan import Plan
from inferstack.plan.fleet import FleetPlan, plan_fleet
from inferstack.render import RenderError, render_fleet
from inferstack.render import render as write
from inferstack.report import print_fleet, print_plan
from inferstack.spec import SpecError
from inferstack.spec.fleet import is_folder, load_fleet
from inferstack.spec.schema import platform_schema, spec_schema

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Serve an open LLM from one compliance-aware spec: plan, render and check before spending money.",
)
EXIT_NOT_DEPLOYABLE = 1
EXIT_BAD_SPEC = 2

SpecPath = Annotated[
    Path,
    typer.Argument(
        help="Spec file (YAML), or a fleet folder: a platform document (kind: Platform) and the model specs on it.",
        show_default=False,
    ),
]


def _say(console: Console, label: str, text: str) -> None:
    """A red label, then `text` exactly as given: user values never pass through Rich markup."""
    console.print(Text.assemble((label, "bold red"), " ", text), highlight=False, soft_wrap=True)


def _load(path: Path, console: Console) -> Plan | FleetPlan:
    """A spec file's plan, or a fleet's (a folder, or a platform document alone); exit 2 on bad input.
    A spec on a platform is planned bound to the platform document beside it."""
    try:
        fleet = load_fleet(path)
    except SpecError as exc:
        _say(console, "Invalid spec", exc.render())
        raise typer.Exit(EXIT_BAD_SPEC) from None
    try:
        calibration = calibrate.user_calibration()
    except calibrate.CalibrationInputError as exc:
        _say(console, "Invalid calibration", str(exc))
        raise typer.Exit(EXIT_BAD_SPEC) from None
    result = plan_fleet(fleet, calibration)
    return result if is_folder(path) or not fleet.specs else result.models[0]


def _cannot_write(err: Console, path: Path, exc: OSError) -> NoReturn:
    reason = exc.strerror or exc.__class__.__name__
    _say(err, "Cannot write", f"{path}: {reason} ({exc.filename}). Fix: choose a folder you can write to.")
    raise typer.Exit(EXIT_BAD_SPEC) from None


@app.command()
def plan(
    spec: SpecPath,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Will the model fit, with which TP, how many requests will it hold, and what will it cost."""
    err = Console(stderr=True)
    result = _load(spec, err)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif isinstance(result, FleetPlan):
        print_fleet(result, Console())
    else:
        print_plan(result, Console())
    if not result.deployable:
        raise typer.Exit(EXIT_NOT_DEPLOYABLE)


@app.command()
def render(
    spec: SpecPath,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="This spec's output folder (one sub-folder per placement); default: build/<spec name> "
            "(a fleet: build/<platform name>).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the Kubernetes manifests and the plan report for review or GitOps."""

    err = Console(stderr=True)
    result = _load(spec, err)
    if not result.deployable:
        if isinstance(result, FleetPlan):
            print_fleet(result, err)
        else:
            print_plan(result, err)
        raise typer.Exit(EXIT_NOT_DEPLOYABLE)
    if isinstance(result, FleetPlan):
        name = result.fleet.platform.name if result.fleet.platform else spec.name
        steps = len(result.models)
    else:
        name, steps = result.spec.name, len(result.placements)
    out = out if out is not None else Path("build") / name
    try:
        quiet = steps < 2 or not err.is_terminal
        with Progress(console=err, transient=True, disable=quiet) as progress:
            task = progress.add_task("rendering", total=steps)

            def advance(item: str) -> None:
                progress.update(task, advance=1, description=f"rendering {item}")

            files = render_fleet(result, out, advance) if isinstance(result, FleetPlan) else write(result, out, advance)
    except RenderError as exc:
        message = Text.assemble(("Cannot render into", "bold red"), f" {exc.out}: {exc.problem}. Fix: {exc.fix}.")
        err.print(message, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_SPEC) from None
    except OSError as exc:
        _cannot_write(err, out, exc)
    err.print(f"wrote {len(files)} files to {out}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def check(
    spec: SpecPath,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="Organisation policy (YAML, the spec's compliance fields); default: the spec's own."
        ),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text, json, sarif or junit.")] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to a file instead of stdout.")
    ] = None,
) -> None:
    """Run every compliance rule on every resource the Pulumi program would create (no cloud account)."""
    from inferstack.check import NotDeployable, check_fleet
    from inferstack.check import check as run_check

    err = Console(stderr=True)
    if output_format not in FORMATS:
        _say(err, f"--format {output_format[:200]!r}", f"is not a report format; allowed: {', '.join(FORMATS)}")
        raise typer.Exit(EXIT_BAD_SPEC)
    try:
        result = check_fleet(spec, policy) if is_folder(spec) else run_check(spec, policy)
    except SpecError as exc:
        _say(err, "Invalid input", exc.render())
        raise typer.Exit(EXIT_BAD_SPEC) from None
    except NotDeployable as exc:
        err.print(
            Text.assemble(("Not deployable", "bold red"), f", nothing to check: {exc}"), highlight=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_NOT_DEPLOYABLE) from None
    report = FORMATS[output_format](result.findings, result.resources_checked, result.source)
    if output:
        try:
            output.write_text(report)
        except OSError as exc:
            _cannot_write(err, output, exc)
        err.print(f"wrote {output_format} report to {output}", highlight=False, markup=False)
    else:
        typer.echo(report, nl=False)
    if not result.passed:
        raise typer.Exit(EXIT_NOT_DEPLOYABLE)


@app.command()
def schema(
    platform: Annotated[
        bool, typer.Option("--platform", help="Print the platform document's schema (kind: Platform) instead.")
    ] = False,
) -> None:
    """Print the spec's JSON Schema (for editors and CI): it accepts what `plan` accepts, but for the
    catalog and cross-field checks its description names."""
    typer.echo(json.dumps(platform_schema() if platform else spec_schema(), indent=2))


calibrate.register(app)


def main() -> None:
    app()
