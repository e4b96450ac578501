"""Shared by the params builders: params that must not trigger reruns.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def untracked(**values: Any) -> SimpleNamespace:
    """Params that must not trigger reruns (Snakemake ignores values it cannot represent)."""
    return SimpleNamespace(**values)
