"""microframework: an async web framework on raw ASGI with the Flask API you know."""

from __future__ import annotations

from markupsafe import escape
from markupsafe import Markup

from . import json as json
from .app import Microframework
from .blueprints import Blueprint
from .config import Config
from .ctx import after_this_request
from .ctx import after_this_websocket
from .ctx import copy_current_app_context
from .ctx import copy_current_request_context
from .ctx import copy_current_websocket_context
from .ctx import has_app_context
from .ctx import has_request_context
from .ctx import has_websocket_context
from .files import send_file
from .files import send_from_directory
from .flashing import flash
from .flashing import get_flashed_messages
from .globals import current_app
from .globals import g
from .globals import request
from .globals import session
from .globals import websocket
from .helpers import abort
from .helpers import get_template_attribute
from .helpers import make_push_promise
from .helpers import make_response
from .helpers import redirect
from .helpers import send_early_hints
from .helpers import stream_with_context
from .helpers import url_for
from .json import jsonify
from .signals import appcontext_popped
from .signals import appcontext_pushed
from .signals import appcontext_tearing_down
from .signals import before_render_template
from .signals import got_background_exception
from .signals import got_request_exception
from .signals import got_serving_exception
from .signals import got_websocket_exception
from .signals import message_flashed
from .signals import request_finished
from .signals import request_started
from .signals import request_tearing_down
from .signals import signals_available
from .signals import template_rendered
from .signals import websocket_finished
from .signals import websocket_received
from .signals import websocket_sent
from .signals import websocket_started
from .signals import websocket_tearing_down
from .templating import render_template
from .templating import render_template_string
from .templating import stream_template
from .templating import stream_template_string
from .typing import ResponseReturnValue
from .wrappers import Request
from .wrappers import Response
from .wrappers import Websocket

__version__ = "0.1.0.dev0"

__all__ = [
    "Blueprint",
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
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "copy_current_app_context",
    "copy_current_request_context",
    "copy_current_websocket_context",
    "current_app",
    "escape",
    "flash",
    "g",
    "get_flashed_messages",
    "get_template_attribute",
    "got_background_exception",
    "got_request_exception",
    "got_serving_exception",
    "got_websocket_exception",
    "has_app_context",
    "has_request_context",
    "has_websocket_context",
    "json",
    "jsonify",
    "make_push_promise",
    "make_response",
    "message_flashed",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "send_early_hints",
    "send_file",
    "send_from_directory",
    "session",
    "signals_available",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "template_rendered",
    "url_for",
    "websocket",
    "websocket_finished",
    "websocket_received",
    "websocket_sent",
    "websocket_started",
    "websocket_tearing_down",
]
