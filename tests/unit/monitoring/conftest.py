"""Plans for the example specs, and promtool (required when CI is set)."""

import os
import shutil

import pytest

from inferstack.plan import plan
from inferstack.spec import load_spec
from tests.conftest import EXAMPLE_SPECS, SPECS, engine_variant


@pytest.fixture(scope="session")
def quickstart():
    return plan(load_spec(SPECS / "quickstart.yaml"))


@pytest.fixture(scope="session")
def example_plans():
    return [plan(load_spec(path)) for path in EXAMPLE_SPECS]


def engine_plan(engine: str):
    """The quickstart deployment served by another engine (the examples are all vLLM)."""
    return plan(engine_variant("quickstart", engine))


@pytest.fixture(scope="session")
def promtool():
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing with CI set; run scripts/install-prometheus.sh")
        pytest.skip("promtool not installed (scripts/install-prometheus.sh); required when CI is set")
    return path
