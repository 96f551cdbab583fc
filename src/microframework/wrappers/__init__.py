"""Request, response and websocket wrappers."""

from __future__ import annotations

from .base import BaseRequestWebsocket
from .request import Body
from .request import Request
from .response import Response
from .websocket import Websocket

__all__ = ["BaseRequestWebsocket", "Body", "Request", "Response", "Websocket"]
