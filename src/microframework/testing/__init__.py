"""The in-process test tools: ``MicroframeworkClient``, ``TestApp`` and their builders.

Rule: they drive an app only through its ASGI interface (plus ``config``, ``json``,
``response_class`` and ``test_client``), so they test exactly what a server would run.
"""

from __future__ import annotations

from .app import LifespanError
from .app import LifespanTimeout
from .app import TestApp
from .cli import MicroframeworkCliRunner
from .client import MicroframeworkClient
from .connections import HTTPDisconnectError
from .connections import TestHTTPConnection
from .connections import TestWebsocketConnection
from .connections import WebsocketResponseError
from .utils import make_test_body_with_headers
from .utils import make_test_headers_path_and_query_string
from .utils import make_test_scope
from .utils import no_op_push
from .utils import sentinel

__all__ = [
    "HTTPDisconnectError",
    "LifespanError",
    "LifespanTimeout",
    "MicroframeworkCliRunner",
    "MicroframeworkClient",
    "TestApp",
    "TestHTTPConnection",
    "TestWebsocketConnection",
    "WebsocketResponseError",
    "make_test_body_with_headers",
    "make_test_headers_path_and_query_string",
    "make_test_scope",
    "no_op_push",
    "sentinel",
]
