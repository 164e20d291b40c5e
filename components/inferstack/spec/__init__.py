"""The deployment spec: models, loader and the rules judged from the spec alone."""

from inferstack.spec.fleet import Fleet, load_fleet, load_platform
from inferstack.spec.loader import SpecError, format_violation, load_spec, parse_spec, parse_spec_text
from inferstack.spec.models import DeploymentSpec
from inferstack.spec.platform import PlatformSpec
from inferstack.spec.values import Violation

__all__ = [
    "DeploymentSpec",
    "Fleet",
    "PlatformSpec",
    "SpecError",
    "Violation",
    "format_violation",
    "load_fleet",
    "load_platform",
    "load_spec",
    "parse_spec",
    "parse_spec_text",
]
