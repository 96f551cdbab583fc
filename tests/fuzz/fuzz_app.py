"""The app the fuzzer drives: a realistic app that touches most of the framework.

Rule: every view reads only what the client sent through the public API and answers
the way a careful app would. The only 5xx answers are deliberate: those views set
``g.deliberate`` (an ``after_request`` turns it into an ``x-deliberate`` header) or
raise :class:`Deliberate`, which the fuzzer's log check lets through. Anything else
that reaches the log at ERROR, or any other 5xx, is the framework's fault.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from collections.abc import Iterator
from datetime import datetime
from datetime import UTC
from pathlib import Path
from typing import Any

from werkzeug.exceptions import default_exceptions
from werkzeug.exceptions import HTTPException

from microframework import abort
from microframework import Blueprint
from microframework import flash
from microframework import g
from microframework import get_flashed_messages
from microframework import has_request_context
from microframework import jsonify
from microframework import Microframework
from microframework import redirect
from microframework import render_template_string
from microframework import request
from microframework import Response
from microframework import send_early_hints
from microframework import send_file
from microframework import send_from_directory
from microframework import session
from microframework import stream_with_context
from microframework import url_for
from microframework import websocket
from microframework.sse import event_stream
from microframework.sse import last_event_id
from microframework.sse import ServerSentEvent
from microframework.views import MethodView

SECRET_KEY = "fuzz-secret"
#: Small limits, so that generated bodies reach them.
MAX_CONTENT_LENGTH = 16384
MAX_FORM_MEMORY_SIZE = 2048
MAX_FORM_PARTS = 16
WEBSOCKET_MAX_MESSAGE_SIZE = 512
#: Small, so that spooling to disk and websocket backpressure happen.
BODY_SPOOL_SIZE = 256
WEBSOCKET_QUEUE_SIZE = 2
STATIC_FILES = {
    "hello.txt": b"hello, static world\n" * 8,
    "data.json": b'{"a": [1, 2, 3], "b": "\xc3\xa9"}',
    "sub/page.html": b"<!doctype html><p>page</p>",
    "archive.tar.gz": bytes(range(256)),
}
CONDITIONAL_BODY = bytes(range(97, 123)) * 10
CONDITIONAL_ETAG = "v1"
CONDITIONAL_DATE = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class Deliberate(Exception):
    """Raised on purpose by the views that test error handling."""


def make_app(folder: Path) -> Microframework:
    """The fuzz app, serving its static and download files from *folder*.

    Files already in *folder* are kept, so that apps sharing it send the same ETags.
    """
    for name, data in STATIC_FILES.items():
        for target in (folder / "static" / name, folder / "files" / Path(name).name):
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    app = Microframework(
        "fuzz_app",
        static_folder=str(folder / "static"),
        root_path=str(folder),
    )
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_MEMORY_SIZE,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        WEBSOCKET_MAX_MESSAGE_SIZE=WEBSOCKET_MAX_MESSAGE_SIZE,
        BODY_SPOOL_SIZE=BODY_SPOOL_SIZE,
        WEBSOCKET_QUEUE_SIZE=WEBSOCKET_QUEUE_SIZE,
        # Production behaviour: unhandled errors are logged and become a 500.
        PROPAGATE_EXCEPTIONS=False,
    )
    app.config["FILES"] = str(folder / "files")
    _add_hooks(app)
    _add_basic_routes(app)
    _add_body_routes(app)
    _add_file_routes(app)
    _add_stream_routes(app)
    _add_session_routes(app)
    _add_websocket_routes(app)
    app.register_blueprint(_make_blueprint())
    app.add_url_rule("/items/", view_func=ItemAPI.as_view("items"))
    app.add_url_rule("/items/<int:item_id>", view_func=ItemAPI.as_view("item"))
    return app


def _add_hooks(app: Microframework) -> None:
    @app.before_request
    async def remember_start() -> None:
        g.started = True

    @app.after_request
    async def mark(response: Response) -> Response:
        response.headers["X-Fuzz"] = "1"
        if g.get("deliberate"):
            response.headers["X-Deliberate"] = "1"
        return response

    @app.before_websocket
    async def refuse_blocked() -> None:
        if websocket.headers.get("X-Block") is not None:
            abort(403)

    @app.errorhandler(404)
    async def not_found(error: HTTPException) -> Any:
        # Websockets reach this handler too, where only ``websocket`` is bound.
        current = request if has_request_context() else websocket
        return {"error": "not found", "path": current.path}, 404

    @app.errorhandler(Deliberate)
    async def deliberate_page(error: Deliberate) -> Any:
        # Only for the "handled" variant: the plain one must reach handle_exception.
        if str(error) == "handled":
            return "handled", 409
        raise error


def _add_basic_routes(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return "index"

    @app.route("/hello/<name>")
    async def hello(name: str) -> str:
        return await render_template_string("hello {{ name }}!", name=name)

    @app.route("/int/<int:n>")
    async def double(n: int) -> dict[str, int]:
        return {"double": n * 2}

    @app.route("/float/<float:x>")
    async def half(x: float) -> dict[str, float]:
        return {"half": x / 2}

    @app.route("/uuid/<uuid:u>")
    async def show_uuid(u: Any) -> str:
        return str(u)

    @app.route("/path/<path:p>")
    async def show_path(p: str) -> dict[str, Any]:
        return {
            "p": p,
            "url": url_for("show_path", p=p),
            "external": url_for("show_path", p=p, _external=True),
        }

    @app.route("/any/<any(red, green, blue):colour>")
    async def colour(colour: str) -> str:
        return colour

    @app.route("/args")
    async def args() -> Any:
        values = request.args.to_dict(flat=False)
        name = request.args.get("name", "")
        number = request.args.get("n", type=int)
        return jsonify(values=values, name=name, n=number, full=request.full_path)

    @app.route("/headers", methods=["GET", "POST"])
    async def headers() -> Any:
        auth = request.authorization
        return jsonify(
            headers=sorted(request.headers.keys()),
            best=request.accept_mimetypes.best,
            languages=[lang for lang, _ in request.accept_languages],
            encodings=[enc for enc, _ in request.accept_encodings],
            auth=None if auth is None else auth.type,
            cache=dict(request.cache_control),
            if_none_match=list(request.if_none_match),
            if_modified_since=str(request.if_modified_since),
            range=None if request.range is None else str(request.range),
            agent=request.user_agent.string,
            host=request.host,
            url=request.url,
            base=request.base_url,
            root=request.root_url,
            remote=request.remote_addr,
            route=list(request.access_route),
            secure=request.is_secure,
            origin=request.origin,
            referrer=request.referrer,
            date=str(request.date),
            mimetype=request.mimetype,
            params=request.mimetype_params,
            length=request.content_length,
            encoding=request.content_encoding,
        )

    @app.route("/cookies")
    async def cookies() -> Response:
        response = jsonify(dict(request.cookies))
        value = request.args.get("set")
        if value is not None:
            response.set_cookie("echo", value, max_age=60, samesite="Lax")
        return response

    @app.route("/redirect")
    async def go() -> Response:
        target = request.args.get("next")
        if target is None:
            # Only plain names: "_scheme", "endpoint" and the like mean something.
            args = {k: v for k, v in request.args.items() if k.isalnum()}
            return redirect(url_for("index", **args))  # type: ignore[arg-type]
        if "\r" in target or "\n" in target:
            # redirect() refuses these (they would point somewhere else); a careful
            # app checks a client-chosen target anyway.
            abort(400)
        return redirect(target)

    @app.route("/template")
    async def template() -> str:
        return await render_template_string(
            "{% for k, v in args.items() %}{{ k }}={{ v }};{% endfor %}",
            args=request.args,
        )

    @app.route("/boom", methods=["GET", "POST"])
    async def boom() -> str:
        g.deliberate = True
        raise Deliberate("unhandled")

    @app.route("/boom-handled")
    async def boom_handled() -> str:
        raise Deliberate("handled")

    @app.route("/abort/<int:code>")
    async def abort_with(code: int) -> str:
        if code >= 500:
            g.deliberate = True
        if code in default_exceptions:
            abort(code)
        return "not an error code"

    @app.route("/status/<int(min=200, max=599):code>")
    async def status(code: int) -> Any:
        if code >= 500:
            g.deliberate = True
        return "status body", code

    @app.route("/sync", methods=["GET", "POST"])
    def sync_view() -> Any:
        # A plain function: it runs in a worker thread with the context copied in.
        return {"args": request.args.to_dict(), "agent": request.user_agent.string}

    @app.route("/flash")
    async def flash_view() -> Any:
        message = request.args.get("m")
        if message is not None:
            await flash(message, request.args.get("category", "message"))
        return {"flashed": get_flashed_messages(with_categories=True)}


def _add_body_routes(app: Microframework) -> None:
    @app.route("/form", methods=["POST", "PUT", "PATCH"])
    async def form() -> Any:
        return await _describe_form()

    @app.route("/values", methods=["GET", "POST"])
    async def values() -> Any:
        return {"values": (await request.values).to_dict(flat=False)}

    @app.route("/json", methods=["POST", "PUT"])
    async def json_view() -> Any:
        return jsonify(got=await request.get_json())

    @app.route("/json-force", methods=["POST"])
    async def json_force() -> Any:
        return jsonify(got=await request.get_json(force=True, silent=True))

    @app.route("/data", methods=["POST", "PUT", "DELETE"])
    async def data() -> Any:
        body = await request.get_data()
        text = await request.get_data(as_text=True)
        return {
            "size": len(body),
            "sha": hashlib.sha256(body).hexdigest()[:16],
            "n": len(text),
        }

    @app.route("/body-iter", methods=["POST"])
    async def body_iter() -> Any:
        sizes = [len(chunk) async for chunk in request.body]
        return {"chunks": len(sizes), "size": sum(sizes)}

    @app.route("/body-file", methods=["POST"])
    async def body_file() -> Any:
        file = await request.get_body_file()
        return {"size": len(file.read())}


async def _describe_form() -> dict[str, Any]:
    """The parsed form and files, as a JSON-ready summary."""
    form = await request.form
    files = await request.files
    return {
        "form": form.to_dict(flat=False),
        "files": [
            [name, storage.filename, storage.content_type, storage.read().hex()]
            for name, storage in files.items(multi=True)
        ],
    }


def _add_file_routes(app: Microframework) -> None:
    @app.route("/files/<path:name>")
    async def download(name: str) -> Response:
        attachment = request.args.get("download") is not None
        return await send_from_directory(
            app.config["FILES"], name, as_attachment=attachment
        )

    @app.route("/bytesio")
    async def bytesio() -> Response:
        return await send_file(
            io.BytesIO(CONDITIONAL_BODY),
            mimetype="text/plain",
            # Header-safe: send_file refuses CR, LF and NUL in a name (the app's bug).
            download_name=_printable(request.args.get("name", "letters.txt")),
            etag=CONDITIONAL_ETAG,
            last_modified=CONDITIONAL_DATE,
        )

    @app.route("/conditional", methods=["GET", "HEAD", "POST"])
    async def conditional() -> Response:
        response = Response(CONDITIONAL_BODY, mimetype="text/plain")
        response.set_etag(CONDITIONAL_ETAG, weak=request.args.get("weak") is not None)
        response.last_modified = CONDITIONAL_DATE
        return await response.make_conditional(request, accept_ranges=True)


async def _numbers(count: int) -> AsyncIterator[str]:
    for index in range(min(max(count, 0), 5)):
        yield f"{index}\n"


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable()) or "file"


def _add_stream_routes(app: Microframework) -> None:
    @app.route("/stream")
    async def stream() -> Response:
        count = min(request.args.get("n", 3, type=int) or 0, 20)

        async def chunks() -> AsyncIterator[bytes]:
            for index in range(max(count, 0)):
                yield f"chunk {index}\n".encode()

        return Response(chunks(), mimetype="text/plain")

    @app.route("/sync-stream")
    async def sync_stream() -> Response:
        @stream_with_context
        def lines() -> Iterator[str]:
            yield "path: "
            yield request.path
            yield "\n"

        return Response(lines(), mimetype="text/plain")

    @app.route("/writer")
    async def writer() -> Response:
        async def body(write: Any) -> None:
            await write(b"first ")
            await write("second")

        # A writer body; Response's annotation does not list callables yet.
        return Response(body, mimetype="text/plain")  # type: ignore[arg-type]

    @app.route("/longpoll", methods=["GET", "POST"], response_timeout=0.01)
    async def longpoll() -> str:
        # Nothing ever arrives: the response timeout (504) or a disconnect ends it.
        g.deliberate = True
        await asyncio.Event().wait()
        return "unreachable"

    @app.route("/hints")
    async def hints() -> Response:
        await send_early_hints("</static/hello.txt>; rel=preload")
        response = Response(_numbers(request.args.get("n", 2, type=int) or 0))
        data = request.args.get("t", "")

        async def trailers() -> dict[str, str]:
            # Hex: a header value must be latin-1, and this one is sent after the
            # start, when an encoding error could only abort the connection.
            return {"X-Trailer": data.encode().hex()[:64]}

        response.trailers = trailers
        return response

    @app.route("/sse")
    async def sse() -> Response:
        previous = last_event_id()
        words = request.args.getlist("w")[:10]

        async def events() -> AsyncIterator[ServerSentEvent | str | dict[str, Any]]:
            yield ServerSentEvent({"resumed_after": previous}, event="hello", id="0")
            loop = asyncio.get_running_loop()
            for index, word in enumerate(words, 1):
                # Both kinds of wait a source's step may make: a bare yield, and a
                # future (what the keep-alive watches).
                if index % 2:
                    await asyncio.sleep(0)
                else:
                    ready = loop.create_future()
                    loop.call_soon(ready.set_result, None)
                    await ready
                yield ServerSentEvent(word, id=str(index))
            yield {"done": True}

        # A 30 s keep-alive never fires here: its path runs, with no comment sent.
        return event_stream(events(), keep_alive=None if len(words) % 2 else 30)


def _add_session_routes(app: Microframework) -> None:
    @app.route("/session", methods=["GET", "POST", "DELETE"])
    async def session_view() -> Any:
        if request.method == "DELETE":
            session.clear()
        elif request.method == "POST":
            form = await request.form
            for key, value in form.items():
                session[key] = value
        else:
            session["visits"] = int(session.get("visits", 0) or 0) + 1
        return {"session": {k: repr(v) for k, v in session.items()}}


def _add_websocket_routes(app: Microframework) -> None:
    @app.websocket("/ws/echo")
    async def ws_echo() -> None:
        async for message in websocket:
            await websocket.send(message)

    @app.websocket("/ws/json")
    async def ws_json() -> None:
        while True:
            try:
                value = await websocket.receive_json()
            except ValueError as error:
                await websocket.send_json({"error": str(error)[:40]})
            else:
                await websocket.send_json({"got": value})

    @app.websocket("/ws/subprotocol")
    async def ws_subprotocol() -> None:
        offered = websocket.requested_subprotocols
        chosen = next((p for p in offered if p in ("chat", "v2")), None)
        await websocket.accept(subprotocol=chosen)
        await websocket.send(chosen or "none")

    @app.websocket("/ws/reject")
    async def ws_reject() -> Any:
        return "go away", 401

    @app.websocket("/ws/close/<int(min=3000, max=4999):code>")
    async def ws_close(code: int) -> None:
        await websocket.accept()
        await websocket.close(code, reason=websocket.args.get("reason", "")[:30])

    @app.websocket("/ws/boom")
    async def ws_boom() -> None:
        await websocket.accept()
        g.deliberate = True
        raise Deliberate("websocket")

    @app.websocket("/ws/session")
    async def ws_session() -> None:
        await websocket.send_json({"keys": sorted(session.keys())})

    @app.websocket("/ws/room/<name>")
    async def ws_room(name: str) -> None:
        await websocket.accept(headers={"X-Room": name.encode().hex()})
        async for message in websocket:
            await websocket.send(f"{name}: {message!r}"[:200])


def _make_blueprint() -> Blueprint:
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.before_request
    async def block() -> Any:
        if request.headers.get("X-Block") is not None:
            abort(403)
        return None

    @bp.after_request
    async def tag(response: Response) -> Response:
        response.headers["X-Blueprint"] = "bp"
        return response

    @bp.errorhandler(ValueError)
    async def bad_value(error: ValueError) -> Any:
        return {"error": "bad value"}, 400

    @bp.route("/item/<int:item_id>")
    async def item(item_id: int) -> Any:
        return {"item": item_id}

    @bp.route("/parse")
    async def parse() -> Any:
        # int() on client input raises ValueError, which the blueprint handles.
        return {"n": int(request.args.get("n", "x"))}

    @bp.websocket("/ws")
    async def bp_ws() -> None:
        message = await websocket.receive()
        await websocket.send(message)

    return bp


class ItemAPI(MethodView):
    async def get(self, item_id: int | None = None) -> Any:
        return {"item": item_id}

    async def post(self, item_id: int | None = None) -> Any:
        return {"created": (await request.form).to_dict()}, 201

    async def delete(self, item_id: int | None = None) -> Any:
        return "", 204
