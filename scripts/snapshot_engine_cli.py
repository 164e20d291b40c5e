"""Snapshot an engine's command-line surface from its own argument parser, as JSON on stdout.

Run it with the engine's own Python (the engine installed in its virtual environment):

    .tools/sglang/bin/python scripts/snapshot_engine_cli.py sglang > components/inferstack/engines/cli/sglang.json

Re-run whenever the pinned engine version changes; tests check generated arguments against the
snapshot when the engine itself is too heavy to install in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version


def sglang_parser() -> argparse.ArgumentParser:
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    return parser


PARSERS = {
    "sglang": (
        sglang_parser,
        "sglang",
        "python3 -m sglang.launch_server",
        "sglang.srt.server_args.ServerArgs.add_cli_args",
    )
}


def surface(parser: argparse.ArgumentParser) -> dict[str, dict]:
    flags: dict[str, dict] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        takes_value = action.nargs != 0
        nargs = action.nargs if action.nargs in ("+", "*", "?") else None
        choices = sorted(str(c) for c in action.choices) if action.choices else None
        for option in action.option_strings:
            if option.startswith("--"):
                flags[option] = {"value": takes_value, "choices": choices, **({"nargs": nargs} if nargs else {})}
    return dict(sorted(flags.items()))


def main(engine: str) -> None:
    make, distribution, command, source = PARSERS[engine]
    json.dump(
        {
            "engine": engine,
            "version": version(distribution),
            "command": command,
            "source": f"generated from {source} by scripts/snapshot_engine_cli.py",
            "positionals": [],
            "flags": surface(make()),
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
