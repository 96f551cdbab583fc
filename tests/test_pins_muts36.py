"""Pins from mutation testing (helper muts36, session 33) of the lines session 33 changed
in src: _background, _broadcast_redis, _compile, _drain, _lifespan, _utils, app,
broadcast, json.provider, serving, sessions, static, testing.utils, views and
wrappers.request.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s33/muts36/MUTANTS.md).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import threading
import time
from collections.abc import AsyncGenerator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import Rule

from microframework import Microframework
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.sessions import opens_at_once
from microframework.sessions import SecureCookieSessionInterface
from microframework.signals import got_serving_exception
from microframework.typing import Message

LIMIT = 10


def _fail(error: BaseException) -> None:
    raise error


def test_add_background_task_off_the_loop_is_a_runtime_error_of_its_own() -> None:
    # _background.py add_background_task: no running loop raises RuntimeError(...)
    # `from None` (mutants BG2: another type; BG3: without `from None`, the traceback
    # would show asyncio's "no running event loop" first, which says nothing of the fix).
    app = Microframework(__name__)

    async def job() -> None:
        pass

    with pytest.raises(RuntimeError, match="runs on the event loop") as info:
        _ = app.add_background_task(job)
    assert info.value.__suppress_context__


async def test_a_failed_redis_wake_is_not_shared_by_the_next_follower(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _broadcast_redis.py RedisBackend.listen: a new wake when the shared one is
    # `done()` (mutant BR1 reused it): a wake that failed would fail every later
    # follower until the reader next looped (up to its 10 s XREAD).
    async with Broadcast(redis_url) as broadcast, broadcast.subscribe("warm"):
        backend: Any = broadcast._backend
        wake, calls = backend._wake, []

        async def failing_once() -> None:
            calls.append(1)
            if len(calls) == 1:
                raise BroadcastError("the wake failed")
            await wake()

        monkeypatch.setattr(backend, "_wake", failing_once)
        async with asyncio.timeout(LIMIT):
            with pytest.raises(BroadcastError, match="the wake failed"):
                async with broadcast.subscribe("a"):
                    pass
            async with broadcast.subscribe("b") as room:
                await broadcast.publish("b", "heard")
                assert (await anext(room)).data == "heard"
        assert len(calls) == 2


async def test_a_failed_wake_whose_followers_all_left_is_retrieved(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _broadcast_redis.py listen's add_done_callback(_retrieved) and _retrieved's
    # `if not task.cancelled(): task.exception()` (mutants BR4, BR7, BR8): with every
    # follower cancelled, nobody awaits the shared wake; its failure would be logged as
    # "Task exception was never retrieved".
    async with Broadcast(redis_url) as broadcast, broadcast.subscribe("warm"):
        backend: Any = broadcast._backend
        called, gate = asyncio.Event(), asyncio.Event()
        wakes: list[asyncio.Task[Any] | None] = []

        async def held() -> None:
            wakes.append(asyncio.current_task())  # (the reader may drop _waking first)
            called.set()
            await gate.wait()
            raise BroadcastError("the wake failed")

        monkeypatch.setattr(backend, "_wake", held)

        async def follow() -> None:
            async with broadcast.subscribe("a"):
                pass

        follower = asyncio.create_task(follow())
        async with asyncio.timeout(LIMIT):
            await called.wait()
        (waking,) = wakes
        assert waking is not None
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        gate.set()
        async with asyncio.timeout(LIMIT):
            while not waking.done():
                await asyncio.sleep(0)
        await asyncio.sleep(0)  # its done callbacks run
        assert not waking._log_traceback  # retrieved: nothing logged when it goes


async def test_a_wake_pending_as_the_reader_loops_is_not_shared_by_later_followers(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _broadcast_redis.py RedisBackend._read: `self._waking = None` as it builds each
    # XREAD (mutant BR6 kept it): a channel followed after that XREAD was built would
    # wait for an older wake, which that XREAD may never hear (here: held back).
    async with Broadcast(redis_url) as broadcast, broadcast.subscribe("warm") as warm:
        backend: Any = broadcast._backend
        read, reading = backend._reader.xread, asyncio.Event()

        async def xread(streams: dict[str, str], **options: Any) -> Any:
            reading.set()
            return await read(streams, **options)

        monkeypatch.setattr(backend._reader, "xread", xread)
        wake, called, gate = backend._wake, asyncio.Event(), asyncio.Event()

        async def held_first() -> None:
            if not called.is_set():
                called.set()
                await gate.wait()  # the first wake's XADD still on its way
            await wake()

        monkeypatch.setattr(backend, "_wake", held_first)

        async def follow() -> None:
            async with broadcast.subscribe("a"):
                await asyncio.Event().wait()

        first = asyncio.create_task(follow())
        try:
            async with asyncio.timeout(LIMIT):
                await called.wait()
                reading.clear()
                await broadcast.publish("warm", "in")  # the reader loops: a new XREAD
                await anext(warm)
                await reading.wait()
            async with asyncio.timeout(5), broadcast.subscribe("b") as room:
                await broadcast.publish("b", "heard")
                assert (await anext(room)).data == "heard"
        finally:
            gate.set()
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)


async def test_the_rules_of_one_endpoint_share_its_compiled_view_and_chain() -> None:
    # _compile.py compile_tables/_rule_endpoint: the `views` table an endpoint's rules
    # share (mutants CP2: not passed, CP12: never read, CP13: never filled): each rule
    # would compile the view (a sync one's worker wrapper) and hook chain again.
    app = Microframework(__name__)

    @app.get("/one")
    @app.get("/two")
    @app.get("/three/<int:n>")
    def index(n: int = 0) -> str:
        return "ok"

    client = app.test_client()
    assert (await client.get("/three/3")).status_code == 200
    compiled: Any = app.compiled
    ends = [compiled.by_rule[id(r)] for r in app.url_map.iter_rules("index")]
    assert len(ends) == 3
    assert len({id(e.view) for e in ends}) == 1
    assert len({id(e.chain) for e in ends}) == 1


async def test_a_matched_rule_is_compiled_once_not_per_request() -> None:
    # _compile.py match_request: `compiled.by_rule.get(id(rule)) or _rule_endpoint(...)`
    # (mutant CP9 always compiled it again): each request would build the view's
    # wrapper and its Endpoint anew.
    app = Microframework(__name__)

    @app.get("/item/<int:n>")
    def item(n: int) -> str:
        return str(n)

    client = app.test_client()
    assert await (await client.get("/item/1")).get_data() == b"1"
    compiled: Any = app.compiled
    (rule,) = app.url_map.iter_rules("item")
    endpoint = compiled.by_rule[id(rule)]
    for n in (2, 3):
        assert await (await client.get(f"/item/{n}")).get_data() == str(n).encode()
    assert compiled.by_rule[id(rule)] is endpoint
    assert id(app.compiled) == id(compiled)  # (not compiled again meanwhile)


async def test_the_mount_point_itself_is_served_by_a_slash_rule_without_strict_slashes() -> (
    None
):
    # _compile.py match_request: an AtMountPoint path goes to _match_mount_point (mutant
    # CP22 answered None, a 404): "/app" under root_path "/app" is werkzeug's empty
    # path, which a "/" rule with strict_slashes=False serves, as under Flask's
    # DispatcherMiddleware.
    app = Microframework(__name__)

    @app.get("/", strict_slashes=False)
    async def index() -> str:
        return "index"

    async with app.test_app():
        sent = await call(app, http_scope("/app", root_path="/app"))
    assert (sent.status, sent.body) == (200, b"index")


async def test_a_rule_added_to_the_url_map_by_hand_has_no_automatic_options() -> None:
    # _compile.py _rule_endpoint: `getattr(rule, "provide_automatic_options", False)`
    # (mutant CP15 defaulted to True): a werkzeug Rule added to url_map by hand, which
    # lists OPTIONS, has its view answer it, as in Flask.
    app = Microframework(__name__)
    app.url_map.add(Rule("/raw", endpoint="raw", methods=["GET", "OPTIONS"]))

    async def raw() -> str:
        return "view"

    app.view_functions["raw"] = raw
    response = await app.test_client().options("/raw")
    assert await response.get_data() == b"view"


async def test_a_rule_added_late_serves_the_mount_point_itself() -> None:
    # _compile.py _match_mount_point: `by_rule.get(id(rule)) or _rule_endpoint(...)`
    # (mutant CP21 dropped the fallback): a rule added to url_map after the first
    # request, matched at the mount point, had no endpoint (a 500), where Flask
    # serves it.
    app = Microframework(__name__)

    @app.get("/other")
    async def other() -> str:
        return "other"

    async def index() -> str:
        return "index"

    app.view_functions["index"] = index
    async with app.test_app():
        first = await call(app, http_scope("/app/other", root_path="/app"))
        app.url_map.add(Rule("/", endpoint="index", strict_slashes=False))
        sent = await call(app, http_scope("/app", root_path="/app"))
    assert (first.status, sent.status, sent.body) == (200, 200, b"index")


async def test_a_failed_startup_closes_every_started_generator_newest_first() -> None:
    # _lifespan.py _close_generators: `while app.serving_generators` and `pop()`
    # (mutants LF6: `if`, only the newest closed; LF7: `pop(0)`, oldest first): each
    # started while_serving generator's cleanup runs, in reverse, as at shutdown.
    app = Microframework(__name__)
    closed: list[str] = []

    def serving(name: str) -> Callable[[], AsyncGenerator[None, None]]:
        async def gen() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                closed.append(name)

        return gen

    app.while_serving(serving("one"))
    app.while_serving(serving("two"))

    @app.while_serving
    async def failing() -> AsyncGenerator[None, None]:
        _fail(LookupError("no database"))
        yield

    sent = await _lifespan(app, "startup")
    assert sent[0]["message"] == "LookupError: no database"
    assert closed == ["two", "one"]
    assert app.serving_generators == []


async def _lifespan(app: Microframework, *steps: str) -> list[Message]:
    inbox: list[Message] = [{"type": f"lifespan.{step}"} for step in reversed(steps)]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop()

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent


async def test_keyboard_interrupt_in_before_serving_is_a_failed_startup() -> None:
    # _lifespan.py _FAILURES holds KeyboardInterrupt (mutant LF3 dropped it): like
    # SystemExit, it would leave the app, which uvicorn's --lifespan auto takes for
    # no lifespan support, and serve the app unstarted.
    app = Microframework(__name__)

    @app.before_serving
    async def interrupted() -> None:
        raise KeyboardInterrupt

    sent = await _lifespan(app, "startup")
    assert sent == [
        {"type": "lifespan.startup.failed", "message": "KeyboardInterrupt: "}
    ]


def test_a_subclass_still_runs_the_other_bases_init_subclass() -> None:
    # app.py Microframework.__init_subclass__: `super().__init_subclass__(**kwargs)`
    # (mutant AP2 dropped it): a mixin after Microframework among the bases would
    # never see its subclasses (a plugin registry, a class keyword).
    seen: list[tuple[str, Any]] = []

    class Registered:
        def __init_subclass__(cls, **kwargs: Any) -> None:
            seen.append((cls.__name__, kwargs.pop("flavour", None)))
            super().__init_subclass__(**kwargs)

    class App(Microframework, Registered, flavour="plain"):
        pass

    assert seen == [("App", "plain")]
    assert App.__name__ == "App"


def test_a_copy_of_an_app_not_initialised_yet_is_made() -> None:
    # app.py Microframework.__copy__: `if "view_functions" in twin.__dict__` (mutant AP4
    # made it `if True`): before __init__ there is no view_functions to share, and
    # reading it raises AttributeError.
    bare = object.__new__(Microframework)
    twin = copy.copy(bare)
    assert type(twin) is Microframework
    assert not hasattr(twin, "view_functions")


async def _cut_off_sync_view(
    then: Callable[[list[asyncio.Task[Any]]], None], fail: bool
) -> list[dict[str, Any]]:
    # A plain view cut off by RESPONSE_TIMEOUT while its thread runs; *then* is given
    # the view's own task (still awaiting the thread); what the loop's exception handler
    # was given is returned.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.01
    release, finished = threading.Event(), threading.Event()

    @app.get("/")
    def slow() -> str:
        try:
            release.wait(10)
            if fail:
                raise LookupError("late")
            return "late"
        finally:
            finished.set()

    loop = asyncio.get_running_loop()
    handled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, context: handled.append(context))
    try:
        response = await app.test_client().get("/")
        assert response.status_code == 504
        then([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])
        release.set()
        async with asyncio.timeout(LIMIT):
            while not finished.is_set():
                await asyncio.sleep(0)
            for _ in range(
                5
            ):  # the thread's result reaches the task, its callbacks run
                await asyncio.sleep(0)
    finally:
        release.set()
        loop.set_exception_handler(None)
    return handled


async def test_a_cut_off_plain_view_failing_later_is_not_an_error_in_a_callback() -> (
    None
):
    # _utils.py _close_returned_coroutine: `... and step.exception() is None` (mutant
    # UT4 dropped it): the thread failing after the client was answered made
    # step.result() raise inside the callback, logged as "Exception in callback".
    handled = await _cut_off_sync_view(lambda tasks: None, fail=True)
    assert handled == []


async def test_a_cut_off_plain_views_task_cancelled_is_not_an_error_in_a_callback() -> (
    None
):
    # _utils.py _close_returned_coroutine: `not step.cancelled() and ...` (mutants UT6
    # dropped it, UT7 made it `or`): the view's task cancelled (the loop closing)
    # made step.exception() raise CancelledError inside the callback.
    def cancel(tasks: list[asyncio.Task[Any]]) -> None:
        assert tasks
        for task in tasks:
            task.cancel()

    handled = await _cut_off_sync_view(cancel, fail=False)
    assert handled == []


async def test_a_channels_expired_events_dropped_at_its_publish_leave_the_byte_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # broadcast.py _MemoryBackend.publish: `self._bytes -= _size(events.popleft())`
    # (mutant BC16 only popped): the history's byte count kept the expired events, and
    # history_bytes would push out events still fresh.
    now = [time.time_ns()]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    async with Broadcast("memory://", history_ttl=60) as broadcast:
        for n in range(3):
            await broadcast.publish("a", f"old {n}")
        now[0] += 61 * 10**9
        await broadcast.publish("a", "new")
        backend: Any = broadcast._backend
        assert [event.data for event in backend._history["a"]] == ["new"]
        held = backend._bytes
    async with Broadcast("memory://", history_ttl=60) as fresh:
        await fresh.publish("a", "new")  # what "new" alone counts
        assert held == fresh._backend._bytes  # type: ignore[union-attr]


def test_a_coroutine_met_while_encoding_json_is_a_type_error() -> None:
    # json/provider.py _default: a coroutine raises TypeError (mutant JP3: ValueError):
    # json.dumps' callers (jsonify, a session's serializer) catch TypeError for what
    # cannot be encoded, as for any other object.
    app = Microframework(__name__)

    async def body() -> dict[str, Any]:
        return {}

    coroutine = body()
    with pytest.raises(TypeError, match="missing 'await'"):
        app.json.dumps({"data": coroutine})
    assert inspect.getcoroutinestate(coroutine) == "CORO_CLOSED"


async def test_sys_exit_in_after_serving_is_reported_as_a_failed_shutdown() -> None:
    # _lifespan.py shutdown: `except _FAILURES` (mutant LF11: `except Exception`): a
    # SystemExit in after_serving still failed the shutdown, unreported: no
    # got_serving_exception, no "Shutdown failed" log.
    app = Microframework(__name__)
    reported: list[BaseException] = []

    @app.after_serving
    async def close_pool() -> None:
        raise SystemExit("pool would not close")

    async def receiver(sender: Any, exception: BaseException, **extra: Any) -> None:
        reported.append(exception)

    got_serving_exception.connect(receiver, app)
    try:
        sent = await _lifespan(app, "startup", "shutdown")
    finally:
        got_serving_exception.disconnect(receiver, app)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {
            "type": "lifespan.shutdown.failed",
            "message": "SystemExit: pool would not close",
        },
    ]
    assert [type(exc) for exc in reported] == [SystemExit]


async def test_a_keyboard_interrupt_in_a_generators_cleanup_is_not_swallowed() -> None:
    # _lifespan.py _close_generators: `contextlib.suppress(Exception)` (mutant LF13:
    # BaseException): a cleanup's KeyboardInterrupt (or the task's cancellation) was
    # swallowed, and the startup's own error reported as if nothing else happened.
    app = Microframework(__name__)

    @app.while_serving
    async def interrupted() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            raise KeyboardInterrupt

    @app.while_serving
    async def failing() -> AsyncGenerator[None, None]:
        _fail(LookupError("no database"))
        yield

    try:
        sent = await _lifespan(app, "startup")
    finally:
        installed = bool(app.drain._installed)
        app.drain.uninstall()
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    assert sent[0]["message"].startswith("KeyboardInterrupt")
    # The rest of the failed startup's clean-up still ran (muts36 1, session 33).
    assert not installed and app.shutdown_event.is_set()


async def test_a_channels_expired_events_go_though_a_later_one_is_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # broadcast.py _MemoryBackend.publish: the loop tests the oldest event,
    # `events[0]` (mutant BC17 tested the newest, `events[-1]`): expired events before
    # a fresh one stayed, counted against history_bytes.
    now = [time.time_ns()]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    async with Broadcast("memory://", history_ttl=60) as broadcast:
        await broadcast.publish("a", "old")
        now[0] += 30 * 10**9
        await broadcast.publish("a", "fresh")
        now[0] += 1 * 10**9
        await broadcast.publish("b", "fresh")  # the channel _expire looks at first
        now[0] += 30 * 10**9  # "old" is past the TTL, "fresh" is not
        await broadcast.publish("a", "new")
        backend: Any = broadcast._backend
        assert [event.data for event in backend._history["a"]] == ["fresh", "new"]


def test_a_worker_whose_shutdown_fails_says_it_failed_to_shut_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # serving.py _worker: `_lifespan_failure(error)` (mutant SV2 said "failed to start"
    # as before): a worker process (--workers, the reloader's) whose after_serving
    # failed told the user the app had failed to start.
    import hypercorn.asyncio.run
    from hypercorn.utils import LifespanFailureError

    from microframework import serving

    def asyncio_worker(config: Any, sockets: Any) -> None:
        raise LifespanFailureError("shutdown", "pool would not close")

    monkeypatch.setattr(hypercorn.asyncio.run, "asyncio_worker", asyncio_worker)
    monkeypatch.delenv(serving.SERVE_MAIN_ENV, raising=False)
    monkeypatch.delenv(serving.LOAD_ERROR_ENV, raising=False)
    with pytest.raises(SystemExit) as info:
        serving._worker(None, None)
    assert info.value.code == 1
    assert "The app failed to shut down: Lifespan failure in shutdown" in (
        capsys.readouterr().err
    )


def test_opens_at_once_reads_the_nearest_word_on_it_through_the_classes() -> None:
    # sessions.py opens_at_once: the instance, then each class of the MRO, nearest
    # first; in one namespace, its declaration before its open_session (mutants SS1:
    # no instance, SS2: only the class itself, SS8: open_session first).
    class Plain(SecureCookieSessionInterface):
        pass

    class OwnOpen(SecureCookieSessionInterface):
        async def open_session(self, app: Any, request: Any) -> Any:
            return None

    class Declared(SecureCookieSessionInterface):
        opens_without_waiting = True

        async def open_session(self, app: Any, request: Any) -> Any:
            return None

    class Below(OwnOpen):
        pass

    assert opens_at_once(SecureCookieSessionInterface())
    assert opens_at_once(Plain())  # the cookie interface's own open_session
    assert not opens_at_once(OwnOpen())
    assert not opens_at_once(Below())
    assert opens_at_once(Declared())
    waits = Plain()
    waits.opens_without_waiting = False
    assert not opens_at_once(waits)


async def test_the_test_clients_json_body_is_dumped_by_the_apps_provider() -> None:
    # testing/utils.py make_test_body_with_headers: `app.json.dumps(json)` when there
    # is an app (mutant TU3: the stdlib's always): a dataclass, which the app's provider
    # (and Flask's test client) encodes, would be a TypeError before any request.
    app = Microframework(__name__)

    @dataclass
    class Point:
        x: int
        y: int

    @app.post("/")
    async def echo() -> bytes:
        from microframework import request

        return await request.get_data()

    response = await app.test_client().post("/", json={"at": Point(1, 2)})
    assert await response.get_data() == b'{"at": {"x": 1, "y": 2}}'


@pytest.mark.parametrize("then", ["get_body_file", "get_data", "body"])
async def test_each_read_after_a_form_limits_413_raises_it_again(then: str) -> None:
    # wrappers/request.py get_body_file: `self._start_body()` when the body failed
    # (mutant RQ8 passed: b""), and get_data / _iter_body after a form's 413: the rest
    # of a body the form parser gave up on is no body, as in Flask and Quart.
    from microframework import request

    app = Microframework(__name__)
    app.config["MAX_FORM_MEMORY_SIZE"] = 5
    seen: list[str] = []

    async def read_again() -> Any:
        if then == "get_body_file":
            return (await request.get_body_file()).read()
        if then == "get_data":
            return await request.get_data()
        return b"".join([chunk async for chunk in request.body])

    @app.post("/")
    async def view() -> str:
        for read in (lambda: request.form, read_again):
            try:
                seen.append(repr(await read()))
            except RequestEntityTooLarge as error:
                seen.append(f"413 {error.description}")
        return "read"

    await app.test_client().post("/", form={"a": "x" * 50, "b": "y" * 50})
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0].startswith("413 ")


async def test_the_failure_a_request_keeps_for_later_reads_holds_no_frames() -> None:
    # wrappers/request.py drop_at_end: `self._body_failed = copy.copy(failure)` (mutant
    # RQ7 kept the raised one), and each later read raises a copy (RQ20, RQ21 raised it
    # itself): its traceback held the view's frames, and they the request.
    from microframework import request

    app = Microframework(__name__)
    app.config["MAX_FORM_MEMORY_SIZE"] = 5
    kept: list[Any] = []

    @app.post("/")
    async def view() -> str:
        with pytest.raises(RequestEntityTooLarge):
            await request.form
        for read in (lambda: request.form, request.get_data, _iterated):  # again
            with pytest.raises(RequestEntityTooLarge):
                await read()
        kept.append(request._get_current_object()._body_failed)  # type: ignore[attr-defined]
        return "read"

    await app.test_client().post("/", form={"a": "x" * 50})
    assert isinstance(kept[0], RequestEntityTooLarge)
    assert kept[0].__traceback__ is None


async def test_a_read_after_a_body_timeout_times_out_again() -> None:
    # wrappers/request.py _BODY_FAILURES holds BodyTimeout (mutant RQ16 dropped it):
    # a second read of a body that timed out said "already consumed", not the 408.
    from microframework import request

    app = Microframework(__name__)
    app.config["BODY_TIMEOUT"] = 0.01
    seen: list[str] = []

    @app.post("/")
    async def view() -> str:
        for _ in range(2):
            try:
                await request.get_data()
            except Exception as error:
                seen.append(type(error).__name__)
        return "read"

    recorder = Recorder(b"a=", more_last=True)  # the rest never comes
    task = asyncio.create_task(call(app, http_scope("/", "POST"), recorder))
    async with asyncio.timeout(LIMIT):
        await recorder.body_sent.wait()
        recorder.disconnect()
        await task
    assert seen == ["BodyTimeout", "BodyTimeout"]


async def test_a_body_read_whole_stays_readable_after_the_forms_413() -> None:
    # wrappers/request.py get_body_file: `self._data is None and self._body_failed`
    # (mutant RQ9 dropped `_data is None`): a body read and cached before the form
    # parser's 413 is still the body, as werkzeug's cached data is.
    from microframework import request

    app = Microframework(__name__)
    app.config["MAX_FORM_MEMORY_SIZE"] = 5
    seen: list[Any] = []

    @app.post("/")
    async def view() -> str:
        seen.append(await request.get_data())
        with pytest.raises(RequestEntityTooLarge):
            await request.form
        seen.append((await request.get_body_file()).read())
        seen.append(await request.get_data())
        return "read"

    await app.test_client().post("/", form={"a": "x" * 50})
    assert seen == [b"a=" + b"x" * 50] * 3


async def test_a_read_cut_off_by_the_views_own_timeout_is_not_raised_again() -> None:
    # wrappers/request.py _BODY_FAILURES: only a 413, a 408 or a disconnect is the
    # body's failure (mutant RQ18: any BaseException): the CancelledError of a read the
    # view itself timed out was raised again by the next read, as if the view were
    # being cancelled.
    from microframework import request

    app = Microframework(__name__)
    seen: list[str] = []

    @app.post("/")
    async def view() -> str:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await request.get_data()
        try:
            seen.append(repr(await request.get_data()))
        except BaseException as error:  # (what a CancelledError would be)
            seen.append(type(error).__name__)
        return "read"

    recorder = Recorder(b"a=", more_last=True)  # the rest never comes
    task = asyncio.create_task(call(app, http_scope("/", "POST"), recorder))
    async with asyncio.timeout(LIMIT):
        await recorder.body_sent.wait()
        recorder.disconnect()
        await task
    assert len(seen) == 1 and seen[0] != "CancelledError"


async def _iterated() -> bytes:
    from microframework import request

    return b"".join([chunk async for chunk in request.body])


async def test_a_read_after_a_413_met_while_iterating_the_body_raises_it_again() -> (
    None
):
    # wrappers/request.py _iter_body: `self.drop_at_end(error)` (mutant RQ1 dropped the
    # error): a body over MAX_CONTENT_LENGTH met by `async for request.body` was not
    # the body's failure, and a later get_data() said "already consumed".
    from microframework import request

    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10
    seen: list[str] = []

    @app.post("/")
    async def view() -> str:
        for read in (_iterated, request.get_data):
            try:
                seen.append(repr(await read()))
            except Exception as error:
                seen.append(type(error).__name__)
        return "read"

    chunked = [(b"transfer-encoding", b"chunked")]
    await call(app, http_scope("/", "POST", chunked), Recorder(b"x" * 8, b"y" * 8))
    assert seen == ["RequestEntityTooLarge"] * 2
