"""Pins from mutation testing (helper muts55, session 38): the survivors among the
mutants of ``serving.py`` (``app.run``, serving on hypercorn, the reloader, workers).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s38/muts55/REPORT.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypercorn.config import Config

from microframework import Microframework

_TOLD = (
    "MICROFRAMEWORK_SERVE_APP",
    "MICROFRAMEWORK_SERVE_MAIN",
    "MICROFRAMEWORK_DEBUG",
    "MICROFRAMEWORK_RELOADER",
    "MICROFRAMEWORK_RUN_FROM_CLI",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The serving variables unset now and restored after the test."""
    for name in _TOLD:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def hypercorn_runs(clean_env: pytest.MonkeyPatch) -> list[Config]:
    """The configs hypercorn's ``run`` is given, instead of serving."""
    import hypercorn.run

    configs: list[Config] = []
    clean_env.setattr(hypercorn.run, "run", lambda config: configs.append(config) or 0)
    return configs


def test_app_run_gives_hypercorn_the_certificate_and_the_key_in_their_places(
    hypercorn_runs: list[Config], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # serving._config: config.certfile, config.keyfile = certfile, keyfile (C3). Swapped,
    # hypercorn loads the key as the certificate; no test served TLS for real.
    loaded: list[tuple[Any, Any]] = []
    monkeypatch.setattr(
        Config,
        "create_ssl_context",
        lambda self: loaded.append((self.certfile, self.keyfile)),
    )
    app = Microframework("tls_places")
    app.run(port=0, certfile="cert.pem", keyfile="key.pem", load_dotenv=False)
    assert loaded == [("cert.pem", "key.pem")]
    assert (hypercorn_runs[0].certfile, hypercorn_runs[0].keyfile) == (
        "cert.pem",
        "key.pem",
    )


def test_a_certificate_path_python_cannot_open_is_one_error_line(
    hypercorn_runs: list[Config], capsys: pytest.CaptureFixture[str]
) -> None:
    # serving._check_tls: except (OSError, ValueError) (C4). A NUL in the path (a bad
    # environment variable) is a ValueError from load_cert_chain, not an OSError: it was
    # a traceback instead of the "Error:" line.
    app = Microframework("tls_nul")
    with pytest.raises(SystemExit) as raised:
        app.run(port=0, certfile="cert\0.pem", keyfile="key.pem", load_dotenv=False)
    assert raised.value.code == 1
    err = capsys.readouterr().err
    assert "Error: Could not load the TLS certificate" in err
    assert "embedded null byte" in err
    assert hypercorn_runs == []


def test_extra_workers_for_an_app_no_new_process_can_find_are_refused(
    hypercorn_runs: list[Config],
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # serving._tell_workers: elif locator is None: raise ClickException (T1). python -c
    # with an app made in a function: no module-level name, no file to run again. Without
    # the refusal the workers started, each failing with a KeyError traceback.
    clean_env.setitem(sys.modules, "__main__", ModuleType("__main__"))  # no file
    app = Microframework("made_in_main")  # held by no module
    with pytest.raises(SystemExit) as raised:
        app.run(port=0, workers=2, load_dotenv=False)
    assert raised.value.code == 1
    assert (
        "must be importable: pass it as '--app module:name'" in capsys.readouterr().err
    )
    assert hypercorn_runs == []
    assert "MICROFRAMEWORK_SERVE_APP" not in os.environ


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_until(url: str, expected: bytes, process: Any, deadline: float) -> bytes:
    """Poll *url* until it answers *expected*, the server dies or the deadline passes."""
    end, body = time.monotonic() + deadline, b""
    while time.monotonic() < end and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read()
        except OSError:
            pass
        if body == expected:
            break
        time.sleep(0.05)
    return body


_WATCHING = """
import sys
from microframework import Microframework

app = Microframework(__name__)
SETTING = open("setting.txt").read()

@app.get("/")
async def index():
    return SETTING

if __name__ == "__main__":
    app.run(port=int(sys.argv[1]), debug=True, extra_files=["setting.txt"])
"""


def test_the_running_reloader_restarts_when_an_extra_file_changes(
    tmp_path: Path,
) -> None:
    # serving._supervise: files = watch.files(files_to_watch()) (P11). With only the
    # modules watched, a saved --extra-files/extra_files file (a config the app reads
    # at import) restarted nothing while the workers ran; only the wait for a fix after
    # a crash saw it.
    (tmp_path / "srv.py").write_text(_WATCHING)
    setting = tmp_path / "setting.txt"
    setting.write_text("one")
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "srv.py", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        assert _get_until(url, b"one", process, 20) == b"one", log.read_text()
        setting.write_text("two")
        stamp = time.time() + 10  # a clearly later time, whatever the clock's grain
        os.utime(setting, (stamp, stamp))
        assert _get_until(url, b"two", process, 20) == b"two", log.read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class _Spawned:
    """A stand-in for a spawned worker process: it has already exited with 0."""

    given: list[dict[str, Any]] = []
    sentinel = None
    exitcode = 0

    def __init__(self, target: Any, kwargs: dict[str, Any]) -> None:
        self.target, self.kwargs = target, kwargs

    def start(self) -> None:
        self.given.append(self.kwargs)

    def is_alive(self) -> bool:
        return False

    def terminate(self) -> None:
        pass

    def join(self) -> None:
        pass


served_by_workers: Microframework | None = None  # found by app.run's locator


def test_the_workers_supervisor_closes_the_listening_sockets_when_it_returns(
    hypercorn_runs: list[Config], clean_env: pytest.MonkeyPatch
) -> None:
    # serving._supervise: finally: sock.close() for each socket (P8). Left open, the
    # port stayed bound after app.run(workers=2) returned (a notebook or a test serving
    # again on it); the worker processes were given the same socket objects.
    import multiprocessing
    import types

    spawned: list[dict[str, Any]] = []
    clean_env.setattr(_Spawned, "given", spawned)
    clean_env.setattr(
        multiprocessing,
        "get_context",
        lambda kind: types.SimpleNamespace(Process=_Spawned),
    )
    app = Microframework(__name__)
    clean_env.setattr(sys.modules[__name__], "served_by_workers", app)
    app.run(port=0, workers=2, load_dotenv=False)
    assert len(spawned) == 2
    sockets = spawned[0]["sockets"]
    listening = [*sockets.secure_sockets, *sockets.insecure_sockets]
    assert listening
    assert all(sock.fileno() == -1 for sock in listening)  # closed


def test_app_run_serves_on_a_port_a_stopped_server_left_in_time_wait(
    hypercorn_runs: list[Config],
) -> None:
    # serving._check_bind: the probe sets SO_REUSEADDR (B2), as hypercorn's socket
    # does. Without it, a restart right after a server closed its connections (their
    # TIME_WAIT holds the port for a minute) was refused: "Is another server running?"
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server's
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    accepted, _ = listener.accept()
    accepted.close()  # the server closes first: its side waits in TIME_WAIT
    assert client.recv(1) == b""
    client.close()
    listener.close()
    Microframework("restarted").run(port=port, load_dotenv=False)
    assert hypercorn_runs[0].bind == [f"127.0.0.1:{port}"]


def test_a_bind_failure_other_than_a_busy_port_gives_no_busy_port_hint(
    hypercorn_runs: list[Config], capsys: pytest.CaptureFixture[str]
) -> None:
    # serving._check_bind: the hint only for EADDRINUSE (B3). An address this machine
    # doesn't have (TEST-NET-1) is not "another server running".
    with pytest.raises(SystemExit):
        Microframework("elsewhere").run(host="192.0.2.1", port=0, load_dotenv=False)
    err = capsys.readouterr().err
    assert (
        "Error: Could not listen on 192.0.2.1:0: Cannot assign requested address."
        in err
    )
    assert "another server" not in err
    assert hypercorn_runs == []


@pytest.mark.parametrize("debug", [True, False])
def test_app_run_on_a_loop_sets_debug_mode(
    monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    # serving.run_on_loop: if debug is not None: app.debug = debug (RL1). As Quart's
    # app.run(debug=True, loop=loop): the debug page and the reloader-less debug mode.
    import asyncio

    app = Microframework("on_a_loop")
    app.debug = not debug
    ran: list[tuple[Any, ...]] = []

    async def fake_task(*args: Any) -> None:
        ran.append(args)

    monkeypatch.setattr(app, "run_task", fake_task)
    loop = asyncio.new_event_loop()
    try:
        app.run(port=1, loop=loop, debug=debug)
    finally:
        loop.close()
    assert app.debug is debug
    assert ran == [("127.0.0.1", 1, None, None, None, None)]


def test_without_python_dotenv_the_env_file_tip_respects_skip_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # serving.load_dotenv: the tip only if load_defaults (Y4). The CLI calls it with
    # load_defaults=False under MICROFRAMEWORK_SKIP_DOTENV=1, where Flask's CLI loads
    # nothing and says nothing: the tip there would ask to install what was skipped.
    from microframework.cli import load_dotenv

    monkeypatch.setitem(sys.modules, "dotenv", None)  # python-dotenv not installed
    (tmp_path / ".env").write_text("A=1\n")
    monkeypatch.chdir(tmp_path)
    assert load_dotenv(load_defaults=False) is False
    assert capsys.readouterr().err == ""
    assert load_dotenv() is False
    assert "Install python-dotenv" in capsys.readouterr().err


@pytest.mark.parametrize(("grace", "timeout"), [(0, 3.0), (1, 3.0), (2.5, 3.5)])
def test_hypercorns_graceful_timeout_is_never_below_its_own_default(
    hypercorn_runs: list[Config], grace: float, timeout: float
) -> None:
    # serving._graceful: max(3.0, grace + 1.0) (G2). A short SHUTDOWN_GRACE_PERIOD
    # must not cut hypercorn's own 3 s for closing connections to 1 or 2.
    app = Microframework("graceful")
    app.config["SHUTDOWN_GRACE_PERIOD"] = grace
    app.run(port=0, load_dotenv=False)
    assert hypercorn_runs[0].graceful_timeout == timeout


def test_an_unknown_run_option_is_refused_without_serving(
    hypercorn_runs: list[Config],
) -> None:
    # serving._config: if not hasattr(config, key): raise TypeError (C1). The test in
    # test_cli.py catches this mutant only by serving on port 5000 for ever (its run
    # timed out); here hypercorn never runs, so the mutant fails fast.
    with pytest.raises(TypeError, match="'not_a_setting' is not a hypercorn Config"):
        Microframework("unknown").run(port=0, not_a_setting=1, load_dotenv=False)
    assert hypercorn_runs == []
