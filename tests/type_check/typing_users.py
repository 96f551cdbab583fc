"""Type-checked, never run: typed app code that failed ``mypy --strict`` or lost a type.

Found by type-checking Quart- and Flask-style apps with mypy and pyright (session 27).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from collections.abc import Generator
from types import TracebackType
from typing import Any
from typing import assert_type

from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.middleware.dispatcher import AsyncioDispatcherMiddleware
from hypercorn.typing import HTTPScope

from microframework import get_flashed_messages
from microframework import Microframework
from microframework import request
from microframework import stream_with_context
from microframework.middleware import ProxyFixMiddleware as OurProxyFix
from microframework.views import MethodView
from microframework.wrappers import Request

app = Microframework(__name__)


async def served_by_hypercorns_typed_api() -> None:
    # hypercorn's scope and events are TypedDicts, which no MutableMapping takes.
    await serve(app, Config())
    AsyncioDispatcherMiddleware({"/api": app, "": Microframework("other")})
    app.asgi_app = ProxyFixMiddleware(app.asgi_app, mode="legacy")  # Quart's docs
    # (Flask's and Quart's are methods, which mypy won't let a plain line replace.)


def wrapped_in_our_middleware(other: Microframework) -> None:
    other.asgi_app = OurProxyFix(other.asgi_app, x_for=1)  # as deploying.md does


def a_servers_scope_is_fixed(scope: HTTPScope) -> str:
    return str(OurProxyFix(app).fix_scope(scope)["path"])  # it never writes into it


def the_request_line_has_its_types() -> None:
    assert_type(request.method, str)
    assert_type(request.scheme, str)
    assert_type(request.query_string, bytes)
    assert_type(request.server, tuple[str, int | None] | None)


async def an_upload_may_have_no_filename() -> None:
    upload = (await request.files)["f"]
    assert_type(upload.filename, str | None)


@stream_with_context
async def numbered() -> AsyncGenerator[str, None]:
    yield "1"


def streams_keep_their_types() -> None:
    assert_type(numbered(), AsyncGenerator[str, None])
    assert_type(stream_with_context(iter(["a"])), Generator[str, None, None])


def flashed_messages_are_strings() -> None:
    assert_type(get_flashed_messages(), list[str])
    assert_type(get_flashed_messages(with_categories=True), list[tuple[str, str]])


class QuartStyleRequest(Request):
    def on_json_loading_failed(self, error: Exception) -> Any:  # Quart's signature
        return super().on_json_loading_failed(error)


class FlaskStyleApp(Microframework):
    def log_exception(  # Flask's and Quart's signature
        self,
        exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        super().log_exception(exc_info)


class Items(MethodView):
    async def get(self) -> str:
        return "items"

    async def dispatch_request(self, **kwargs: Any) -> str | dict[str, Any]:
        result = await super().dispatch_request(**kwargs)
        assert isinstance(result, (str, dict))
        return result


async def a_forgotten_await_is_seen() -> None:
    if request.json:  # type: ignore[truthy-bool]
        pass
    request.data  # type: ignore[unused-coroutine]  # noqa: B018
