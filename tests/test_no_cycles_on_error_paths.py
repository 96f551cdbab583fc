"""No reference cycle per request on error paths (cycles312's findings, session 26).

On Python 3.12+ a finished frame keeps its caller's, so an error's ``__context__`` (the
error a view caught before it called ``abort``) reaches the frames that keep it. An
unhandled error's 500 still leaves one (its context and handler frames hold it), as
in Flask and Quart: see the session's note.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import cycles_made
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope
from werkzeug.exceptions import HTTPException

from microframework import abort
from microframework import g
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import websocket


def _app() -> Microframework:
    app = Microframework(__name__)
    app.config["BODY_TIMEOUT"] = 0.01

    @app.route("/abort")
    async def in_except() -> str:
        try:
            int("x")
        except ValueError:
            abort(400)
        return "never"

    @app.errorhandler(LookupError)
    async def looked_up(error: LookupError) -> tuple[str, int]:
        return "handled", 409

    @app.route("/handled")
    async def handled() -> str:
        try:
            int("x")
        except ValueError as error:
            raise LookupError("no x") from error
        return "never"

    @app.post("/json")
    async def bad_json() -> Any:
        return await request.get_json()

    @app.post("/read")
    async def read() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    @app.route("/group")
    async def group() -> str:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(asyncio.Event().wait())
            await asyncio.Event().wait()
        return "never"

    @app.websocket("/refuse")
    async def refuse() -> None:
        abort(403)

    @app.websocket("/wsjson")
    async def ws_json() -> None:
        await websocket.accept()
        await websocket.receive_json()

    @app.websocket("/wsboom")
    async def ws_boom() -> None:
        await websocket.accept()
        raise ValueError("boom")

    return app


class _WS:
    def __init__(self, *messages: dict[str, Any]) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in ({"type": "websocket.connect"}, *messages):
            self.inbox.put_nowait(message)

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        pass


async def _one(app: Microframework, case: str) -> None:
    async with asyncio.timeout(2):
        if case == "json":
            headers = [(b"content-type", b"application/json")]
            await call(app, http_scope("/json", "POST", headers), Recorder(b"{bad"))
        elif case == "read":  # 408
            headers = [(b"transfer-encoding", b"chunked")]
            rec = Recorder(b"ab", more_last=True)
            assert (
                await call(app, http_scope("/read", "POST", headers), rec)
            ).status == 408
        elif case == "group":  # the client leaves
            rec = Recorder(b"", more_last=True)
            rec.disconnect()
            await call(app, http_scope("/group"), rec)
        elif case.startswith("/"):
            bad = {"type": "websocket.receive", "text": "{bad"}
            ws = _WS(bad) if case == "/wsjson" else _WS()
            await app(websocket_scope(case), ws.receive, ws.send)
        else:
            await call(app, http_scope("/" + case))


@pytest.mark.parametrize(
    "case",
    ["abort", "handled", "json", "read", "group", "/refuse", "/wsjson", "/wsboom"],
)
async def test_an_error_path_leaves_no_reference_cycle(case: str) -> None:
    app = _app()
    logging.disable(
        logging.CRITICAL
    )  # pytest's log capture would keep the errors alive
    try:
        await _one(app, case)
        with cycles_made() as left:
            for _ in range(3):
                await _one(app, case)
    finally:
        logging.disable(logging.NOTSET)
    assert left == []


async def test_an_error_answering_itself_keeps_no_frames() -> None:
    # What the cycles above need on 3.12+, seen on any Python: an error that is its
    # own response, and the error a view caught before it called abort(), no longer
    # hold the view's frames once answered.
    app = Microframework(__name__)
    kept: list[BaseException] = []

    @app.errorhandler(400)
    async def bad(error: HTTPException) -> HTTPException:
        kept.append(error)
        return error

    @app.route("/")
    async def view() -> str:
        try:
            int("x")
        except ValueError:
            abort(400)
        return "never"

    assert (await call(app, http_scope("/"))).status == 400
    (error,) = kept
    assert isinstance(error.__context__, ValueError)
    assert error.__traceback__ is None and error.__context__.__traceback__ is None


async def test_a_handled_error_keeps_its_traceback_for_later() -> None:
    # Flask's deferred reporting: the handler keeps the error and after_request logs
    # it with exc_info; its traceback (and its cause's) still names the view's line.
    app = Microframework(__name__)
    logged: list[str] = []

    @app.errorhandler(LookupError)
    async def looked_up(error: LookupError) -> tuple[str, int]:
        g.error = error
        return "handled", 409

    @app.after_request
    async def report(response: Response) -> Response:
        logged.append("".join(traceback.format_exception(g.error)))
        return response

    @app.route("/")
    async def view() -> str:
        try:
            int("x")
        except ValueError as error:
            raise LookupError("no x") from error
        return "never"

    assert (await call(app, http_scope("/"))).status == 409
    (text,) = logged
    assert text.count('int("x")') == 1 and text.count("raise LookupError") == 1


async def test_a_handled_websocket_error_keeps_its_traceback_for_later() -> None:
    app = Microframework(__name__)
    kept: list[str] = []

    @app.errorhandler(LookupError)
    async def looked_up(error: LookupError) -> None:
        g.error = error

    @app.teardown_websocket
    async def report(error: BaseException | None) -> None:
        kept.append("".join(traceback.format_exception(g.error)))

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raise LookupError("no x")

    await app(websocket_scope("/ws"), _WS().receive, _WS().send)
    (text,) = kept
    assert "raise LookupError" in text


def _handled_app() -> Microframework:
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 4

    @app.errorhandler(404)
    async def not_found(error: HTTPException) -> tuple[str, int]:
        return "no such page", 404

    @app.errorhandler(413)
    async def too_large(error: HTTPException) -> Response:
        return Response("too large", 413)

    @app.errorhandler(ValueError)
    def failed(error: ValueError) -> tuple[str, int]:
        if request.path == "/kept":
            g.error = error  # Flask's deferred reporting
        return "failed", 500

    def boom() -> str:
        raise ValueError("boom")

    app.add_url_rule("/sync", "sync", boom)  # raised in a worker thread
    app.add_url_rule("/kept", "kept", boom)

    @app.route("/thread")
    async def thread() -> str:
        return await asyncio.to_thread(boom)

    @app.post("/upload")
    async def upload() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    @app.websocket("/wsfail")
    async def ws_fail() -> None:
        await websocket.accept()
        raise ValueError("boom")

    return app


async def _handled(app: Microframework, case: str) -> None:
    async with asyncio.timeout(2):
        if case == "/wsfail":
            await app(websocket_scope(case), _WS().receive, _WS().send)
        elif case == "/upload":
            headers = [(b"content-length", b"10")]
            scope = http_scope(case, "POST", headers)
            assert (await call(app, scope, Recorder(b"0123456789"))).status == 413
        else:
            await call(app, http_scope(case))


@pytest.mark.parametrize(
    "case", ["/missing", "/sync", "/thread", "/kept", "/upload", "/wsfail"]
)
async def test_a_handled_error_keeps_nothing_alive_once_the_request_ended(
    case: str,
) -> None:
    # A handled error keeps its traceback while the request runs (after_request and
    # teardown may report it); its frames hold the request, a first awaited future, g
    # or the routing error: left, each was a cycle per request. (Routing itself leaves
    # werkzeug's matcher closure in a cycle, as in Flask: not ours, not counted.)
    app = _handled_app()
    await _handled(app, case)
    with cycles_made() as left:
        for _ in range(3):
            await _handled(app, case)
    ours = {"Request", "Websocket", "AppContext", "frame", "traceback"}
    assert ours.isdisjoint(left), sorted(set(left))
