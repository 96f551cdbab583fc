"""Findings of helper muts59 (session 40): each test fails on the code before its fix."""

from __future__ import annotations

import asyncio
from typing import Any

from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework
from microframework import request

_MULTIPART = (
    b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
    b'--xx\r\nContent-Disposition: form-data; name="f"; filename="f.txt"\r\n\r\n'
    b"hello\r\n--xx--\r\n"
)


class _Trickle(Recorder):
    """The body's second message arrives only once the app waits for it."""

    def __init__(self, first: bytes, rest: bytes) -> None:
        super().__init__(first, more_last=True)
        self._rest: bytes | None = rest

    async def receive(self) -> dict[str, Any]:
        message = await super().receive()
        if self._rest is not None:
            rest, self._rest = self._rest, None
            # Put once the next read waits: the other task runs meanwhile.
            asyncio.get_running_loop().call_soon(
                self.inbox.put_nowait,
                {"type": "http.request", "body": rest, "more_body": False},
            )
        return message


async def test_form_and_files_read_at_once_by_two_tasks_share_one_parse() -> None:
    # A body in two messages: the first task parses while the second asks for the
    # files; as Quart's lock: both get the one parse, not "body already consumed".
    app = Microframework(__name__)

    @app.post("/")
    async def view() -> Any:
        form, files = await asyncio.gather(request.form, request.files)
        return {"form": dict(form), "files": sorted(files)}

    scope = http_scope(
        "/",
        "POST",
        headers=[
            (b"content-type", b"multipart/form-data; boundary=xx"),
            (b"content-length", str(len(_MULTIPART)).encode()),
        ],
    )
    recorder = await asyncio.wait_for(
        call(app, scope, _Trickle(_MULTIPART[:30], _MULTIPART[30:])), 10
    )
    assert recorder.status == 200, recorder.body
    assert recorder.body == b'{"files":["f"],"form":{"a":"1"}}\n'


async def test_form_read_again_after_a_malformed_multipart_body_is_the_same_for_any_split() -> (
    None
):
    # A 400 handler that shows the form again (re-rendering it with an error): the
    # parse stopped at the bad part header with more body to come. With the body in one
    # message that read is an empty form; in two it was a 500 ("body already consumed").
    app = Microframework(__name__)

    @app.post("/")
    async def view() -> Any:
        return dict(await request.form)

    @app.errorhandler(400)
    async def bad(error: Exception) -> Any:
        return {
            "again": dict(await request.form),
            "data": (await request.get_data()).decode(),
        }, 400

    first = b'--xx\r\nContent-Disposition: form-data; name="\xff"\r\n\r\n1\r\n'
    rest = b"--xx--\r\n"
    headers = [
        (b"content-type", b"multipart/form-data; boundary=xx"),
        (b"content-length", str(len(first + rest)).encode()),
    ]
    for recorder in (Recorder(first + rest), _Trickle(first, rest)):
        done = await asyncio.wait_for(
            call(app, http_scope("/", "POST", headers=headers), recorder), 10
        )
        assert (done.status, done.body) == (400, b'{"again":{},"data":""}\n')


class _FormRejected(Exception):
    def __init__(self, field: str, reason: str) -> None:  # copy() can't remake it
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


async def test_a_parsers_own_error_that_copy_cannot_remake_reaches_its_handler() -> (
    None
):
    # review26: the copy made for other readers raised TypeError in its place (a 500).
    from microframework.formparser import FormDataParser
    from microframework.wrappers.request import Request

    class StrictParser(FormDataParser):
        async def parse(self, stream: Any, mimetype: str, options: Any) -> Any:
            form, files = await super().parse(stream, mimetype, options)
            if "name" not in form:
                raise _FormRejected("name", "required")
            return form, files

    class StrictRequest(Request):
        form_data_parser_class = StrictParser

    app = Microframework(__name__)
    app.request_class = StrictRequest

    @app.errorhandler(_FormRejected)
    async def rejected(error: _FormRejected) -> Any:
        return {"field": error.field}, 422

    @app.post("/")
    async def view() -> Any:
        return dict(await request.form)

    response = await app.test_client().post("/", form={"x": "1"})
    assert response.status_code == 422
    assert await response.get_json() == {"field": "name"}


async def test_get_data_beside_two_form_readers_parses_once() -> None:
    # review26: a reader that waited for another task's get_data() parsed again,
    # leaving the first parse's upload open (Quart parses once).
    app = Microframework(__name__)
    seen: dict[str, Any] = {}

    @app.post("/")
    async def view() -> Any:
        _, first, second = await asyncio.gather(
            request.get_data(), request.files, request.files
        )
        seen["first"] = first["f"]
        return {"same": first is second}

    headers = [
        (b"content-type", b"multipart/form-data; boundary=xx"),
        (b"content-length", str(len(_MULTIPART)).encode()),
    ]
    scope = http_scope("/", "POST", headers=headers)
    async with asyncio.timeout(5):
        rec = await call(app, scope, _Trickle(_MULTIPART[:30], _MULTIPART[30:]))
    assert (rec.status, rec.body) == (200, b'{"same":true}\n')
    assert seen["first"].stream.closed
