"""Engines' command-line surfaces (flag names, whether they take a value, allowed choices) as data,
and a checker for generated arguments.

Snapshots live in `engines/cli/<engine>.json`: SGLang's is generated from its own parser
(`scripts/snapshot_engine_cli.py`); TGI's launcher (Rust) and TensorRT-LLM's `trtllm-serve` (CUDA-only
wheels) have no parser that runs here, so theirs are transcribed from their documentation and source,
named in each file. vLLM's arguments are checked with vLLM's real parser instead (tests/unit/engines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from inferstack.spec.suggest import closest


@dataclass(frozen=True)
class CliSurface:
    engine: str
    version: str
    source: str
    positionals: tuple[str, ...]
    flags: dict[str, dict]


@cache
def load_surface(engine: str) -> CliSurface:
    data = json.loads(resources.files("inferstack.engines").joinpath("cli", f"{engine}.json").read_text())
    return CliSurface(data["engine"], data["version"], data["source"], tuple(data["positionals"]), data["flags"])


def argument_problems(surface: CliSurface, args: list[str]) -> list[str]:
    """Each argument the engine would reject: unknown flags, missing values, values outside choices."""
    problems = []
    positionals = list(surface.positionals)
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("--"):
            if positionals:
                positionals.pop(0)
                continue
            problems.append(f"unexpected value {token!r}")
            continue
        name, has_inline, inline = token.partition("=")
        flag = surface.flags.get(name)
        if flag is None:
            suggestion = closest(name, surface.flags)
            problems.append(f"unknown flag {name}" + (f"; did you mean {suggestion}?" if suggestion else ""))
            while i < len(args) and not args[i].startswith("--"):  # its values, whatever they are
                i += 1
            continue
        if not flag["value"]:
            if has_inline:
                problems.append(f"{name} takes no value")
            continue
        values = [inline] if has_inline else []
        if not has_inline:
            while i < len(args) and not args[i].startswith("--"):
                values.append(args[i])
                i += 1
                if flag.get("nargs") not in ("+", "*"):
                    break
        if not values and flag.get("nargs") not in ("*", "?"):
            problems.append(f"{name} needs a value")
        for value in values:
            if flag["choices"] is not None and value not in flag["choices"]:
                problems.append(f"{name} {value!r} is not one of {', '.join(flag['choices'])}")
    return problems
