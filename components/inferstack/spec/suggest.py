"""'Did you mean' suggestions for misspelled names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The choice nearest to `value` (case-insensitive), or None when nothing is close."""
    by_lower = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(str(value).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None
