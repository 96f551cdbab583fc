"""Pins from mutation testing (helper muts34, session 32) of the hunks session 32
changed: the access log's filter, compiled session saving, copies sharing
view_functions, body reads, sessions, templating, globals and the test client's cookies.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s32/muts34/MUTANTS.md).
"""

from __future__ import annotations

import copy
import gc
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from microframework import Microframework
from microframework.sessions import SecureCookieSessionInterface


@contextmanager
def _root_catcher(level: int = logging.NOTSET) -> Iterator[list[logging.LogRecord]]:
    # The root logger's handlers (pytest's among them, added for each test's call)
    # replaced by one that keeps what it takes.
    root = logging.getLogger()
    seen: list[logging.LogRecord] = []

    class Catcher(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    catcher = Catcher(level)
    kept = root.handlers[:]
    root.handlers = [catcher]
    try:
        yield seen
    finally:
        root.handlers = kept


def _hypercorn_logger(errorlog: str = "-") -> Any:
    from microframework._accesslog import logged_config

    config = logged_config()
    config.errorlog = errorlog
    return config.logger_class(config)


async def _hypercorn_warns(errorlog: str = "-") -> None:
    await _hypercorn_logger(errorlog).warning("Running on http://127.0.0.1:1")


async def test_an_error_log_file_gets_records_a_root_handler_also_takes(
    tmp_path: Path,
) -> None:
    # _accesslog.EscapingLogger.__init__: only errorlog "-" (stderr) gets the filter;
    # a file named by errorlog keeps every record (mutant A02 filtered any errorlog).
    target = tmp_path / "error.log"
    with _root_catcher() as root_catcher:
        await _hypercorn_warns(str(target))
    error_logger = logging.getLogger("hypercorn.error")
    for handler in error_logger.handlers:
        handler.close()
    error_logger.handlers = []  # (the next hypercorn Logger sets its own)
    assert "Running on" in target.read_text()
    assert len(root_catcher) == 1


async def test_hypercorns_handler_prints_when_its_logger_does_not_propagate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # _accesslog._UnlessHandledAbove.filter: `self.logger.parent if
    # self.logger.propagate`: records that never reach the root are printed by
    # hypercorn's handler (mutant A04 asked the root's handlers anyway: none printed).
    logger = _hypercorn_logger()
    logger.error_logger.propagate = False  # (hypercorn sets it when it builds one)
    try:
        with _root_catcher() as root_catcher:
            await logger.warning("Running on http://127.0.0.1:1")
    finally:
        logger.error_logger.propagate = True
    assert capsys.readouterr().err.count("Running on") == 1
    assert root_catcher == []


async def test_hypercorns_handler_prints_when_a_logger_between_does_not_propagate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # _accesslog._UnlessHandledAbove.filter: `above.parent if above.propagate`: a
    # "hypercorn" logger that stops propagation hides the root's handler (mutant A07
    # climbed past it: the record was printed by no one).
    middle = logging.getLogger("hypercorn")
    middle.propagate = False
    try:
        with _root_catcher() as root_catcher:
            await _hypercorn_warns()
    finally:
        middle.propagate = True
    assert capsys.readouterr().err.count("Running on") == 1
    assert root_catcher == []


async def test_a_root_handler_above_an_empty_middle_logger_still_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # _accesslog._UnlessHandledAbove.filter: the loop climbs every logger above, not
    # only the parent: an existing "hypercorn" logger without handlers lies between
    # hypercorn.error and the root (mutant A08 stopped there and printed twice).
    logging.getLogger("hypercorn")
    with _root_catcher() as root_catcher:
        await _hypercorn_warns()
    assert capsys.readouterr().err.count("Running on") == 0
    assert len(root_catcher) == 1


async def test_a_root_handler_at_the_records_own_level_takes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # _accesslog._prints: `handler.level <= record.levelno`: a WARNING handler prints
    # a WARNING record, so hypercorn's does not (mutant A09, `<`, printed it twice).
    with _root_catcher(logging.WARNING) as root_catcher:
        await _hypercorn_warns()
    assert capsys.readouterr().err.count("Running on") == 0
    assert len(root_catcher) == 1


async def test_a_subclass_of_null_handler_may_print(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # _accesslog._prints: `handler.__class__ is not NullHandler`: only NullHandler
    # itself is known to print nothing; a subclass may (mutant A14, isinstance,
    # counted it as silent: its record was printed twice).
    seen: list[logging.LogRecord] = []

    class Printing(logging.NullHandler):
        def handle(self, record: logging.LogRecord) -> bool:
            seen.append(record)
            return True

    root = logging.getLogger()
    kept = root.handlers[:]
    root.handlers = [Printing()]
    try:
        await _hypercorn_warns()
    finally:
        root.handlers = kept
    assert capsys.readouterr().err.count("Running on") == 0
    assert len(seen) == 1


@pytest.mark.parametrize("hooked", [False, True])
async def test_a_lazy_interface_saving_as_the_base_is_not_opened_for_an_unused_session(
    hooked: bool,
) -> None:
    # _compile.compile_tables: `saves_always = not eager_sessions and
    # saves_its_own_way(interface)`, and _responses.process_response's
    # `app.compiled.saves_always`: a lazy interface whose saving is the base's is
    # opened only if the session is used or its cookie sent (mutants C03, C04: every
    # lazy interface saved always; R02, R03: process_response opened it each time).
    opened: list[str] = []

    class Counting(SecureCookieSessionInterface):
        opens_without_waiting = True  # its open_session never waits

        async def open_session(self, app: Any, request: Any) -> Any:
            opened.append(request.path)
            return await super().open_session(app, request)

    app = Microframework(__name__, static_folder=None)
    app.secret_key = "k"
    app.session_interface = Counting()

    @app.get("/")
    async def index() -> str:
        return "ok"

    if hooked:  # process_response runs (not the fast path's shortcut)
        app.after_request(lambda response: response)

    client = app.test_client()
    for _ in range(2):
        response = await client.get("/")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert opened == []


async def test_the_cookie_stores_save_runs_on_the_loops_thread() -> None:
    # _responses.call_session_method: the cookie interface's own save_session (found
    # by identity since review13), a plain def doing no I/O, is called on the loop
    # (mutant R06 sent it to a worker thread).
    import threading

    threads: list[threading.Thread] = []

    class Recording(SecureCookieSessionInterface):
        def get_cookie_domain(self, app: Any) -> str | None:
            threads.append(threading.current_thread())
            return super().get_cookie_domain(app)

    app = Microframework(__name__, static_folder=None)
    app.secret_key = "k"
    app.session_interface = Recording()

    @app.get("/")
    async def index() -> str:
        from microframework import session

        session["a"] = 1
        return "ok"

    response = await app.test_client().get("/")
    assert "Set-Cookie" in response.headers
    assert threads and all(t is threading.current_thread() for t in threads)


def test_a_copy_of_the_app_is_not_kept_alive_by_the_views_it_shares() -> None:
    # _compile.ViewFunctions.__init__: `self.apps = WeakSet((app,))`: the shared
    # views do not hold the copies (mutant C07, a set, kept every copy.copy(app)).
    app = Microframework(__name__, static_folder=None)
    twin = copy.copy(app)
    gone = weakref.ref(twin)
    del twin
    gc.collect()
    assert gone() is None
    assert list(app.view_functions.apps) == [app]


def test_view_functions_on_the_class_is_its_descriptor() -> None:
    # _compile.ViewsOfTheApp.__get__: `self if app is None`: the class attribute
    # reads as the descriptor, as for a property (mutant C11 raised AttributeError
    # from None.__dict__); mock.create_autospec(Microframework) reads it.
    from unittest import mock

    from microframework._compile import ViewsOfTheApp

    descriptor = Microframework.__dict__["view_functions"]
    assert isinstance(descriptor, ViewsOfTheApp)
    owner: Any = Microframework  # (typed as the instance's ViewFunctions)
    assert owner.view_functions is descriptor
    assert mock.create_autospec(Microframework) is not None


async def test_before_cancels_its_timer_once_the_awaitable_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _utils.before: `finally: handle.cancel()`: a read that finished in time leaves
    # no timer that would cancel the task later, at the deadline, in whatever it then
    # awaits (mutant U06 left it armed).
    import asyncio

    from microframework._utils import before

    loop = asyncio.get_running_loop()
    handles: list[asyncio.TimerHandle] = []
    call_at = loop.call_at

    def recording(when: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        handle = call_at(when, *args, **kwargs)
        handles.append(handle)
        return handle

    monkeypatch.setattr(loop, "call_at", recording)
    future: asyncio.Future[str] = loop.create_future()
    loop.call_soon(future.set_result, "read")
    assert await before(future, loop.time() + 60, TimeoutError) == "read"
    assert len(handles) == 1
    assert handles[0].cancelled()


async def test_before_raises_its_error_at_the_deadline_itself() -> None:
    # _utils.before: `loop.call_at(deadline, ...)`: a deadline already passed fails
    # the wait at the loop's next turn (mutant U08, a second later, let a result that
    # came half a second late through).
    import asyncio

    from microframework._utils import before

    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()
    late = loop.call_later(0.5, future.set_result, "late")
    try:
        with pytest.raises(LookupError):
            await before(future, loop.time(), LookupError)
    finally:
        late.cancel()


def _http_scope(headers: list[tuple[bytes, bytes]], **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "extensions": {},
    }
    scope.update(extra)
    return scope


def _late_request(
    scope: dict[str, Any], messages: list[dict[str, Any]], *, responded: bool = True
) -> Any:
    # A request read after the dispatcher's response went (asgi_send set to None, as
    # _dispatch does), or one made by hand (no asgi_send of its own).
    from microframework.wrappers.request import Request

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    made = Request(scope, receive, None)
    if responded:
        made.asgi_send = None
    return made


_ABC = [{"type": "http.request", "body": b"abc", "more_body": False}]


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        ([(b"content-length", b"3")], {}),  # mutants Q05, Q06
        ([(b"transfer-encoding", b"chunked")], {}),  # mutant Q12
        ([], {"http_version": "2"}),  # mutant Q07
    ],
)
async def test_a_late_read_of_a_body_that_may_be_there_reads_it(
    headers: list[tuple[bytes, bytes]], extra: dict[str, Any]
) -> None:
    # wrappers/request.Request._start_body: after the response, only an HTTP/1.x
    # body announced by no framing header (Request._framed: a Transfer-Encoding or a
    # Content-Length other than 0) is empty at once; an announced body, or HTTP/2's,
    # is still read (mutants Q05, Q06: framing ignored; Q12: Transfer-Encoding not
    # framing; Q07: HTTP/2 taken for HTTP/1.x).
    late = _late_request(_http_scope(headers, **extra), list(_ABC))
    assert await late.get_data() == b"abc"


async def test_a_request_made_by_hand_without_framing_reads_its_receive() -> None:
    # wrappers/request.Request._start_body: `"asgi_send" in self.__dict__`: only a
    # request the dispatcher answered (asgi_send set, then None) skips the read; one
    # made by hand, never dispatched, reads what its receive gives (mutant Q01 made
    # its body empty).
    made = _late_request(_http_scope([]), list(_ABC), responded=False)
    assert await made.get_data() == b"abc"


async def test_a_late_read_without_http_version_is_http_1_1() -> None:
    # wrappers/request.Request._start_body: `scope.get("http_version", "1.1")`: a
    # scope without the key (ASGI's default, 1.1) has no unannounced body, so the
    # late read needs no message (mutant Q08, default "2", read and heard the
    # disconnect: ClientDisconnected).
    scope = _http_scope([])
    del scope["http_version"]
    late = _late_request(scope, [])
    assert await late.get_data() == b""


# Each registration method's keyword for the function, as Quart 0.22 and Flask 3.1.
_KEYWORDS = {
    "before_app_request": "f",
    "after_app_request": "f",
    "teardown_app_request": "f",
    "app_context_processor": "f",
    "app_url_value_preprocessor": "f",
    "app_url_defaults": "f",
    "before_app_websocket": "func",
    "after_app_websocket": "func",
    "teardown_app_websocket": "func",
    "before_app_serving": "func",
    "after_app_serving": "func",
    "while_app_serving": "func",
    "before_request": "f",
    "after_request": "f",
    "teardown_request": "f",
    "context_processor": "f",
    "url_value_preprocessor": "f",
    "url_defaults": "f",
    "before_websocket": "func",
    "after_websocket": "func",
    "teardown_websocket": "func",
}


@pytest.mark.parametrize("name", sorted(_KEYWORDS))
def test_each_registration_method_takes_quarts_and_flasks_keyword(name: str) -> None:
    # blueprints._on_app: `"websocket" in name or "serving" in name` keep Quart's
    # `func`, the others take Flask's `f` (mutant B02 gave the websocket ones `f`);
    # scaffold._hook likewise by `"websocket" not in name`.
    import inspect

    from microframework import Blueprint

    owner: Any = Blueprint if "app" in name.split("_") else Microframework
    method = getattr(owner, name)
    assert list(inspect.signature(method).parameters)[1] == _KEYWORDS[name]
    target = owner("bp", __name__) if owner is Blueprint else owner(__name__)
    registered = getattr(target, name)(**{_KEYWORDS[name]: lambda *args: None})
    assert callable(registered)


def test_a_blueprints_app_template_test_and_global_keep_their_given_names() -> None:
    # blueprints.add_app_template_test / add_app_template_global: `name=name` is
    # passed on to the app's (mutants B10, B11 registered under the function's own
    # name).
    from microframework import Blueprint

    def is_odd(value: int) -> bool:
        return value % 2 == 1

    def twice(value: int) -> int:
        return 2 * value

    app = Microframework(__name__)
    bp = Blueprint("bp", __name__)
    bp.add_app_template_filter(twice, name="double")
    bp.add_app_template_test(is_odd, name="odd_one")
    bp.add_app_template_global(twice, name="times_two")
    app.register_blueprint(bp)
    assert app.jinja_env.filters["double"] is twice
    assert app.jinja_env.tests["odd_one"] is is_odd
    assert app.jinja_env.globals["times_two"] is twice
    assert "is_odd" not in app.jinja_env.tests
    assert "twice" not in app.jinja_env.globals


def test_a_blueprints_own_view_replaces_the_apps_of_the_same_endpoint() -> None:
    # blueprints.Blueprint.register: `app.view_functions[endpoint] = func`: a view put
    # into bp.view_functions wins over the app's of that endpoint, as in Flask 3.1
    # and Quart 0.22 (mutant B06, setdefault, kept the app's).
    from microframework import Blueprint

    def old() -> str:
        return "old"

    def new() -> str:
        return "new"

    app = Microframework(__name__)
    app.view_functions["bp.select"] = old
    bp = Blueprint("bp", __name__)
    bp.view_functions["bp.select"] = new
    app.register_blueprint(bp)
    assert app.view_functions["bp.select"] is new


@pytest.mark.parametrize("method", ["save_session", "should_set_cookie"])
async def test_an_interface_instances_own_saving_runs_after_every_request(
    method: str,
) -> None:
    # sessions.saves_its_own_way: `save_session` or `should_set_cookie` set on the
    # interface instance itself count as its own saving, run after every request, as
    # Flask calls them (mutant E03 looked only at the class; E04 missed the
    # instance's should_set_cookie, E05 its save_session).
    asked: list[str] = []

    class WithDefaults(SecureCookieSessionInterface):
        # A session with a value before any cookie: should_set_cookie is asked.
        async def open_session(self, app: Any, request: Any) -> Any:
            session = await super().open_session(app, request)
            if session is not None:
                session.setdefault("lang", "en")
            return session

    interface = WithDefaults()
    if method == "save_session":
        base = interface.save_session

        def save_session(app: Any, session: Any, response: Any) -> Any:
            asked.append("save")
            return base(app, session, response)

        interface.save_session = save_session  # type: ignore[method-assign]
    else:

        def should_set_cookie(app: Any, session: Any) -> bool:
            asked.append("should")
            return True

        interface.should_set_cookie = should_set_cookie  # type: ignore[method-assign]

    app = Microframework(__name__, static_folder=None)
    app.secret_key = "k"
    app.session_interface = interface

    @app.get("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert asked
    assert "Set-Cookie" in response.headers


@pytest.mark.parametrize(
    ("data", "sent"),
    [([["a", 1]], b'data: [["a", 1]]\n\n'), (7, b"data: 7\n\n")],
)
def test_an_events_data_other_than_a_mapping_is_sent_as_its_json(
    data: Any, sent: bytes
) -> None:
    # sse.ServerSentEvent.encode: `isinstance(data, Mapping) and not isinstance(data,
    # dict)`: only a mapping is made a dict; a list of pairs stays a list, a number a
    # number (mutant W03 made every non-dict a dict: the list became {"a": 1}, the
    # number an error).
    from microframework.sse import ServerSentEvent

    assert ServerSentEvent(data=data).encode() == sent


def test_a_bracketed_ipv6_host_is_under_no_domain() -> None:
    # testing/cookies.suffix_of: `ip_address(host.strip("[]"))`: an IPv6 host as a
    # URL writes it, in brackets, is an address too, under no domain even when its
    # text ends like one (mutants K03, N02 kept a bracket: taken for a name).
    from microframework.testing.cookies import suffix_of

    assert suffix_of("3.4]", "[::ffff:1.2.3.4]") is False
    assert suffix_of("example.com", "www.example.com") is True


async def test_a_domain_cookie_a_name_got_is_not_sent_to_an_ip_address_ending_alike() -> (
    None
):
    # testing/cookies.sent_to: `not suffix_of(cookie.domain, host)`: a cookie for
    # Domain=0.0.1, stored from the host name x.0.0.1, is not sent to the address
    # 10.0.0.1 (mutant K06, a plain endswith, sent it).
    from microframework import request
    from microframework import Response

    app = Microframework(__name__, static_folder=None)

    @app.get("/set")
    async def set_cookie() -> Response:
        response = Response("ok")
        response.headers["Set-Cookie"] = "a=1; Domain=0.0.1; Path=/"
        return response

    @app.get("/")
    async def index() -> str:
        return request.headers.get("Cookie", "-")

    client = app.test_client()
    await client.get("/set", headers={"Host": "x.0.0.1"})
    assert client.get_cookie("a", domain="0.0.1") is not None
    named = await client.get("/", headers={"Host": "y.0.0.1"})
    assert await named.get_data() == b"a=1"
    address = await client.get("/", headers={"Host": "10.0.0.1"})
    assert await address.get_data() == b"-"


async def test_a_cookie_set_without_samesite_has_none() -> None:
    # testing/cookies.parse_set_cookie: `same_site: str | None = None`: a Set-Cookie
    # without SameSite keeps none, as werkzeug's test client's cookie (mutant K10
    # gave it "Lax").
    from microframework import Response

    app = Microframework(__name__, static_folder=None)

    @app.get("/")
    async def index() -> Response:
        response = Response("ok")
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/; SameSite=Strict")
        return response

    client = app.test_client()
    await client.get("/")
    plain, strict = client.get_cookie("a"), client.get_cookie("b")
    assert plain is not None and strict is not None
    assert (plain.same_site, strict.same_site) == (None, "Strict")


async def test_a_first_receiver_connected_by_the_view_hears_its_teardown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _dispatch.handle_http: `if listening := _signals.listening`: read again after
    # the view, and passed on to the teardown, so a first receiver the view connects
    # hears request_tearing_down too, as in Flask and Quart (mutant N03 kept the
    # value read before the view: no teardown signal).
    from microframework import signals
    from microframework.signals import request_tearing_down

    monkeypatch.setattr(signals.state, "listening", False)  # as in a fresh process
    app = Microframework(__name__, static_folder=None)
    seen: list[str] = []

    def tearing_down(sender: Microframework, **extra: object) -> None:
        seen.append("tearing down")

    @app.get("/")
    async def index() -> str:
        request_tearing_down.connect(tearing_down, app)
        return "ok"

    try:
        await app.test_client().get("/")
    finally:
        request_tearing_down.disconnect(tearing_down)
    assert seen == ["tearing down"]


def test_a_copy_of_a_subclass_instance_is_of_the_subclass() -> None:
    # app.Microframework.__copy__: `object.__new__(type(self))`: copy.copy keeps the
    # app's class, as for Quart's apps (mutant N01 made every copy a Microframework).
    class Sub(Microframework):
        pass

    app = Sub(__name__, static_folder=None)
    twin = copy.copy(app)
    assert type(twin) is Sub
    assert twin.view_functions is app.view_functions
