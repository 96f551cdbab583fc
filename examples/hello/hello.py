"""The hello demo: a tiny microframework app to serve with hypercorn and to test.

Run it from the repository root with
``.venv/bin/hypercorn --bind 127.0.0.1:8000 examples/hello/hello:app``. Rule: it uses
only the public API, the way a user's first app would.
"""

from __future__ import annotations

from typing import Any

from microframework import abort
from microframework import escape
from microframework import Microframework
from microframework import request

app = Microframework(__name__)


@app.get("/")
async def index() -> str:
    """A string, sent as text/html: the smallest possible view."""
    return "Hello, World!"


@app.get("/json")
async def json_view() -> dict[str, Any]:
    """A dict becomes a JSON response."""
    return {"message": "Hello, World!"}


@app.get("/hello/<name>")
async def hello(name: str) -> str:
    """A URL argument, passed to the view by name, escaped: the answer is HTML."""
    return f"Hello, {escape(name)}!"


@app.post("/echo")
async def echo() -> dict[str, Any]:
    """Send back the JSON body; anything that is not a JSON object is a 400."""
    data = await request.get_json()
    if not isinstance(data, dict):
        abort(400, description="send a JSON object")
    return {"echo": data}
