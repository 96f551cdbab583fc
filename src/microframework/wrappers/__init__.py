"""Request, response and websocket wrappers."""

from __future__ import annotations

from .request import Request
from .response import Response
from .websocket import Websocket

__all__ = ["Request", "Response", "Websocket"]
