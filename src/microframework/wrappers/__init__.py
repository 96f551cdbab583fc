"""Request, response and websocket wrappers."""

from __future__ import annotations

from .request import Request
from .response import Response

__all__ = ["Request", "Response"]
