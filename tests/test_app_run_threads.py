"""app.run() from two threads at once (review23)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from microframework import Microframework


def test_app_run_in_a_thread_while_another_threads_app_run_serves_serves_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Flask serves both (two dev servers beside a GUI or in a test harness); here the
    # first app.run()'s RUN_FROM_CLI_ENV, meant for its workers, made the second say
    # "the 'microframework' command is running" and return without serving.
    import microframework.serving
    from microframework.serving import RUN_FROM_CLI_ENV

    monkeypatch.delenv(RUN_FROM_CLI_ENV, raising=False)
    one, two = Microframework("one"), Microframework("two")
    served: list[str] = []
    env_after_two: list[str | None] = []

    def fake_serve(app: Any, **options: Any) -> int:
        served.append(app.name)
        if app is one:  # while one serves, another thread runs two
            thread = threading.Thread(target=two.run, kwargs={"load_dotenv": False})
            thread.start()
            thread.join(30)
            assert not thread.is_alive()
            env_after_two.append(os.environ.get(RUN_FROM_CLI_ENV))
        return 0

    monkeypatch.setattr(microframework.serving, "serve_app", fake_serve)
    one.run(load_dotenv=False)
    assert served == ["one", "two"]
    assert "Ignoring a call" not in capsys.readouterr().err
    assert env_after_two == ["true"]  # still set for one's workers
    assert RUN_FROM_CLI_ENV not in os.environ


def test_app_run_under_the_cli_is_still_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import microframework.serving
    from microframework.serving import RUN_FROM_CLI_ENV

    served: list[str] = []
    monkeypatch.setattr(
        microframework.serving, "serve_app", lambda app, **o: served.append(app.name)
    )
    monkeypatch.setenv(RUN_FROM_CLI_ENV, "true")
    Microframework("one").run(load_dotenv=False)
    assert served == []
    assert "Ignoring a call" in capsys.readouterr().err


def test_two_threads_app_run_each_serve_their_own_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Thread two's serve_app() ran between thread one's and the moment one's hypercorn
    # worker loaded its app (_worker_app): one served two's app, or none (two's finally
    # had set _serving_app to None).
    import hypercorn.asyncio.run

    from microframework import serving
    from microframework.serving import RUN_FROM_CLI_ENV

    monkeypatch.delenv(RUN_FROM_CLI_ENV, raising=False)
    one, two = Microframework("one"), Microframework("two")
    loaded: dict[str, Any] = {}

    def run(app: Microframework) -> None:
        app.run(port=0, load_dotenv=False)

    def in_thread(app: Microframework) -> None:
        thread = threading.Thread(target=run, args=(app,), name=app.name)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()

    def fake_worker(config: Any, sockets: Any, shutdown_event: Any = None) -> None:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
        name = threading.current_thread().name
        if name == "one":  # before one's worker loads its app, two serves and ends
            in_thread(two)
        loaded[name] = serving._worker_app()

    monkeypatch.setattr(hypercorn.asyncio.run, "asyncio_worker", fake_worker)
    in_thread(one)
    assert loaded == {"two": two, "one": one}
