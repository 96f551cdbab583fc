"""``utils.py``: what Quart's guides import from ``quart.utils``, for ports.

Rule: re-exports only.
"""

from __future__ import annotations

from ._utils import run_sync as run_sync

__all__ = ["run_sync"]
