"""The template case's ceiling: what a framework that cost nothing would score.

``run.py``'s bare app answers the ``template`` case with an f-string. Here two more bare
ASGI apps answer it by rendering the case's template with jinja2, and nothing else:

``jinja async``
    microframework's own environment (async, as Quart's ``render_template`` is, with
    its faster per-render context), ``await template.render_async(...)``.
``jinja sync``
    a plain ``jinja2.Environment(autoescape=True)``, ``template.render(...)``.
``jinja sync, fast context``
    the same with microframework's template class (its cheaper per-render context).
    Synchronous rendering is Flask's; a Quart app's templates may await (async
    filters, globals and loops), which needs the async environment.

Each is timed as ``run.py`` times a framework (same harness, same scope) and shown as
a ratio to the f-string app. No framework can score above the jinja rows on the
``template`` case, because it has to render the template too.

Usage::

    .venv/bin/python benchmarks/template_floor.py
    .venv/bin/python benchmarks/template_floor.py --quick     # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import jinja2
from apps import bare
from apps.spec import TEMPLATE_NAME
from apps.spec import TEMPLATE_PATH
from apps.spec import TEMPLATE_SOURCE
from apps.spec import TEMPLATE_TEXT
from harness import make_scope_template
from harness import timed_round

from microframework import Microframework

_HEADERS = [(b"content-type", b"text/html; charset=utf-8")]


def _renderer(render: Callable[[], Any]) -> Callable[..., Any]:
    """A bare ASGI app whose whole work is *render* (awaited if it returns a coroutine)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        text = render()
        if asyncio.iscoroutine(text):
            text = await text
        body = text.encode()
        length = (b"content-length", str(len(body)).encode())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_HEADERS, length],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def make_apps() -> dict[str, Callable[..., Any]]:
    async_template = Microframework(__name__).jinja_env.from_string(TEMPLATE_SOURCE)
    sync_template = jinja2.Environment(autoescape=True).from_string(TEMPLATE_SOURCE)
    fast = jinja2.Environment(autoescape=True)
    fast.template_class = type(async_template)
    fast_template = fast.from_string(TEMPLATE_SOURCE)
    return {
        "bare (f-string)": bare.create_app(),
        "jinja async": _renderer(
            lambda: async_template.render_async(name=TEMPLATE_NAME)
        ),
        "jinja sync": _renderer(lambda: sync_template.render(name=TEMPLATE_NAME)),
        "jinja sync fast": _renderer(lambda: fast_template.render(name=TEMPLATE_NAME)),
    }


async def _body(app: Callable[..., Any], scope: dict[str, Any]) -> bytes:
    sent: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    await app(dict(scope), receive, send)
    return b"".join(sent)


async def measure(requests: int, rounds: int) -> dict[str, float]:
    """Best requests/s of each app over *rounds* rounds of *requests* requests."""
    scope = make_scope_template("GET", TEMPLATE_PATH)
    apps = make_apps()
    for name, app in apps.items():
        body = await _body(app, scope)
        if body.decode() != TEMPLATE_TEXT:
            raise SystemExit(f"{name} answered {body!r}, expected {TEMPLATE_TEXT!r}")
    best = dict.fromkeys(apps, 0.0)
    for _ in range(rounds):  # interleaved, so a slow moment hits every app alike
        for name, app in apps.items():
            elapsed, _tally = await timed_round(
                app, scope, b"", requests, disable_gc=False
            )
            best[name] = max(best[name], requests / elapsed)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round of 50 requests")
    options = parser.parse_args(argv)
    if options.quick:
        options.requests, options.rounds = 50, 1
    rates = asyncio.run(measure(options.requests, options.rounds))
    base = rates["bare (f-string)"]
    print(f"{'app':<16} {'req/s':>10} {'us/req':>7} {'vs bare':>8}")
    for name, rate in rates.items():
        print(f"{name:<16} {rate:>10,.0f} {1e6 / rate:>7.2f} {rate / base:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
