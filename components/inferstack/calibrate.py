"""`inferstack calibrate LOG... --spec SPEC [--write FILE]`: a real engine startup log against the plan.

Reads vLLM and SGLang startup logs (plan/calibration.py names the lines), plans the spec the engine ran
with, and prints every memory term as predicted and as logged, with the error. `--write FILE` appends one
calibration row per log to FILE (YAML, created when missing): the measured terms, keyed by engine release,
GPU, checkpoint, weight format, TP and batch settings, with the log's name and SHA-256 as the source.

`plan` reads that file when the environment names it: INFERSTACK_CALIBRATION=FILE (see
`user_calibration`); a row that matches a planned replica replaces the modelled weights and overhead,
and the plan's assumptions say so. Exit codes: 0 compared, 2 bad input (spec, log, calibration file).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
import yaml

from inferstack import catalog
from inferstack.plan import plan as make_plan
from inferstack.plan.calibration import (
    CALIBRATED_TERMS,
    Calibration,
    CalibrationRow,
    Logged,
    LogProblem,
    Term,
    parse_log,
)
from inferstack.plan.fit import Fit
from inferstack.plan.memory import GIB
from inferstack.spec import SpecError, load_spec
from inferstack.spec.architecture import resolve_architecture
from inferstack.spec.inputs import InputProblem, parse_yaml, read_text

#: Environment variable naming the calibration file `plan` uses.
CALIBRATION_ENV = "INFERSTACK_CALIBRATION"
#: Startup logs of a large TP deployment run to a few MB; anything far larger is not a startup log.
MAX_LOG_BYTES = 64 * 1024 * 1024
EXIT_BAD_INPUT = 2


def predicted_terms(fit: Fit) -> dict[str, float]:
    """The plan's figure for every term a log can carry."""
    o = fit.overhead
    return {
        "weights_gib": fit.weights_per_gpu_bytes / GIB,
        "activation_gib": o.activation_gib,
        "non_torch_gib": o.non_torch_gib,
        "cuda_graph_gib": o.cuda_graph_gib,
        "kv_pool_gib": fit.kv_pool_bytes / GIB,
        "kv_tokens": float(fit.kv_tokens),
        "concurrency": fit.concurrency,
    }


LABELS = {
    "weights_gib": ("weights", "GiB/GPU"),
    "activation_gib": ("activation peak", "GiB/GPU"),
    "non_torch_gib": ("non-torch", "GiB/GPU"),
    "cuda_graph_gib": ("CUDA graphs", "GiB/GPU"),
    "kv_pool_gib": ("KV pool", "GiB/GPU"),
    "kv_tokens": ("KV tokens", "tokens"),
    "concurrency": ("max concurrency", "x"),
}


def compare(fit: Fit, logged: Logged) -> list[Term]:
    """Predicted vs logged for every term, in a fixed order."""
    predicted = predicted_terms(fit)
    return [Term(LABELS[t][0], LABELS[t][1], predicted[t], logged.get(t)) for t in LABELS]


def calibration_row(fit: Fit, architecture: str, quantization: str, logged: Logged, source: str) -> CalibrationRow:
    """A row from a log: measured terms, plus the total non-KV overhead the engine took when the log
    gives both the weights and the KV pool (fraction x total - weights - pool)."""
    terms = {t: v for t, v in logged.terms.items() if t in CALIBRATED_TERMS}
    weights, pool = logged.get("weights_gib"), logged.get("kv_pool_gib")
    if weights is not None and pool is not None and fit.settings.name == "vllm":
        budget = fit.settings.memory_fraction * catalog.gpus()[fit.gpu].memory_gib
        terms["overhead_gib"] = budget - weights - pool
    s = fit.settings
    return CalibrationRow(
        s.name, s.version, fit.gpu, architecture, quantization, fit.tp,
        s.max_num_batched_tokens, s.max_num_seqs, terms, source,
    )  # fmt: skip


class CalibrationInputError(Exception):
    """Bad input for calibrate or the calibration file: one message naming the file, problem and fix."""


def load_calibration(path: str | Path) -> Calibration:
    """The rows of a calibration file (YAML list); a missing file is an error, an empty one has no rows."""
    try:
        data = parse_yaml(read_text(path))
        return Calibration.from_data(data, str(path))
    except InputProblem as exc:
        raise CalibrationInputError(f"calibration file {path}: {exc}. Fix: {exc.hint or 'check the file'}") from None
    except LogProblem as exc:
        raise CalibrationInputError(f"{exc}. Fix: write it with `inferstack calibrate --write`") from None


def user_calibration(environ: dict[str, str] | None = None) -> Calibration:
    """The calibration file named by INFERSTACK_CALIBRATION, or no rows when the variable is unset."""
    path = (os.environ if environ is None else environ).get(CALIBRATION_ENV)
    return load_calibration(path) if path else Calibration()


def _format(terms: list[Term]) -> list[str]:
    lines = [f"  {'term':<26} {'predicted':>12} {'logged':>12} {'error':>8}"]
    for term in terms:
        digits = 0 if term.unit == "tokens" else 2
        logged = "-" if term.logged is None else f"{term.logged:,.{digits}f}"
        error = "-" if term.error is None else f"{term.error:+.1%}"
        label = f"{term.name} ({term.unit})"
        lines.append(f"  {label:<26} {term.predicted:>12,.{digits}f} {logged:>12} {error:>8}")
    return lines


def run(logs: list[Path], spec_path: Path, write: Path | None, echo: Callable[[str], None]) -> None:
    """Compare every log with the spec's plan and print the table; append rows to `write` when given.
    Raises CalibrationInputError on bad input."""
    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        raise CalibrationInputError(f"Invalid spec {exc.render()}") from None
    result = make_plan(spec)
    fit = result.fit
    architecture = resolve_architecture(spec).name
    rows = []
    for log in logs:
        try:
            text = read_text(log, MAX_LOG_BYTES)
            logged = parse_log(text)
        except InputProblem as exc:
            hint = exc.hint or "name the startup log file"
            raise CalibrationInputError(f"log {log}: {exc.problem}. Fix: {hint}") from None
        except LogProblem as exc:
            raise CalibrationInputError(f"log {log}: {exc}. Fix: pass the engine's startup log (INFO level)") from None
        if logged.engine != fit.settings.name:
            raise CalibrationInputError(
                f"log {log} is a {logged.engine} log but the spec runs {fit.settings.name}. "
                "Fix: pass the spec the engine ran with"
            )
        s = fit.settings
        echo(
            f"{log.name}: {spec.name} on {fit.tp}x {fit.gpu}, {s.name} {s.version}, "
            f"{spec.model.max_context:,}-token context, fraction {s.memory_fraction:g}"
        )
        for line in _format(compare(fit, logged)):
            echo(line)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        rows.append(calibration_row(fit, architecture, result.quantization, logged, f"{log.name} sha256:{digest}"))
    if write is not None:
        existing = load_calibration(write).rows if write.exists() else ()
        document = [row.to_dict() for row in (*existing, *rows)]
        try:
            write.write_text(yaml.safe_dump(document, sort_keys=False))
        except OSError as exc:
            raise CalibrationInputError(
                f"cannot write {write}: {exc.strerror or exc.__class__.__name__}. Fix: choose a folder you can write to"
            ) from None
        echo(f"appended {len(rows)} calibration row(s) to {write}; plan reads it with {CALIBRATION_ENV}={write}")


def calibrate(
    logs: Annotated[list[Path], typer.Argument(help="Engine startup logs (vLLM or SGLang).", show_default=False)],
    spec: Annotated[Path, typer.Option("--spec", help="The spec the engine ran with.", show_default=False)],
    write: Annotated[
        Path | None, typer.Option("--write", help="Append a calibration row per log to this YAML file.")
    ] = None,
) -> None:
    """Compare real engine startup logs with the plan, term by term; optionally record the measurements."""
    try:
        run(logs, spec, write, typer.echo)
    except CalibrationInputError as exc:
        typer.echo(f"Cannot calibrate: {exc}.", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def register(app: typer.Typer) -> None:
    """Add the `calibrate` command to the CLI app."""
    app.command("calibrate")(calibrate)
