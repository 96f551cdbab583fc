"""Streamed templates (perf2, perf3, session 38): the template renders in a task of
its own; chunks it makes without waiting go out joined, text made before it waits goes
out while it waits, its own cancels land in it, and its client leaving is heard."""

from __future__ import annotations

import asyncio
import contextvars
import gc
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import cycles_made
from asgi_harness import http_scope
from asgi_harness import Recorder
from servers import LIMIT

from microframework import g
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import stream_template_string
from microframework import template_rendered

_ROW = "{% for r in rows %}<tr><td>{{ r }}</td><td>{{ r * 2 }}</td></tr>\n{% endfor %}"


async def test_a_streamed_template_joins_the_chunks_it_makes_without_waiting() -> None:
    # jinja makes several chunks a row: sent one by one, over HTTP/2 each 16 cost a loop
    # turn, and hypercorn a DATA frame and a TLS record for each turn (0.6x of before).
    app = Microframework(__name__)
    rows = list(range(5000))

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(_ROW, rows=rows)

    async with asyncio.timeout(LIMIT):
        sent = await call(app, http_scope("/page", http_version="2"))
    expected = "".join(f"<tr><td>{r}</td><td>{r * 2}</td></tr>\n" for r in rows)
    assert sent.body == expected.encode()
    chunks = [m for m in sent.sent[1:] if m.get("body")]
    assert len(chunks) < 40, len(
        chunks
    )  # 190 KB in pieces of 8 KiB; one a chunk: 25,000
    assert (
        max(len(m["body"]) for m in chunks) < 16384
    )  # still streamed, not rendered whole


async def test_a_streamed_template_sends_what_it_waited_for_at_once() -> None:
    app = Microframework(__name__)
    ready = asyncio.Event()
    more = asyncio.Event()

    async def rows() -> AsyncIterator[int]:
        await ready.wait()
        yield 1
        await more.wait()
        yield 2

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "<head>{{ title }}</head>{% for r in rows %}<p>{{ r }}</p>{% endfor %}",
            title="T",
            rows=rows(),
        )

    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/page"), recorder))
        await recorder.response_started.wait()  # the template waits for row 1 now
        ready.set()
        while b"<p>" not in recorder.body:  # row 1 goes out without waiting for row 2
            recorder.body_sent.clear()
            await recorder.body_sent.wait()
        assert recorder.body.startswith(b"<head>T</head><p>")
        more.set()
        await task
    assert recorder.body == b"<head>T</head><p>1</p><p>2</p>"


async def test_a_templates_own_timeout_lands_in_the_template_not_in_a_send() -> None:
    # Chunks held while the template waits, and sent then, would put the send in the
    # way: a function the template awaits times out while a slow client's send waits,
    # and its timeout's cancel cut the stream instead of giving the function its
    # fallback (the flush-before-wait variant).
    app = Microframework(__name__)
    timed_out = asyncio.Event()
    fetching: list[bool] = []

    async def fetch() -> str:
        fetching.append(True)
        try:
            async with asyncio.timeout(0):
                await asyncio.Event().wait()
        except TimeoutError:
            timed_out.set()
            return "fallback"
        return "data"  # pragma: no cover

    class Slow(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if message.get("body") and fetching:
                await timed_out.wait()  # a full window, until after the timeout
            await super().send(message)

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "<head></head>{{ fetch() }}<end>", fetch=fetch
        )

    recorder = Slow()
    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/page"), recorder)
    assert recorder.body == b"<head></head>fallback<end>"
    assert recorder.sent[-1]["more_body"] is False


async def test_a_template_of_endless_empty_chunks_still_hears_its_client_leave() -> (
    None
):
    # Joined by size alone, empty strings would never make a send: the stream would
    # hold the loop and never hear its client leave (see _guard's NO_WAIT).
    app = Microframework(__name__)
    made: list[int] = []

    def rows() -> Iterator[str]:
        for index in range(2_000_000):  # bounded, so that a failure ends
            made.append(index)
            yield ""

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "{% for r in rows %}{{ r }}{% endfor %}", rows=rows()
        )

    recorder = Recorder()
    recorder.disconnect()
    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/page"), recorder)
    assert len(made) < 1_000_000, "the client's leaving was not heard"


async def test_a_streamed_template_sends_its_head_while_it_waits() -> None:
    # Text made before the template waits goes out while it waits (the point of
    # stream_template), though chunks made without waiting are joined.
    app = Microframework(__name__)
    release = asyncio.Event()

    async def query() -> str:
        await release.wait()
        return "rows"

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "<html><head>{{ title }}</head>{% for i in range(50) %}<p>{{ i }}</p>"
            "{% endfor %}{{ query() }}</html>",
            title="T",
            query=query,
        )

    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/page"), recorder))
        while b"<p>49</p>" not in recorder.body:  # sent while query() waits
            recorder.body_sent.clear()
            await recorder.body_sent.wait()
        assert not release.is_set()
        chunks = [m for m in recorder.sent[1:] if m.get("body")]
        assert len(chunks) == 1  # joined: one piece, not ~200
        release.set()
        await task
    assert recorder.body.endswith(b"<p>49</p>rows</html>")
    assert recorder.sent[-1]["more_body"] is False


async def test_a_template_task_group_is_cancelled_in_the_template() -> None:
    # A TaskGroup in a function the template awaits, while a slow client's send
    # waits: its failing child cancels the template's task, not the send.
    app = Microframework(__name__)
    gathering: list[bool] = []
    handled = asyncio.Event()

    async def gather() -> str:
        gathering.append(True)

        async def fail() -> None:
            await asyncio.sleep(0)
            raise ValueError("child")

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(fail())
                group.create_task(asyncio.Event().wait())
        except ExceptionGroup as error:
            assert error.subgroup(ValueError) is not None
            handled.set()
            return "fallback"
        return "data"  # pragma: no cover

    class Slow(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if message.get("body") and gathering:
                await handled.wait()  # a full window, until the group is done
            await super().send(message)

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "<head></head>{{ gather() }}", gather=gather
        )

    recorder = Slow()
    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/page", http_version="2"), recorder)
    assert recorder.body == b"<head></head>fallback"
    assert recorder.sent[-1]["more_body"] is False


async def test_a_streamed_templates_task_is_cancelled_when_its_client_leaves() -> None:
    # The template waits for ever; its client leaves: its await gets the cancel, its
    # clean-up runs, and no task of it is left running when the request ends.
    app = Microframework(__name__)
    cleaned: list[str] = []
    waiting = asyncio.Event()

    async def rows() -> AsyncIterator[int]:
        try:
            yield 1
            waiting.set()
            await asyncio.Event().wait()
            yield 2  # pragma: no cover
        finally:
            cleaned.append(request.path)  # still in its request's context

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "{% for r in rows %}<p>{{ r }}</p>{% endfor %}", rows=rows()
        )

    recorder = Recorder()
    before = asyncio.all_tasks()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/page"), recorder))
        await waiting.wait()
        recorder.disconnect()
        await task
    assert cleaned == ["/page"]
    assert asyncio.all_tasks() - before == set()


async def test_an_endless_template_that_never_waits_hears_its_client_leave() -> None:
    app = Microframework(__name__)
    made: list[int] = []

    def rows() -> Iterator[int]:
        for index in range(2_000_000):  # bounded, so that a failure ends
            made.append(index)
            yield index

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "{% for r in rows %}<p>{{ r }}</p>{% endfor %}", rows=rows()
        )

    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(
            call(app, http_scope("/page", http_version="2"), recorder)
        )
        await recorder.body_sent.wait()
        recorder.disconnect()
        await task
    assert len(made) < 1_000_000, "the client's leaving was not heard"


async def test_a_streamed_template_holds_little_for_a_client_that_does_not_read() -> (
    None
):
    # The template's task renders ahead of the sends only so far: then it waits.
    app = Microframework(__name__)
    made: list[int] = []
    stalled = asyncio.Event()
    release = asyncio.Event()

    def rows() -> Iterator[int]:
        for index in range(50_000):
            made.append(index)
            yield index

    class Stalled(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if message.get("body"):
                stalled.set()
                await release.wait()
            await super().send(message)

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "{% for r in rows %}<p>{{ '%06d' % r }}</p>{% endfor %}", rows=rows()
        )

    recorder = Stalled()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/page"), recorder))
        await stalled.wait()
        for _ in range(100):  # many turns: the template's task runs as far as it may
            await asyncio.sleep(0)
        assert len(made) * 13 < 4 * 65536, len(made)  # rows of 13 bytes
        release.set()
        await task
    assert len(made) == 50_000 and len(recorder.body) == 50_000 * 13


async def test_a_streamed_template_sees_its_request_and_its_own_context_vars() -> None:
    app = Microframework(__name__)
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    rendered: list[object] = []

    def put(value: str) -> str:
        var.set(value)
        return ""

    async def later() -> str:
        await asyncio.sleep(0)
        return var.get()

    @app.route("/page")
    async def page() -> Response:
        g.user = "ann"
        return await stream_template_string(
            "{{ put('x') }}{{ request.path }} {{ g.user }} {{ later() }}",
            put=put,
            later=later,
        )

    def heard(sender: object, template: object, context: object) -> None:
        rendered.append(request.path)

    template_rendered.connect(heard, app)
    try:
        async with asyncio.timeout(LIMIT):
            sent = await call(app, http_scope("/page"))
    finally:
        template_rendered.disconnect(heard, app)
    assert sent.body == b"/page ann x"
    assert rendered == ["/page"]


async def test_a_streamed_template_error_after_its_head_cuts_the_stream() -> None:
    app = Microframework(__name__)

    async def broken() -> str:
        await asyncio.sleep(0)
        raise ValueError("boom")

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "<head></head>{{ broken() }}", broken=broken
        )

    recorder = Recorder()
    with pytest.raises(ValueError, match="boom"):
        async with asyncio.timeout(LIMIT):
            await call(app, http_scope("/page"), recorder)
    assert recorder.body == b"<head></head>"
    assert recorder.sent[-1].get("more_body") is not False  # not made to look complete


async def test_a_streamed_template_makes_no_reference_cycles() -> None:
    app = Microframework(__name__)

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "{% for i in items %}<li>{{ i }}</li>{% endfor %}", items=range(20)
        )

    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/page"))  # warm
        with cycles_made() as made:
            sent = await call(app, http_scope("/page"))
    assert sent.body.count(b"<li>") == 20
    assert made == []


async def test_a_streamed_template_of_empty_chunks_is_not_idle() -> None:
    # Its chunks were sends (empty ones nothing): making them is not going quiet, so
    # the idle timeout, armed while the body waits for the template's task, restarts.
    app = Microframework(__name__)

    @app.route("/page")
    async def page() -> Response:
        response = await stream_template_string(
            "<h>{% for r in rows %}{{ r }}{% endfor %}end", rows=[""] * 100_000
        )
        response.timeout = 0.05  # far below the render (0.3-0.6 s), above a stall
        return response

    async with asyncio.timeout(LIMIT):
        sent = await call(app, http_scope("/page"))
    assert sent.body == b"<h>end"
    assert sent.sent[-1]["more_body"] is False


async def test_a_template_that_fails_after_its_client_left_logs_no_lost_task_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The body is closed (its client left) after the template's task failed but before
    # a chunk was asked for again: the error is nobody's to raise, and asyncio must not
    # log "Task exception was never retrieved" for the task when it is collected.
    app = Microframework(__name__)
    failed = asyncio.Event()

    def broken() -> str:
        failed.set()
        raise ValueError("boom")

    async with app.test_request_context("/"):
        response = await stream_template_string(
            "<head></head>{{ wait() }}{{ broken() }}",
            wait=lambda: "",
            broken=broken,
        )
        body = response.response.__aiter__()  # type: ignore[union-attr]
        async with asyncio.timeout(LIMIT):
            first = await body.__anext__()
            await failed.wait()
            await asyncio.sleep(0)  # a turn: the task ends with the error
            await body.aclose()  # type: ignore[attr-defined]
    assert first.startswith("<head></head>")
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_rows_whose_timeout_fires_between_yields_are_closed_with_the_response() -> (
    None
):
    # A rows generator with an asyncio.timeout (or a pool's acquire) around its
    # yields: the template's task ends with its error, whose traceback kept _streamed's
    # frame, and so the rows, until a garbage collection (a worker's shutdown).
    app = Microframework(__name__)
    ended: list[str] = []

    async def rows() -> AsyncIterator[int]:
        try:
            async with asyncio.timeout(0.01):
                for i in range(10**8):  # never awaits: the timeout fires between rows
                    yield i
        finally:
            ended.append("finally")

    @app.route("/page")
    async def page() -> Response:
        return await stream_template_string(
            "{% for r in rows %}<p>{{ r }}</p>{% endfor %}", rows=rows()
        )

    gc.disable()  # the bug: only a collection ended them
    try:
        with pytest.raises(RuntimeError, match="without completing the response"):
            await asyncio.wait_for(app.test_client().get("/page"), 30)
        for _ in range(5):  # the generators' finalizers' acloses
            await asyncio.sleep(0)
        assert ended == ["finally"]
    finally:
        gc.enable()
