"""The behaviour every benchmark app implements, and what the harness checks.

The rule: an app module takes every path, text and payload from here, so the
frameworks cannot drift apart and the harness's expected bodies stay true.
"""

from __future__ import annotations

import json
from typing import Any

HELLO_TEXT = "Hello, World!"
JSON_PAYLOAD: dict[str, Any] = {"message": HELLO_TEXT}

#: How many ``/route{i}/<int:a>/<b>`` rules the routed case registers; it hits the last.
ROUTE_COUNT = 50
#: Static rules registered before the parametrised ones, so the router has a mix.
STATIC_PATHS = ("/about", "/contact", "/pricing", "/docs/index", "/health")
STATIC_TEXT = "static"
ROUTED_A = 1234
ROUTED_B = "benchmark"
ROUTED_PATH = f"/route{ROUTE_COUNT - 1}/{ROUTED_A}/{ROUTED_B}"

#: About 100 bytes of JSON, echoed back by ``POST /echo``.
ECHO_PAYLOAD: dict[str, Any] = {
    "id": 12345,
    "name": "benchmark",
    "tags": ["alpha", "beta", "gamma"],
    "active": True,
    "score": 98.5,
    "note": "round trip",
}
ECHO_BODY = json.dumps(ECHO_PAYLOAD, separators=(",", ":")).encode()


def route_rule(index: int) -> str:
    """Werkzeug-syntax rule for parametrised route ``index``."""
    return f"/route{index}/<int:a>/<b>"


def route_text(index: int, a: int, b: str) -> str:
    """The body a parametrised route returns; it uses both parameters."""
    return f"route{index}: a={a} b={b}"


# -- return shapes: one path per shape a view can return -------------------------------
#: ``(body, status)``: a status other than 200, so the status really goes through.
STATUS_PATH = "/status"
STATUS_TEXT = "Created"
STATUS_CODE = 201
#: ``(body, status, headers)``: the content type set by the view, plus one custom header.
STATUS_HEADERS_PATH = "/status-headers"
#: ``(body, headers)``.
HEADERS_PATH = "/headers"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
BENCH_HEADER = ("x-bench", "shape")
#: ``jsonify(...)`` (a dict goes to ``/json``).
JSONIFY_PATH = "/jsonify"
#: A ``Response(...)`` built in the view.
RESPONSE_PATH = "/response"
#: ``redirect(REDIRECT_TARGET)``: 302 with a Location header; the page is the framework's.
REDIRECT_PATH = "/redirect"
REDIRECT_TARGET = "/target"
#: ``abort(404)`` answered by the framework's default error handler.
ABORT_PATH = "/abort"

#: A streamed body: an async generator yielding STREAM_CHUNKS chunks of 10 bytes.
STREAM_PATH = "/stream"
STREAM_CHUNKS = 100


def stream_chunk(index: int) -> str:
    """Chunk ``index`` of the streamed body."""
    return f"chunk {index:03d}\n"


STREAM_TEXT = "".join(stream_chunk(i) for i in range(STREAM_CHUNKS))

#: A view behind one before-request hook (it sets the user the view greets) and one
#: after-request hook (it adds AFTER_HEADER); the hooks apply to this route only.
HOOKS_PATH = "/hooked"
HOOKS_USER = "hooked"
HOOKS_TEXT = f"Hello, {HOOKS_USER}!"
AFTER_HEADER = ("x-after", "1")

#: ``render_template_string`` of a one-line template; the value needs escaping.
TEMPLATE_PATH = "/template"
TEMPLATE_SOURCE = "<p>Hello, {{ name }}!</p>"
TEMPLATE_NAME = "World & <friends>"
TEMPLATE_TEXT = "<p>Hello, World &amp; &lt;friends&gt;!</p>"

#: The websocket echo route (the same path as ``benchmarks/ws.py`` uses).
WS_PATH = "/ws"
