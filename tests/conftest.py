"""Shared paths and helpers for the test suite."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLE_SPECS = sorted(SPECS.glob("*.yaml"))
