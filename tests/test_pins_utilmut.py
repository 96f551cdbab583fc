"""Pins from mutation testing _utils.py, signals.py, exceptions.py and json/__init__.py
(session 21, utilmut): each fails with the mutant named in its comment."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import functools
import io
import os
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest
from blinker import Signal

from microframework import json as mf_json
from microframework import Microframework
from microframework._utils import ensure_async
from microframework._utils import find_instance_path
from microframework._utils import get_root_path
from microframework._utils import is_async_callable
from microframework._utils import Listener
from microframework._utils import MEMO_KEY_SIZE
from microframework._utils import remember
from microframework.exceptions import BodyTimeout
from microframework.exceptions import ResponseTimeout
from microframework.exceptions import WebsocketDisconnect
from microframework.json.provider import DefaultJSONProvider
from microframework.signals import send_signal


def test_a_key_of_exactly_the_size_limit_is_remembered() -> None:
    # r01: `size <= MEMO_KEY_SIZE` made `<`.
    memo: dict[str, int] = {}
    assert remember(memo, "edge", 1, size=MEMO_KEY_SIZE) == 1
    assert memo == {"edge": 1}
    assert remember(memo, "over", 2, size=MEMO_KEY_SIZE + 1) == 2
    assert memo == {"edge": 1}


def test_a_memo_holds_256_entries_then_starts_over() -> None:
    # r02 (`>=` made `>`), r03 (no clear), r05 (another limit): docs/design.md says
    # 256 entries, cleared when full.
    memo: dict[int, int] = {}
    for key in range(256):
        remember(memo, key, key)
    assert len(memo) == 256
    remember(memo, "next", 0)
    assert memo == {"next": 0}


def test_an_object_with_an_async_call_is_async_even_in_a_partial() -> None:
    # i02: the bound __call__ not checked; i01: partials not unwrapped (inspect
    # unwraps a partial of a coroutine function itself, not one of such an object).
    class Handler:
        async def __call__(self, x: int = 0) -> None:
            return None

    handler = Handler()
    assert is_async_callable(handler)
    assert ensure_async(handler) is handler  # e01: ensure_async checking less
    assert is_async_callable(functools.partial(functools.partial(Handler()), 1))
    assert not is_async_callable(functools.partial(lambda: None))


def test_the_root_path_of_a_module_without_a_spec_is_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # g02: find_spec raises ValueError for a module whose __spec__ is None.
    name = f"specless_{uuid.uuid4().hex[:8]}"
    module = types.ModuleType(name)
    module.__spec__ = None
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.chdir(tmp_path)
    assert get_root_path(name) == os.getcwd()


def _package(folder: Path) -> str:
    name = f"pinned_{uuid.uuid4().hex[:8]}"
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text("")
    return name


def test_an_app_in_a_user_site_packages_keeps_its_instance_under_that_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # f03 (no lower()), f04 (no <prefix>/Lib/site-packages case): Windows' user site
    # is <prefix>\Lib\site-packages, outside sys.prefix (pip --user).
    site = tmp_path / "user" / "Lib" / "Site-Packages"
    name = _package(site)
    monkeypatch.syspath_prepend(os.fspath(site))
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path / "env"))
    expected = os.path.join(os.fspath(tmp_path / "user"), "var", "app-instance")
    assert find_instance_path(name, "app") == expected


def test_a_folder_that_only_starts_like_the_prefix_is_not_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # f02: `startswith(prefix + os.sep)` made `startswith(prefix)`.
    beside = tmp_path / "env-projects"
    name = _package(beside)
    monkeypatch.syspath_prepend(os.fspath(beside))
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path / "env"))
    assert find_instance_path(name, "app") == os.fspath(beside / "instance")


async def test_send_signal_awaits_any_awaitable_a_receiver_returns() -> None:
    # n03: only coroutines awaited; n04: the values not returned.
    signal = Signal()

    def receiver(sender: Any) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.set_result("heard")
        return future

    signal.connect(receiver)
    assert await send_signal(signal, object()) == [(receiver, "heard")]


def test_websocket_disconnect_carries_code_and_reason() -> None:
    # x01 (reason not in args), x02 (another default code).
    exc = WebsocketDisconnect(1001, "going away")
    assert exc.args == (1001, "going away")
    assert (exc.code, exc.reason) == (1001, "going away")
    default = WebsocketDisconnect()
    assert (default.code, default.reason) == (1000, "")
    assert isinstance(default, asyncio.CancelledError)


async def test_the_timeouts_answer_408_and_504_with_their_descriptions(
    app: Microframework,
) -> None:
    # x03 (werkzeug's description), x04 (ResponseTimeout not a 504).
    assert BodyTimeout.code == 408
    assert ResponseTimeout.code == 504

    @app.route("/body")
    async def body() -> str:
        raise BodyTimeout()

    @app.route("/view")
    async def view() -> str:
        raise ResponseTimeout()

    client = app.test_client()
    response = await client.get("/body")
    assert response.status_code == 408
    assert "The request body was not received in time." in await response.get_data(
        as_text=True
    )
    response = await client.get("/view")
    assert response.status_code == 504
    assert "did not produce a response in time" in await response.get_data(as_text=True)


def test_dumps_outside_an_app_context_handles_dates_as_flask_does() -> None:
    # j01: no default outside an app context (Flask's json.dumps uses its _default).
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert mf_json.dumps({"b": when, "a": decimal.Decimal("1.5")}) == (
        '{"b": "Tue, 02 Jan 2024 03:04:05 GMT", "a": "1.5"}'
    )


def test_load_outside_an_app_context_passes_its_arguments_on() -> None:
    # j05: load() dropping kwargs.
    fp = io.StringIO('{"x": 1.5}')
    value = mf_json.load(fp, parse_float=decimal.Decimal)["x"]
    assert isinstance(value, decimal.Decimal)


class _Marking(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return "dumped"

    def dump(self, obj: Any, fp: Any, **kwargs: Any) -> None:
        fp.write("dump")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return "loaded"

    def load(self, fp: Any, **kwargs: Any) -> Any:
        return "load"


async def test_the_json_functions_use_the_apps_provider_in_an_app_context(
    app: Microframework,
) -> None:
    # j02/j03/j04/j06: in an app context each goes through app.json, as in Flask.
    async with app.app_context():
        assert mf_json.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'  # sort_keys
        app.json = _Marking(app)
        assert mf_json.dumps({}) == "dumped"
        assert mf_json.loads("{}") == "loaded"
        assert mf_json.load(io.StringIO("{}")) == "load"
        fp = io.StringIO()
        mf_json.dump({}, fp)
        assert fp.getvalue() == "dump"


def test_an_app_in_a_submodule_keeps_its_instance_beside_the_top_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # f01: the instance folder found from the submodule, not its top-level package.
    name = _package(tmp_path)
    (tmp_path / name / "views.py").write_text("")
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path / "env"))
    assert find_instance_path(f"{name}.views", "app") == os.fspath(
        tmp_path / "instance"
    )


class _Recorder(Listener):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []
        self.stopped = asyncio.Event()

    def heard(self, message: Any) -> bool:
        self.messages.append(message)
        return True

    def failed(self) -> None:
        self.stopped.set()


async def test_a_receive_that_is_cancelled_stops_the_listener_quietly() -> None:
    # l09: `except (Exception, CancelledError)` made `except Exception`: the
    # CancelledError then escaped listen() into the caller.
    async def receive() -> Any:
        raise asyncio.CancelledError

    listener = _Recorder()
    listener.listen(receive)
    assert listener.stopped.is_set()
    assert listener.messages == []


async def test_a_server_future_that_fails_stops_the_listener() -> None:
    # l11: a failed server future (not a coroutine) handed to heard() as a result.
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    listener = _Recorder()
    listener.listen(lambda: future)
    future.set_exception(OSError("the server's receive failed"))
    async with asyncio.timeout(2):
        await listener.stopped.wait()
    assert listener.messages == []


async def test_a_receive_that_fails_as_it_is_closed_does_not_escape_stop() -> None:
    # l21: `except Exception` in close_held made `except RuntimeError`.
    closed: list[bool] = []

    async def receive() -> Any:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            closed.append(True)
            raise OSError("the server's receive failed as it closed")

    listener = _Recorder()
    listener.listen(receive)
    assert listener.stop_listening() is False
    assert closed == [True]


def test_a_namespace_package_keeps_its_instance_beside_the_portion_of_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # f06: the instance folder beside the namespace's first portion, not the app's.
    name = f"ns_{uuid.uuid4().hex[:8]}"
    for portion in ("first", "second"):
        (tmp_path / portion / name).mkdir(parents=True)
        monkeypatch.syspath_prepend(os.fspath(tmp_path / portion))
    (tmp_path / "first" / name / "app.py").write_text("")  # "second" is searched first
    (tmp_path / "second" / name / "other.py").write_text("")
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path / "env"))
    assert find_instance_path(f"{name}.app", "app") == os.fspath(
        tmp_path / "first" / "instance"
    )
