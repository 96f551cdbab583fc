"""microframework: an async web framework on raw ASGI with the Flask API you know."""

from __future__ import annotations

from markupsafe import escape
from markupsafe import Markup

from . import json as json
from .app import Microframework
from .config import Config
from .ctx import after_this_request
from .ctx import after_this_websocket
from .ctx import copy_current_app_context
from .ctx import copy_current_request_context
from .ctx import copy_current_websocket_context
from .ctx import has_app_context
from .ctx import has_request_context
from .ctx import has_websocket_context
from .globals import current_app
from .globals import g
from .globals import request
from .globals import websocket
from .helpers import abort
from .helpers import make_response
from .helpers import redirect
from .helpers import send_early_hints
from .helpers import stream_with_context
from .helpers import url_for
from .json import jsonify
from .typing import ResponseReturnValue
from .wrappers import Request
from .wrappers import Response
from .wrappers import Websocket

__version__ = "0.1.0.dev0"

__all__ = [
    "Config",
    "Markup",
    "Microframework",
    "Request",
    "Response",
    "ResponseReturnValue",
    "Websocket",
    "abort",
    "after_this_request",
    "after_this_websocket",
    "copy_current_app_context",
    "copy_current_request_context",
    "copy_current_websocket_context",
    "current_app",
    "escape",
    "g",
    "has_app_context",
    "has_request_context",
    "has_websocket_context",
    "json",
    "jsonify",
    "make_response",
    "redirect",
    "request",
    "send_early_hints",
    "stream_with_context",
    "url_for",
    "websocket",
]
