"""Type-checked, never run: typed user code that failed or passed wrongly (session 32).

``mypy`` checks this file with the project's configuration (``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypedDict

from microframework import Blueprint
from microframework import Microframework
from microframework import Response
from microframework.sessions import SecureCookieSessionInterface
from microframework.sessions import SessionMixin
from microframework.sse import event_stream


class Tick(TypedDict):
    n: int


async def ticks() -> AsyncIterator[Tick]:
    yield {"n": 1}


def an_event_stream_of_typed_dicts() -> Response:
    # A source yielding a TypedDict was refused: it is no dict[str, Any] (typing 9,
    # session 31); any mapping is sent as JSON.
    return event_stream(ticks())


class SavesItsOwnWay(SecureCookieSessionInterface):
    # Quart's way: an async override awaiting the base's save (an awaitable).
    async def save_session(
        self, app: Microframework, session: SessionMixin, response: Response | None
    ) -> None:
        await super().save_session(app, session, response)


def registered_with_flasks_keywords(app: Microframework, bp: Blueprint) -> None:
    app.before_request(f=lambda: None)
    app.teardown_appcontext(f=lambda error: None)
    bp.register_error_handler(code_or_exception=404, f=lambda error: ("gone", 404))
    app.add_template_filter(f=str.upper, name="up")
    bp.app_errorhandler(code=409)
