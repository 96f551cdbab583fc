"""``flash`` and ``get_flashed_messages`` inside a request context with a session."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from microframework import Microframework
from microframework.ctx import AppContext
from microframework.flashing import flash
from microframework.flashing import get_flashed_messages
from microframework.sessions import SecureCookieSession
from microframework.signals import message_flashed


def _with_session(ctx: AppContext, **data: Any) -> SecureCookieSession:
    # The app opens the session per request once sessions are wired into dispatch;
    # here the test provides it.
    session = ctx.session = SecureCookieSession(data)
    return session


async def test_flash_stores_category_and_message_in_the_session(
    app: Microframework,
) -> None:
    async with app.test_request_context("/") as ctx:
        session = _with_session(ctx)
        await flash("saved")
        await flash("oops", "error")
        assert session["_flashes"] == [("message", "saved"), ("error", "oops")]
        assert session.modified


async def test_flash_works_without_await_as_in_flask(app: Microframework) -> None:
    async with app.test_request_context("/") as ctx:
        session = _with_session(ctx)
        flash("plain call")  # type: ignore[unused-awaitable]  # what Flask code does
        assert session["_flashes"] == [("message", "plain call")]


async def test_get_flashed_messages_pops_them_once_and_repeats_in_the_request(
    app: Microframework,
) -> None:
    async with app.test_request_context("/") as ctx:
        session = _with_session(ctx, _flashes=[("message", "a"), ("error", "b")])
        assert get_flashed_messages() == ["a", "b"]
        assert "_flashes" not in session
        assert get_flashed_messages() == ["a", "b"]


async def test_messages_flashed_now_are_seen_by_a_request_that_has_not_read_yet(
    app: Microframework,
) -> None:
    async with app.test_request_context("/") as ctx:
        _with_session(ctx)
        await flash("same request")
        assert get_flashed_messages() == ["same request"]


async def test_a_new_request_does_not_see_the_previous_requests_cache(
    app: Microframework,
) -> None:
    async with app.test_request_context("/") as ctx:
        _with_session(ctx, _flashes=[("message", "first")])
        assert get_flashed_messages() == ["first"]
    async with app.test_request_context("/") as ctx:
        _with_session(ctx)
        assert get_flashed_messages() == []


async def test_with_categories_returns_pairs(app: Microframework) -> None:
    async with app.test_request_context("/") as ctx:
        _with_session(ctx, _flashes=[("message", "a"), ("error", "b")])
        assert get_flashed_messages(with_categories=True) == [
            ("message", "a"),
            ("error", "b"),
        ]


async def test_category_filter_keeps_only_those_categories(
    app: Microframework,
) -> None:
    flashes = [("message", "a"), ("error", "b"), ("warning", "c"), ("error", "d")]
    async with app.test_request_context("/") as ctx:
        _with_session(ctx, _flashes=flashes)
        assert get_flashed_messages(category_filter=["error"]) == ["b", "d"]
        assert get_flashed_messages(
            with_categories=True, category_filter=("warning", "message")
        ) == [("message", "a"), ("warning", "c")]


async def test_a_string_category_filter_is_one_category(app: Microframework) -> None:
    async with app.test_request_context("/") as ctx:
        _with_session(ctx, _flashes=[("err", "short"), ("error", "long")])
        assert get_flashed_messages(category_filter="error") == ["long"]


async def test_sync_receiver_runs_at_once_and_async_receiver_when_awaited(
    app: Microframework,
) -> None:
    seen: list[tuple[str, Any, str, str]] = []

    def sync_receiver(sender: Any, message: str, category: str) -> None:
        seen.append(("sync", sender, message, category))

    async def async_receiver(sender: Any, message: str, category: str) -> None:
        seen.append(("async", sender, message, category))

    with (
        message_flashed.connected_to(sync_receiver, app),
        message_flashed.connected_to(async_receiver, app),
    ):
        async with app.test_request_context("/") as ctx:
            _with_session(ctx)
            pending = flash("hi", "info")
            assert seen == [("sync", app, "hi", "info")]
            await pending
            assert seen[1] == ("async", app, "hi", "info")
            await pending  # awaiting again does not notify twice
            assert len(seen) == 2


async def test_flash_outside_a_request_is_a_runtime_error(app: Microframework) -> None:
    with pytest.raises(RuntimeError, match="request"):
        flash("nope")
    async with app.app_context():
        with pytest.raises(RuntimeError, match="request"):
            get_flashed_messages()


async def test_flash_without_a_session_says_so(app: Microframework) -> None:
    async with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="session"):
            flash("nope")


async def test_flash_with_a_null_session_names_the_secret_key(
    app: Microframework,
) -> None:
    from microframework.sessions import NullSession

    async with app.test_request_context("/") as ctx:
        ctx.session = NullSession()
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            flash("nope")


# -- through the app (runs once the app opens and saves sessions) ---------------------------


@pytest.mark.skipif(
    not hasattr(Microframework, "session_interface"),
    reason="the app does not open sessions yet (issue 4 integration)",
)
async def test_flashed_message_survives_a_redirect_and_is_shown_once(
    app: Microframework,
) -> None:
    from microframework import redirect

    app.config["SECRET_KEY"] = "flash key"

    @app.post("/save")
    async def save() -> Any:
        flash("saved!", "success")
        return redirect("/show")

    @app.get("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages(with_categories=True)}

    client = app.test_client()
    assert (await client.post("/save")).status_code == 302
    first = await (await client.get("/show")).get_json()
    second = await (await client.get("/show")).get_json()
    assert first == {"messages": [["success", "saved!"]]}
    assert second == {"messages": []}


@pytest.mark.parametrize("stored", [None, "abc", [1, 2], [["a", "b", "c"]]])
async def test_flashes_not_written_by_flash_are_dropped_not_a_500(
    app: Microframework, stored: Any
) -> None:
    # A session the app signed, but whose _flashes flash() never wrote (an older
    # format, or a leaked key): nothing to show, and no 500.
    app.config["SECRET_KEY"] = "flash key"

    @app.get("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages()}

    client = app.test_client()
    async with client.session_transaction() as session:
        session["_flashes"] = stored
    response = await client.get("/show")
    assert response.status_code == 200
    assert await response.get_json() == {"messages": []}


async def test_await_flash_awaits_what_a_plain_receiver_returns(
    app: Microframework,
) -> None:
    # A plain decorator (functools.wraps) around an async receiver: send_signal awaits
    # what it returns, for every other signal; await flash() does too.
    app.secret_key = "secret"
    audit: list[str] = []

    async def record(sender: object, message: str, **extra: object) -> None:
        audit.append(message)

    @functools.wraps(record)
    def logged(sender: object, **extra: object) -> object:
        return record(sender, **extra)  # type: ignore[arg-type]

    @app.route("/")
    async def index() -> str:
        await flash("Saved.")
        return "ok"

    with message_flashed.connected_to(logged, app):
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert audit == ["Saved."]


@pytest.mark.parametrize("stored", [None, 5, "abc", [1, 2], {"a": 1}])
async def test_flash_into_flashes_not_written_by_flash_keeps_the_new_message(
    app: Microframework, stored: Any
) -> None:
    # The same sessions (an older format, or a leaked key): flash() was a 500 on every
    # page that flashed (None, a number), or its message was dropped with the rest.
    app.config["SECRET_KEY"] = "flash key"

    @app.get("/add")
    async def add() -> str:
        await flash("new")
        return "ok"

    @app.get("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages()}

    client = app.test_client()
    async with client.session_transaction() as session:
        session["_flashes"] = stored
    assert (await client.get("/add")).status_code == 200
    assert await (await client.get("/show")).get_json() == {"messages": ["new"]}
