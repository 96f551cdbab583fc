"""Pins from mutation testing (helper muts37, session 33): the survivors muts35 left
open, mostly wrappers/request.py's body read-ahead and drop bookkeeping, and one each of
wrappers/websocket.py, _lifespan.py and sse.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s33/muts35/MUTANTS.md).
"""

from __future__ import annotations

import asyncio
from tempfile import SpooledTemporaryFile
from typing import Any

import pytest
from asgi_harness import http_scope
from asgi_harness import websocket_scope
from werkzeug.exceptions import RequestEntityTooLarge

from microframework import Microframework
from microframework import websocket
from microframework._unread import drop_unread_body
from microframework._unread import DropBeforeEnd
from microframework._unread import Dropper
from microframework._utils import Listener
from microframework.exceptions import ClientDisconnected
from microframework.sse import event_stream
from microframework.typing import Message
from microframework.typing import Receive
from microframework.wrappers.body import BUFFERED
from microframework.wrappers.request import Request


class _Watch(Listener):
    """A disconnect watch reading ahead, driven by hand: the test hands the request what
    it "heard"; it counts the request's calls to read ahead."""

    __slots__ = ("read_aheads",)

    def __init__(self) -> None:
        super().__init__()
        self.read_aheads = 0

    def heard(self, message: Message) -> bool:
        return True

    def read_ahead(self) -> None:
        self.read_aheads += 1

    def resume(self) -> None:
        pass  # not listening: nothing to call again


def _part(body: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


async def _never() -> Message:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _post(receive: Receive = _never, length: bytes | None = None) -> Request:
    headers = [] if length is None else [(b"content-length", length)]
    return Request(http_scope("/", method="POST", headers=headers), receive)


async def test_the_read_ahead_hands_bytes_not_its_joined_bytearray() -> None:
    # wrappers/request.py _take_heard: `if body.__class__ is bytearray: message["body"]
    # = bytes(body)` (mutant R33 made it `if False`): parts the watch joined into one
    # bytearray reach `async for chunk in request.body` as bytes, as a server's do.
    request = _post()
    request.read_by_watch(_Watch())
    for part in [b"ab", b"cd", b"ef"]:
        request.body_heard(_part(part, True))
    request.body_heard(_part(b"", False))
    chunks = [chunk async for chunk in request.body]
    assert chunks == [b"abcdef"]
    assert [chunk.__class__ for chunk in chunks] == [bytes]


async def test_a_read_waiting_for_the_watch_asks_it_to_read_ahead() -> None:
    # wrappers/request.py _wait_heard: `self.body_watch.read_ahead()` (mutant R35 made it
    # `pass`): a read that waits for what the watch reads ahead tells the watch so (a
    # watch that took over reads ahead only once asked; else the read waits for ever).
    request = _post()
    watch = _Watch()
    request.read_by_watch(watch)
    reading = asyncio.ensure_future(request.get_data())
    await asyncio.sleep(0)
    assert watch.read_aheads == 1
    request.body_heard(_part(b"abc", False))
    async with asyncio.timeout(5):
        assert await reading == b"abc"


async def test_a_second_watch_taking_over_keeps_what_the_first_read_ahead() -> None:
    # wrappers/request.py read_by_watch: `if self._heard is None: self._heard = deque()`
    # (mutant R36 made it `if True`): a watch taking over from another keeps the
    # messages the first read ahead; a new deque would lose the body's start.
    request = _post()
    request.read_by_watch(_Watch())
    request.body_heard(_part(b"ab", True))
    request.read_by_watch(_Watch())
    request.body_heard(_part(b"cd", False))
    async with asyncio.timeout(5):
        assert await request.get_data() == b"abcd"


async def test_a_watch_stopping_while_paused_leaves_the_read_nothing_to_resume() -> (
    None
):
    # wrappers/request.py read_by_watch(None): `self._paused = False` (mutant R37 made it
    # `pass`): a watch that paused (BUFFERED bytes kept) and then stopped has nothing
    # left to resume; a read taking the kept bytes must not try (it asserted).
    async def receive() -> Message:
        return _part(b"!", False)

    request = _post(receive)
    request.read_by_watch(_Watch())
    big = b"x" * BUFFERED
    assert not request.body_heard(_part(big, True))  # paused
    request.read_by_watch(None)
    async with asyncio.timeout(5):
        assert await request.get_data() == big + b"!"


async def test_a_disconnect_heard_ahead_is_not_the_bodys_end() -> None:
    # wrappers/request.py body_heard: `if message["type"] == "http.request" and not
    # more` (mutant R44 dropped the type test): an http.disconnect the watch hears is
    # not the body's last message: the body is not taken, and the read hears the client
    # gone.
    request = _post(length=b"10")
    watch = _Watch()
    request.read_by_watch(watch)
    request.body_heard(_part(b"ab", True))
    request.body_heard({"type": "http.disconnect"})
    assert request.body_untaken()
    assert request.body_watch is watch
    with pytest.raises(ClientDisconnected):
        await request.get_data()


async def test_a_413_on_received_bytes_abandons_the_read() -> None:
    # wrappers/request.py _next_chunk: `self.body_abandoned = True` on a 413 over the
    # bytes received (mutant R31 made it `pass`), and body_finished: `return
    # self.body_abandoned and self._heard_all` (mutant R51 dropped `_heard_all`), and
    # body_taken: `or self.body_abandoned` (mutant R47 dropped it): nobody reads on
    # after the 413; the body is finished only once its last message is taken.
    async def receive() -> Message:
        return _part(b"abcde", True)

    request = _post(receive)
    request.max_content_length = 4
    with pytest.raises(RequestEntityTooLarge):
        await request.get_data()
    assert not request.body_reading()
    assert not request.body_finished()  # its rest is still coming
    request.body_taken()  # the watch took the last message
    assert request.body_finished()


async def test_a_body_heard_all_ahead_is_not_untaken() -> None:
    # wrappers/request.py body_untaken: `not (self.body_done or self._heard_all)`
    # (mutant R48 dropped `_heard_all`): once the watch heard the body's last message,
    # no read needs feeding.
    request = _post(length=b"3")
    request.read_by_watch(_Watch())
    assert request.body_untaken()
    request.body_heard(_part(b"abc", False))
    assert not request.body_untaken()


async def test_drop_body_does_not_stop_the_dropper_that_was_the_watch() -> None:
    # wrappers/request.py drop_body: `if watch not in (None, dropper) and
    # watch.stop_listening(keep=True)` (mutant R58 dropped `dropper`): when the watch
    # reading ahead is the dropper itself, it is not stopped: it goes on reading the
    # rest.
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    request = _post(inbox.get, length=b"6")
    dropper = Dropper()
    request.read_by_watch(dropper)
    dropper.listen(inbox.get)
    request.drop_body(dropper)
    inbox.put_nowait(_part(b"ab", True))
    inbox.put_nowait(_part(b"cd", True))
    inbox.put_nowait(_part(b"ef", False))
    async with asyncio.timeout(5):
        while not inbox.empty():
            await asyncio.sleep(0)


async def test_drop_body_wakes_a_read_waiting_for_the_watch() -> None:
    # wrappers/request.py drop_body: `self._wake()` (mutant R61 made it `pass`): a read
    # waiting for what the watch reads ahead is woken when the body is dropped, and hears
    # the client gone, instead of waiting for ever.
    request = _post(length=b"6")
    request.read_by_watch(_Watch())
    reading = asyncio.ensure_future(request.get_data())
    await asyncio.sleep(0)
    request.drop_body(Dropper())
    async with asyncio.timeout(5):
        with pytest.raises(ClientDisconnected):
            await reading


async def test_drop_body_counts_the_bytes_read_ahead() -> None:
    # wrappers/request.py drop_body: `return self._received + sum(... heard)` (mutant
    # R62 dropped the sum): the bytes the watch read ahead were received too; the
    # dropper's count (of what the body sent) starts from both.
    request = _post(length=b"10")
    request.read_by_watch(_Watch())
    request.body_heard(_part(b"abc", True))
    request.body_heard(_part(b"de", True))
    assert request.drop_body(Dropper()) == 5


async def test_a_dropper_stops_after_the_bodys_last_message() -> None:
    # wrappers/request.py Dropper.heard: `and bool(message.get("more_body"))` (mutant R91
    # dropped it): after the body's last message the dropper stops listening, so the
    # server's next receive() (the http.disconnect) is the next reader's.
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    dropper = Dropper()
    dropper.listen(inbox.get)
    inbox.put_nowait(_part(b"ab", True))
    inbox.put_nowait(_part(b"cd", False))
    inbox.put_nowait({"type": "http.disconnect"})
    async with asyncio.timeout(5):
        while inbox.qsize() > 1:
            await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)
    assert inbox.qsize() == 1
    assert not dropper.heard(_part(b"", False))


async def test_a_body_read_after_the_response_on_unframed_http_1_1_is_empty() -> None:
    # wrappers/request.py _start_body: `http_version.startswith("1")` (mutant R16 made
    # it "2"): once the response went (a teardown's read), an HTTP/1.1 request without
    # Content-Length or Transfer-Encoding has no body: b"", not the server's receive()
    # (uvicorn answers it with http.disconnect).
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    request = Request(http_scope("/", method="POST"), receive)
    request.asgi_send = send
    request.asgi_send = None  # the dispatcher's response went
    assert await request.get_data() == b""


async def test_a_finished_watch_without_a_pending_receive_leaves_the_read_its_own() -> (
    None
):
    # wrappers/request.py _next_chunk: `if held is not None: read = _returning(held)`
    # (mutant R23 made it `if True`): a held_receive that kept no receive() call hands
    # nothing on: the read calls the server's receive() itself.
    async def receive() -> Message:
        return _part(b"abc", False)

    request = _post(receive)
    request.held_receive = Dropper()  # stopped without a pending call
    async with asyncio.timeout(5):
        assert await request.get_data() == b"abc"


async def test_release_closes_the_uploaded_files_and_the_body_file() -> None:
    # wrappers/request.py release: `if files:` ... `storage.close()` (mutant R1 made it
    # `if False`) and `self._body_file.close()` (mutant R2 made it `pass`): the files
    # of a request are closed when it ends, not left to the garbage collector.
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"hello\r\n"
        b"--b--\r\n"
    )

    async def receive() -> Message:
        return _part(body, False)

    headers = [(b"content-type", b"multipart/form-data; boundary=b")]
    request = Request(http_scope("/", method="POST", headers=headers), receive)
    storage = (await request.files)["f"]
    body_file = await request.get_body_file()
    before = [storage.stream.closed, body_file.closed]
    request.release()
    assert before == [False, False]
    assert [storage.stream.closed, body_file.closed] == [True, True]


async def test_a_body_file_without_an_app_spools_to_disk_past_1_mib() -> None:
    # wrappers/request.py get_body_file: `self._config("BODY_SPOOL_SIZE", 1024 * 1024)`
    # (mutant R66 made it 1024): without an app the documented default applies: a body
    # of 2 KiB stays in memory.
    async def receive() -> Message:
        return _part(b"x" * 2048, False)

    request = _post(receive)
    body_file = await request.get_body_file()
    assert body_file.__class__ is SpooledTemporaryFile
    assert vars(body_file)["_rolled"] is False  # on disk: True
    assert body_file.read() == b"x" * 2048
    request.release()


async def test_a_last_send_that_waits_leaves_a_body_a_read_waits_for() -> None:
    # wrappers/request.py body_awaited / _next_chunk's `self._awaiting = True` (mutant
    # R24 made it False) and drop_unread_body: `or request.body_awaited()` (mutant R92
    # dropped it): a response's last send that waits (another task reads the body) does
    # not drop the body a read is waiting for: that read takes the rest.
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    request = _post(inbox.get, length=b"4")
    reading = asyncio.ensure_future(request.get_data())
    await asyncio.sleep(0)
    drop_unread_body(request)
    assert not request.body_dropped()
    inbox.put_nowait(_part(b"ab", True))
    inbox.put_nowait(_part(b"cd", False))
    async with asyncio.timeout(5):
        assert await reading == b"abcd"


async def _sends_after_a_wait(message: Message) -> None:
    await asyncio.sleep(0)  # a server's send that waits (a full buffer)


async def test_a_streamed_chunk_does_not_drop_the_unread_body() -> None:
    # wrappers/request.py DropBeforeEnd: `and not message.get("more_body")` (mutant R94
    # dropped it): only the response's last message drops the unread rest of the body;
    # a streaming view's chunks (more_body) leave it to be read between them.
    request = _post(length=b"4")
    send = DropBeforeEnd(_sends_after_a_wait, request)
    await send({"type": "http.response.body", "body": b"x", "more_body": True})
    assert not request.body_dropped()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    assert request.body_dropped()


async def test_a_pathsend_as_the_last_message_drops_the_unread_body() -> None:
    # wrappers/request.py DropBeforeEnd: `message["type"] in _LAST` (mutant R95 made it
    # `== "http.response.body"`): http.response.pathsend (and zerocopysend) end the
    # response too, so a send of them that waits drops the unread rest of the body.
    for kind in ["http.response.pathsend", "http.response.zerocopysend"]:
        request = _post(length=b"4")
        send = DropBeforeEnd(_sends_after_a_wait, request)
        await send({"type": kind, "path": "/tmp/x"})
        assert request.body_dropped(), kind


async def test_a_websocket_inbox_counts_down_the_bytes_a_handler_received() -> None:
    # wrappers/websocket.py _receive_queued: `queue.bytes -= len(data) + _MESSAGE_COST`
    # (mutant W64 made it `pass`): the inbox's byte budget is of the messages queued
    # now, not of all received so far: after a handler read many, small messages still
    # queue past WEBSOCKET_QUEUE_SIZE up to the budget (the count bound alone: 2).
    app = Microframework(__name__)
    app.config["WEBSOCKET_QUEUE_SIZE"] = 2
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1000  # the budget: 5 messages of 200
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    drained = asyncio.Event()

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # not in receive(): the reader task starts
        for _ in range(10):
            await websocket.receive()
        drained.set()
        await asyncio.Event().wait()  # blocked elsewhere: the reader queues

    async def send(message: Message) -> None:
        pass

    text = "x" * 72  # costs 72 + 128 bytes in the inbox
    inbox.put_nowait({"type": "websocket.connect"})
    for _ in range(10):
        inbox.put_nowait({"type": "websocket.receive", "text": text})
    task = asyncio.ensure_future(app(websocket_scope("/ws"), inbox.get, send))
    try:
        async with asyncio.timeout(5):
            await drained.wait()
        for _ in range(10):
            inbox.put_nowait({"type": "websocket.receive", "text": text})
        for _ in range(50):  # loop turns: the reader takes what fits
            await asyncio.sleep(0)
        # Five queued (1000 bytes, the budget) and the one the reader holds.
        assert inbox.qsize() == 10 - 6
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_form_parsed_while_another_task_reads_the_body_shares_that_read() -> (
    None
):
    # wrappers/request.py _load_form_data: `if self._whole is not None and
    # self.body_reading(): await self.get_data()` (mutant R87 made it `if False`): the
    # form waits for the body another task's get_data() is reading and parses it, not
    # reading it a second time ("already consumed").
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    request = Request(http_scope("/", method="POST", headers=headers), inbox.get)
    reading = asyncio.ensure_future(request.get_data())
    await asyncio.sleep(0)
    parsing = asyncio.ensure_future(request.form)
    await asyncio.sleep(0)
    inbox.put_nowait(_part(b"a=1&", True))
    inbox.put_nowait(_part(b"b=2", False))
    async with asyncio.timeout(5):
        form = await parsing
        assert await reading == b"a=1&b=2"
    assert form.to_dict() == {"a": "1", "b": "2"}


async def test_shutdown_closes_open_websockets_with_1001() -> None:
    # _lifespan.py _stop: `app.drain.start(grace)` (mutant L37 made it `pass`): a server
    # whose lifespan shutdown comes while connections are open, without a signal first
    # (or a test's app.shutdown()), still has the open websockets closed with 1001
    # ("going away") and their handlers ended (docs/lifespan.md: their teardown may
    # run after after_serving).
    app = Microframework(__name__)
    sent: list[Message] = []
    ended: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.receive()
        finally:
            ended.append("handler")

    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        sent.append(message)

    await app.startup()
    task = asyncio.ensure_future(app(websocket_scope("/ws"), inbox.get, send))
    try:
        async with asyncio.timeout(5):
            while not sent:
                await asyncio.sleep(0)
            await app.shutdown()
            # The close goes; this server never answers it, so the handler (which
            # waits for that answer in receive()) ends a second later.
            await asyncio.wait({task}, timeout=3)
        closes = [m.get("code") for m in sent if m["type"] == "websocket.close"]
        assert closes == [1001]
        assert ended == ["handler"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_class_source_that_swallows_the_cancel_at_close_ends_quietly() -> None:
    # sse.py _cancel: `except (asyncio.CancelledError, StopIteration, ...)` (mutant S39
    # dropped StopIteration): a stream closed beside a waiting step (at its keep-alive
    # comment) throws the cancel in; a class-based source whose __anext__ catches it
    # and returns ends that step with StopIteration, which must not escape the close
    # ("coroutine raised StopIteration").
    class Source:
        def __init__(self) -> None:
            self.swallowed = False

        def __aiter__(self) -> Source:
            return self

        async def __anext__(self) -> str:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.swallowed = True
                return "late"
            raise AssertionError("unreachable")

    app = Microframework(__name__)
    source = Source()
    async with app.app_context():
        response = event_stream(source, keep_alive=0.001)
    chunks: Any = response.response
    async with asyncio.timeout(5):
        assert await anext(chunks) == b": keep-alive\n\n"
        await chunks.aclose()
    assert source.swallowed
