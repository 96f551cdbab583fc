"""Pins from mutation testing (helper muts59, session 40): the survivors among the
mutants of ``formparser.py`` and ``wrappers/request.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MultiDict

from microframework import Microframework
from microframework import request
from microframework._unread import Dropper
from microframework.datastructures import FileStorage
from microframework.formparser import FormDataParser
from microframework.wrappers.request import Request


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_every_file_of_a_multiple_upload_is_closed_when_the_request_ends() -> (
    None
):
    # Request.release: iter_multi_items(files), not files.items() (R1). An
    # <input type=file multiple> sends several parts under one name: each is closed.
    app = Microframework(__name__)
    kept: list[FileStorage] = []

    @app.post("/")
    async def upload() -> str:
        files = await request.files
        kept.extend(files.getlist("up"))
        return str(len(kept))

    client = app.test_client()
    sent = [
        FileStorage(io.BytesIO(b"one"), filename="a.txt", name="up"),
        FileStorage(io.BytesIO(b"two"), filename="b.txt", name="up"),
    ]
    response = await client.post("/", files={"up": sent})
    assert await response.get_data() == b"2"
    assert [storage.stream.closed for storage in kept] == [True, True]


async def test_the_parser_takes_a_mimetype_with_spaces_and_capitals() -> None:
    # FormDataParser.parse: mimetype.strip().lower() (F9). A form_data_parser_class
    # subclass, or a caller with a raw Content-Type, may pass it as sent.
    parser = FormDataParser()
    form, files = await parser.parse(
        _chunks(b"a=1&b=2"), " Application/X-WWW-Form-Urlencoded ", {}
    )
    assert form.to_dict() == {"a": "1", "b": "2"} and not files


async def test_an_empty_body_read_as_data_then_as_form_and_stream_is_empty() -> None:
    # Request._iter_body: `if self._data is not None` (R6), not its truth: an empty
    # body cached by get_data() is iterated from the cache (nothing), not read again
    # ("the request body has already been consumed", a 500).
    app = Microframework(__name__)

    @app.post("/")
    async def view() -> Any:
        data = await request.get_data()
        form = await request.form
        chunks = [chunk async for chunk in request.body]
        return {"data": data.decode(), "form": form.to_dict(), "chunks": len(chunks)}

    client = app.test_client()
    response = await client.post(
        "/", data=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200
    assert await response.get_json() == {"data": "", "form": {}, "chunks": 0}


async def test_release_closes_the_receive_call_a_finished_watch_kept() -> None:
    # Request.release: `self.held_receive.close_held()` (R3). A disconnect watch that
    # stopped with a receive() call pending hands it to the request for a later read;
    # when the request ends unread, that call is closed, not left waiting for ever.
    closed: list[bool] = []

    async def receive() -> Any:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            closed.append(True)

    watch = Dropper()
    watch.listen(receive)
    assert watch.stop_listening(keep=True)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
    }
    request = Request(scope, receive)
    request.held_receive = watch
    request.release()
    assert closed == [True] and request.held_receive is None


async def test_the_values_of_a_head_request_hold_its_form() -> None:
    # Request._get_values: only a GET leaves the form out (R29), as werkzeug: a HEAD,
    # a DELETE or an OPTIONS with a form body has it in values.
    app = Microframework(__name__)
    seen: list[dict[str, str]] = []

    @app.route("/", methods=["GET", "DELETE"])
    async def view() -> str:
        seen.append((await request.values).to_dict())
        return ""

    client = app.test_client()
    for method in ("HEAD", "DELETE", "GET"):
        await client.open("/?q=1", method=method, form={"a": "2"})
    assert seen == [{"q": "1", "a": "2"}, {"q": "1", "a": "2"}, {"q": "1"}]


async def test_each_request_class_gets_its_own_parameter_storage_class() -> None:
    # parser_for: the cache key holds parameter_storage_class (F17): an app whose
    # request class keeps mutable forms gets them after another app's request.
    class Mutable(Request):
        parameter_storage_class = MultiDict

    plain, mutable = Microframework(__name__), Microframework(__name__)
    mutable.request_class = Mutable
    kinds: list[type[Any]] = []

    for app in (plain, mutable):

        @app.post("/")
        async def view() -> str:
            kinds.append(type(await request.form))
            return ""

        await app.test_client().post("/", form={"a": "1"})
    assert kinds == [ImmutableMultiDict, MultiDict]


async def test_a_body_with_bare_cr_line_breaks_parses_the_same_at_every_split() -> None:
    # _MultipartReader._delimiter_ends_at: `buffer[begin - 1] in b"\r\n"` (F47). The
    # decoder takes CR, LF or CRLF before a delimiter: one after a bare CR is undecided
    # at "--xx-" or in its padding too, whatever the split.
    body = (
        b'--xx\rContent-Disposition: form-data; name="a"\r\rone\r--xx  \r'
        b'Content-Disposition: form-data; name="b"\r\rtwo\r--xx--\r'
    )
    options = {"boundary": "xx"}
    whole = await FormDataParser().parse(_chunks(body), "multipart/form-data", options)
    assert whole[0].to_dict() == {"a": "one", "b": "two"}
    for split in range(1, len(body)):
        form, _ = await FormDataParser().parse(
            _chunks(body[:split], body[split:]), "multipart/form-data", options
        )
        assert form.to_dict() == {"a": "one", "b": "two"}, split


async def test_a_whole_body_read_cancelled_tells_its_sharer_it_was_cancelled() -> None:
    # Request._shared: a cancel is not handed on as such (R38): the task sharing the
    # read was not cancelled, so it gets RuntimeError("the read was cancelled"), not a
    # CancelledError that would look like its own cancellation.
    arrived = asyncio.Event()

    async def receive() -> Any:
        arrived.set()
        await asyncio.get_running_loop().create_future()  # the body never comes

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"content-length", b"5")],
    }
    request = Request(scope, receive)
    first = asyncio.ensure_future(request.get_data())
    await arrived.wait()
    second = asyncio.ensure_future(request.get_data())
    await asyncio.wait([second], timeout=0)  # it waits on the first one's read
    first.cancel()
    done, _ = await asyncio.wait([first, second], timeout=5)
    assert first.cancelled() and second in done
    error = second.exception()
    assert type(error) is RuntimeError and "cancelled" in str(error)
