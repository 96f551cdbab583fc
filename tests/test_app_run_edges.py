"""app.run() and serving: edge cases Flask serves and we did not (session 38, muts55)."""

from __future__ import annotations

import logging
import sys
from types import ModuleType
from typing import Any

import pytest

from microframework import Microframework


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``app.run()`` would have served with, instead of serving."""
    import microframework.serving

    calls: list[dict[str, Any]] = []

    def fake_serve(app: Any, **options: Any) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(microframework.serving, "serve_app", fake_serve)
    return calls


def test_app_run_of_a_main_with_no_file_serves_without_the_reloader(
    served: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # python -c, piped input, a REPL: __main__ holds the app as a module-level variable,
    # but has no file the worker could run again, and the worker's own __main__ has no
    # app: every request was answered 500 "The app failed to load" for ever.
    main = ModuleType("__main__")  # no __file__, no __spec__
    main.app = app = Microframework("__main__")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)
    with caplog.at_level(logging.WARNING):
        app.run(debug=True, load_dotenv=False)
    assert served[0]["use_reloader"] is False
    assert "serving without it" in caplog.text


_THREADED = """
import asyncio, threading, time, urllib.request
from microframework import Microframework

app = Microframework(__name__)

@app.get("/")
async def index():
    return "served from a thread"

def serve():
    try:
        CALL
    except BaseException as error:
        print("app.run raised", type(error).__name__, flush=True)

thread = threading.Thread(target=serve, daemon=True)
thread.start()
end = time.monotonic() + 15
while thread.is_alive() and time.monotonic() < end:
    try:
        with urllib.request.urlopen("http://127.0.0.1:PORT/", timeout=1) as response:
            print(response.read().decode(), flush=True)
            break
    except OSError:
        time.sleep(0.02)
"""


@pytest.mark.parametrize(
    "call",
    [
        "app.run(port=PORT, load_dotenv=False)",
        "app.run(port=PORT, load_dotenv=False, debug=True)",
        "asyncio.run(app.run_task(port=PORT))",
        "app.run(port=PORT, loop=asyncio.new_event_loop())",
    ],
)
def test_app_run_serves_from_a_thread_other_than_the_main_one(
    tmp_path: Any, call: str
) -> None:
    # A GUI, a test harness or a tool that runs the dev server beside other work:
    # Flask's app.run() serves from such a thread; here hypercorn's worker set signal
    # handlers there and the thread died with a RuntimeError traceback. In debug mode
    # the reloader (signals again) is left off, with a warning, and the app served.
    # app.run_task() and app.run(loop=) died the same way (hypercorn's handlers).
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = tmp_path / "threaded.py"
    code = _THREADED.replace("CALL", call).replace("PORT", str(port))
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "served from a thread" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("given", ["certfile", "keyfile"])
def test_app_run_with_a_certificate_but_no_key_is_refused(
    given: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # hypercorn enables TLS only with both files: with one, app.run() said "Serving ...
    # on https://..." and served plain HTTP (even a missing file was accepted). The
    # CLI's run refuses it ("--certfile and --keyfile must be given together").
    import hypercorn.run

    served: list[Any] = []
    monkeypatch.setattr(hypercorn.run, "run", lambda config: served.append(config) or 0)
    pem = tmp_path / "combined.pem"
    pem.write_text("not read")
    app = Microframework("tls_half")
    with pytest.raises(SystemExit) as raised:
        app.run(port=0, load_dotenv=False, **{given: str(pem)})
    assert raised.value.code == 1
    assert served == []
    err = capsys.readouterr().err
    assert "Error: certfile and keyfile must be given together." in err
    assert "https://" not in err


_RECYCLED = """
import sys
from microframework import Microframework

app = Microframework(__name__)

@app.get("/")
async def index():
    return "ok"

if __name__ == "__main__":
    app.run(port=int(sys.argv[1]), workers=2, max_requests=2, max_requests_jitter=0)
"""


def test_workers_retired_by_max_requests_are_replaced_not_the_end_of_the_server(
    tmp_path: Any,
) -> None:
    # hypercorn's supervisor starts a new worker when one exits after max_requests;
    # app.run(workers=2, max_requests=2) stopped the whole server (exit 0, nothing said)
    # as soon as the first worker retired: the next requests were refused.
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "recycled.py").write_text(_RECYCLED)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "recycled.py", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        answered = 0
        end = time.monotonic() + 30
        while answered < 10 and time.monotonic() < end and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    answered += 1
            except OSError:
                time.sleep(0.05)  # not up yet, or a worker being replaced
        assert answered == 10, (process.poll(), log.read_text())
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize(
    ("port", "server_name", "bind"),
    [("", None, "127.0.0.1:5000"), ("", "localhost:8080", "localhost:8080")],
)
def test_app_run_with_an_empty_port_string_takes_the_default_port(
    monkeypatch: pytest.MonkeyPatch, port: str, server_name: Any, bind: str
) -> None:
    # app.run(port=os.environ.get("PORT", 5000)) with PORT set but empty (compose's
    # PORT=${PORT}): Flask serves on SERVER_NAME's port or 5000; here int("") raised a
    # ValueError traceback.
    import hypercorn.run

    configs: list[Any] = []
    monkeypatch.setattr(
        hypercorn.run, "run", lambda config: configs.append(config) or 0
    )
    monkeypatch.setattr("microframework.serving._check_bind", lambda h, p, b: p)
    app = Microframework("empty_port")
    app.config["SERVER_NAME"] = server_name
    app.run(port=port, load_dotenv=False)  # type: ignore[arg-type]
    assert configs[0].bind == [bind]
