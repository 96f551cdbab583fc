"""Type-checked, never run: typed user code that failed or passed wrongly (session 31).

Found by type-checking ~40 Quart- and Flask-style apps with mypy --strict and pyright.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any
from typing import assert_type

from werkzeug.wrappers import Response as WerkzeugResponse

from microframework import abort
from microframework import after_this_request
from microframework import after_this_websocket
from microframework import Microframework
from microframework import Response
from microframework import stream_template
from microframework.views import View
from microframework.wrappers.response import ResponseBody

app = Microframework(__name__)
Write = Callable[[str | bytes], Awaitable[None]]


async def a_streamed_template_wraps_in_a_response() -> Response:
    # porting.md: "so does Response(await stream_template(...))".
    app.response_class(await stream_template("x.html"), status=201)
    return Response(await stream_template("x.html"))


@app.get("/export")
async def a_writer_body() -> Callable[[Write], Awaitable[None]]:
    # streaming.md: "return an async def body(write) function (or pass it to Response)".
    async def body(write: Write) -> None:
        await write("row\n")

    Response(body)
    return body


async def returns_int() -> int:
    return 1


async def handler_returns_int(error: Exception) -> int:
    return 1


def the_plain_forms_are_bounded_as_the_decorators() -> None:
    app.add_url_rule("/a", "a", returns_int)  # type: ignore[arg-type]
    app.add_url_rule("/b", view_func=returns_int)  # type: ignore[arg-type]
    app.add_websocket("/ws", "ws", returns_int)  # type: ignore[arg-type]
    app.register_error_handler(404, handler_returns_int)  # type: ignore[arg-type]


async def make_response_takes_a_view_result() -> None:
    await app.make_response(42)  # type: ignore[arg-type]


class ListView(View):
    async def dispatch_request(self) -> str:  # fewer arguments than View's: fine
        return "list"


def after_this_hooks_keep_their_type() -> None:
    @after_this_request
    async def add_header(response: Response, /) -> Response:
        return response

    assert_type(add_header, Callable[[Response], Coroutine[Any, Any, Response]])

    @after_this_request  # type: ignore[type-var]
    async def forgets_the_response(response: Response) -> None:
        pass

    @after_this_websocket
    def after(response: Response | None, /) -> Response | None:
        return response

    assert_type(after, Callable[[Response | None], Response | None])


def send_email(to: str) -> None:
    return None


def background_tasks_check_their_arguments() -> None:
    tasks = [app.add_background_task(send_email, "ada@example.com")]
    tasks.append(app.add_background_task(send_email, 1))  # type: ignore[arg-type]
    tasks.append(app.add_background_task(send_email))  # type: ignore[call-arg]


def abort_takes_a_werkzeug_response() -> None:
    abort(WerkzeugResponse("go away", 403))


def response_body_is_exported(response: Response) -> bool:
    return isinstance(response.body_kind, ResponseBody)
