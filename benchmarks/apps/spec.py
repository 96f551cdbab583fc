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
