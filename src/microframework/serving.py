"""``serving.py``: serve an app with hypercorn for development: ``app.run()`` and ``microframework run``.

Rule: user mistakes end in one ``Error:`` line. Spawned processes share only the
environment: they find the app from ``MICROFRAMEWORK_SERVE_APP`` (``module:name``).
``app.run()`` imports this, so it imports neither the app nor ``cli.py`` at module level.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import fnmatch
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import click

from ._dotenv import load_dotenv
from ._drain import RELOADER_ENV
from .helpers import DEBUG_ENV
from .helpers import get_debug_flag
from .helpers import get_load_dotenv

if TYPE_CHECKING:
    from .app import Microframework
    from .debug import DebugPages
    from .typing import Receive
    from .typing import Scope
    from .typing import Send

#: Set while a CLI command runs; ``app.run()`` then does nothing instead of blocking.
RUN_FROM_CLI_ENV = "MICROFRAMEWORK_RUN_FROM_CLI"
#: How a spawned worker process finds the app: ``module:name``, as ``--app`` takes it.
SERVE_APP_ENV = "MICROFRAMEWORK_SERVE_APP"

#: What ran ``app.run()``: ``path:FILE`` or ``module:NAME``, run again in the worker (_run_main).
SERVE_MAIN_ENV = "MICROFRAMEWORK_SERVE_MAIN"

_serving_app: Microframework | None = None  # a worker's (this process's: below)
_serving_here = threading.local()  # .app: what this thread's serve_app() serves
_running_here: list[object] = []  # app.run() calls serving (threads): see run_app
#: In a worker rerunning ``__main__``: the config and sockets to serve, then (emptied) done.
_worker_serving: list[Any] = []
_load_error = b""  # why the app failed to load (see _error_worker)
#: Where a worker writes why the app failed to load, for the supervisor.
LOAD_ERROR_ENV = "MICROFRAMEWORK_LOAD_ERROR_FILE"
# Flask's app.run() passes these to werkzeug's run_simple; hypercorn has no such setting.
_WERKZEUG_ONLY = frozenset(
    (
        "use_debugger use_evalex passthrough_errors threaded processes"
        " reloader_interval reloader_type request_handler static_files ssl_context"
    ).split()
)


def serve_app(
    app: Microframework,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    use_reloader: bool = False,
    workers: int = 1,
    certfile: str | None = None,
    keyfile: str | None = None,
    locator: str | None = None,
    extra_files: Iterable[str] | None = None,
    exclude_patterns: Iterable[str] | None = None,
    main_first: bool = False,
    **options: Any,
) -> int:
    """Serve *app* with hypercorn until interrupted; return the exit code.

    The reloader and extra workers load the app from *locator* (``module:name``), or
    with *main_first* from what ``__main__``'s ``app.run()`` gives them when they run
    it again; the reloader also watches *extra_files*, but no file matching
    *exclude_patterns* (fnmatch). *options* set hypercorn ``Config`` attributes. User
    errors raise ``ClickException``."""
    from hypercorn.utils import LifespanFailureError

    if not 0 <= port <= 65535:
        raise click.ClickException(f"The port must be 0 to 65535, not {port}.")
    if (certfile is None) != (keyfile is None):  # hypercorn would serve plain HTTP
        raise click.ClickException("certfile and keyfile must be given together.")
    options.setdefault("graceful_timeout", _graceful(app))  # app.run(graceful_timeout=)
    config = _config(certfile, keyfile, options)
    told = _told_workers()
    try:
        if use_reloader or workers > 1 or config.max_requests is not None:
            _tell_workers(app, locator, main_first)
            config.workers = workers
        # Probe first, so the address printed is one we can serve on: hypercorn leaks
        # its socket when bind fails, and port 0 becomes the free port the probe found.
        port = _check_bind(host, port, _bind_address(host, port))
        config.bind = [bind := _bind_address(host, port)]
        _check_tls(config)
        scheme = "https" if certfile else "http"
        click.echo(f" * Serving app {app.name!r} on {scheme}://{bind}", err=True)
        click.echo(f" * Debug mode: {'on' if app.debug else 'off'}", err=True)
        _serving_here.app = app  # not a global: another thread may serve another app
        if config.workers:
            watch = _Watch(tuple(extra_files or ()), tuple(exclude_patterns or ()))
            return _supervise(config, workers, watch if use_reloader else None)
        return _run(config)
    except LifespanFailureError as error:
        raise click.ClickException(_lifespan_failure(error)) from None
    finally:
        _serving_here.app = None
        os.environ.update(told)
        for name in _TOLD.difference(told):
            os.environ.pop(name, None)


def _run(config: Any) -> int:
    from hypercorn.asyncio.run import asyncio_worker
    from hypercorn.run import run

    if threading.current_thread() is threading.main_thread():
        return run(config)
    # Signals reach only the main thread, where hypercorn sets its handlers: given an
    # event, it serves until the process ends (as werkzeug's server in a thread).
    never = threading.Event()  # hypercorn only asks it is_set()
    asyncio_worker(config, config.create_sockets(), never)  # type: ignore[arg-type]
    return 0


_TOLD = frozenset((SERVE_MAIN_ENV, SERVE_APP_ENV, DEBUG_ENV, RELOADER_ENV))


def _told_workers() -> dict[str, str]:
    # Told for one serving period: a later app.run() here (a notebook) must not inherit it.
    return {name: os.environ[name] for name in _TOLD if name in os.environ}


def _tell_workers(app: Microframework, locator: str | None, main_first: bool) -> None:
    # Through the environment, which spawn passes on: how to make the app again.
    if threading.current_thread() is not threading.main_thread():
        raise click.ClickException(
            "The reloader and extra workers need the main thread, where signals"
            " arrive: serve from there, or with one worker."
        )
    main = _main_to_run() if main_first else None
    if main is not None:
        os.environ[SERVE_MAIN_ENV] = main
    elif locator is None:
        raise click.ClickException(
            "The reloader and extra workers load the app in new processes, so it"
            " must be importable: pass it as '--app module:name'."
        )
    if locator is not None and (main is None or not locator.startswith("__main__:")):
        os.environ[SERVE_APP_ENV] = locator  # also if the script doesn't serve again
    os.environ[DEBUG_ENV] = "1" if app.debug else "0"


def _config(certfile: str | None, keyfile: str | None, options: dict[str, Any]) -> Any:
    from ._accesslog import logged_config

    config = logged_config()
    config.certfile, config.keyfile = certfile, keyfile
    for key, value in options.items():
        if not hasattr(config, key):
            raise TypeError(f"{key!r} is not a hypercorn Config setting")
        setattr(config, key, value)
    config.application_path = f"{__name__}:_worker_app()"
    config.workers = 0  # hypercorn's way of saying "serve in this process"
    return config


def _check_tls(config: Any) -> None:
    # Now, not in hypercorn (or each worker): a bad file is one line, not a traceback.
    try:
        config.create_ssl_context()
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise click.ClickException(
            f"Could not load the TLS certificate {config.certfile!r} and key"
            f" {config.keyfile!r}: {error}"
        ) from None


@dataclasses.dataclass(frozen=True)
class _Watch:
    """What the reloader watches besides the modules: Flask's ``--extra-files`` and
    ``--exclude-patterns`` (fnmatch patterns on the absolute path), as werkzeug's."""

    extra_files: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()

    def files(self, found: dict[Path, float]) -> dict[Path, float]:
        """*found* and the extra files (a folder: its ``.py`` files), less the excluded."""
        found = dict(found)
        for extra in map(Path, self.extra_files):
            if extra.is_dir():
                found.update(_sources_under(extra.absolute()))
            else:
                with contextlib.suppress(OSError):  # a missing file isn't a change
                    found[extra.absolute()] = extra.stat().st_mtime
        patterns = self.exclude_patterns
        return {
            path: mtime
            for path, mtime in found.items()
            if not any(fnmatch.fnmatch(os.path.abspath(path), p) for p in patterns)
        }


def _wait_for_a_fix(stopping: list[int], watch: _Watch = _Watch()) -> bool:
    """Wait for a source file to change (True), or for a signal to stop (False)."""
    from hypercorn.utils import check_for_updates
    from hypercorn.utils import files_to_watch

    # The times are taken before the message: a fix saved as it shows still counts.
    files = watch.files({**_sources_under(Path.cwd()), **files_to_watch()})
    click.echo(" * A worker exited; restarting when a file changes.", err=True)
    while not stopping:
        if check_for_updates(files):
            return True
        time.sleep(0.5)
    return False


def _sources_under(root: Path, most: int = 10_000) -> dict[Path, float]:
    """The ``.py`` files under *root* and their times: a module only a worker imported
    (the one that broke it, maybe) is watched too, as werkzeug's reloader does."""
    found: dict[Path, float] = {}
    for folder, folders, names in os.walk(root):
        folders[:] = [f for f in folders if not f.startswith(".") and f not in _SKIP]
        for name in names:
            if name.endswith(".py") and len(found) < most:
                with contextlib.suppress(OSError):
                    path = Path(folder, name)
                    found[path] = path.stat().st_mtime
    return found


_SKIP = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})


def _lifespan_failure(error: Exception) -> str:  # hypercorn's error names the stage
    shutdown = str(error).startswith("Lifespan failure in shutdown")
    return f"The app failed to {'shut down' if shutdown else 'start'}: {error}"


def _supervise(config: Any, workers: int, watch: _Watch | None) -> int:
    """Run *workers* processes, restarted when a watched file changes; the first non-zero exit.

    Not hypercorn's supervisor, whose stop the app can't see (no drain): SIGTERM closes
    websockets with 1001 (1012 when the reloader restarts)."""
    import signal
    from multiprocessing.connection import wait

    from hypercorn.utils import check_for_updates
    from hypercorn.utils import files_to_watch

    reload = watch is not None
    # In a folder of our own: a name others can guess could be a planted link.
    error_file = Path(tempfile.mkdtemp(prefix="microframework-"), "load-error")
    if reload:
        os.environ[RELOADER_ENV] = "1"
        os.environ[LOAD_ERROR_ENV] = str(error_file)
    spawn = multiprocessing.get_context("spawn")
    sockets = config.create_sockets()
    stopping: list[int] = []
    handlers = {
        number: signal.signal(number, lambda signum, _: stopping.append(signum))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while True:
            kwargs = {"config": config, "sockets": sockets}
            processes = [
                spawn.Process(target=_worker, kwargs=kwargs) for _ in range(workers)
            ]
            with _main_not_imported():
                for process in processes:
                    process.start()
            files = watch.files(files_to_watch()) if watch is not None else {}
            changed = False
            while not stopping and _running(config, spawn, processes, kwargs):
                wait([p.sentinel for p in processes], timeout=1)
                if changed := reload and check_for_updates(files):
                    break
            for process in processes:
                if process.is_alive():
                    process.terminate()  # SIGTERM: the app drains, then exits
            for process in processes:
                process.join()
            if watch is not None and not changed and not stopping:  # failed to start
                with _answering(spawn, config, sockets, error_file):
                    changed = _wait_for_a_fix(stopping, watch)
            if not changed:
                # A worker still starting up when SIGTERM came ends by it: no failure.
                codes = [p.exitcode for p in processes if p.exitcode != -signal.SIGTERM]
                return next((code for code in codes if code), 0)
    finally:
        os.environ.pop(LOAD_ERROR_ENV, None)
        shutil.rmtree(error_file.parent, ignore_errors=True)
        for number, handler in handlers.items():
            signal.signal(number, handler)
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()


def _running(config: Any, spawn: Any, processes: list[Any], kwargs: Any) -> bool:
    """All alive, once those retired at ``max_requests`` (exit 0) are replaced."""
    ended = [i for i, process in enumerate(processes) if not process.is_alive()]
    if ended and (
        getattr(config, "max_requests", None) is None
        or any(processes[i].exitcode for i in ended)
    ):
        return False
    for i in ended:
        processes[i] = spawn.Process(target=_worker, kwargs=kwargs)
        with _main_not_imported():
            processes[i].start()
    return True


def _main_to_run() -> str | None:
    # How to run __main__ again: by its module name (python -m) or its file's path.
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name == "__main__":  # python dir/ or a zipapp: its __main__.py, by the path
        return f"path:{os.path.abspath(sys.argv[0])}"
    if name is not None:
        return f"module:{name}"
    path = getattr(main, "__file__", None)
    return None if path is None else f"path:{os.path.abspath(path)}"


@contextlib.contextmanager
def _main_not_imported() -> Iterator[None]:
    """Keep spawn from importing ``__main__`` in the workers when they run it (above):
    its top level would run twice, and without its main block the app isn't set up."""
    main = sys.modules.get("__main__")
    if SERVE_MAIN_ENV not in os.environ or main is None:
        yield
        return
    saved: dict[str, Any] = {
        key: vars(main)[key] for key in ("__spec__", "__file__") if key in vars(main)
    }
    main.__spec__ = None
    vars(main).pop("__file__", None)
    try:
        yield
    finally:
        vars(main).update(saved)


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 in brackets


def _check_bind(host: str, port: int, bind: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            return int(probe.getsockname()[1])
    except OSError as error:
        busy = error.errno == errno.EADDRINUSE
        hint = " Is another server running? Try another port." if busy else ""
        raise click.ClickException(
            f"Could not listen on {bind}: {error.strerror or error}.{hint}"
        ) from None


def _worker(config: Any, sockets: Any) -> None:
    """A worker process: hypercorn's, but a failure to start is an ``Error:`` line."""
    from hypercorn.asyncio.run import asyncio_worker
    from hypercorn.utils import LifespanFailureError

    try:
        if (main := os.environ.get(SERVE_MAIN_ENV)) is None:
            asyncio_worker(config, sockets)
        elif not _run_main(main, config, sockets):
            if SERVE_APP_ENV not in os.environ:  # nothing else to find the app by
                raise click.ClickException(
                    f"{main.partition(':')[2]}, run again in the reloader's worker,"
                    " did not call app.run() there"
                )
            asyncio_worker(config, sockets)
    except click.ClickException as error:  # the app could not be loaded
        error.show()
        _record_load_error(error.format_message())
        sys.exit(error.exit_code)
    except LifespanFailureError as error:  # the app logged its traceback already
        click.ClickException(message := _lifespan_failure(error)).show()
        _record_load_error(message)
        sys.exit(1)
    except Exception as error:  # the script (run again) failed before serving
        if not _worker_serving:
            raise
        text = "".join(traceback.format_exception(error))
        click.echo(text, err=True)
        _record_load_error(text)
        sys.exit(1)


def _record_load_error(text: str) -> None:
    # For the reloader's supervisor, which answers with it until a fix (_answering).
    if (path := os.environ.get(LOAD_ERROR_ENV)) is not None:
        Path(path).write_text(text, encoding="utf-8", errors="replace")


@contextlib.contextmanager
def _answering(spawn: Any, config: Any, sockets: Any, path: Path) -> Iterator[None]:
    """While the app fails to load, answer each request with why, as Flask's reloader
    does, rather than leave it hanging on the open socket until a fix."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.unlink(missing_ok=True)
    debug = os.environ.get(DEBUG_ENV) == "1"  # the traceback is for debug mode only
    kwargs = {"config": config, "sockets": sockets, "text": text if debug else ""}
    process = spawn.Process(target=_error_worker, kwargs=kwargs)
    with _main_not_imported():
        process.start()
    try:
        yield
    finally:
        process.terminate()
        process.join()


def _error_worker(config: Any, sockets: Any, text: str) -> None:
    from hypercorn.asyncio.run import asyncio_worker

    global _load_error
    _load_error = (text or "See the server's log.").encode()
    config.application_path = f"{__name__}:_load_error_app"
    asyncio_worker(config, sockets)


async def _load_error_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (kind := (await receive())["type"]) != "lifespan.shutdown":
            await send({"type": f"{kind}.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "http":
        body = b"The app failed to load; it loads again when a file changes.\n\n"
        body += _load_error
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:  # a websocket: refused before its handshake
        await send({"type": "websocket.close", "code": 1011})


def _worker_app() -> Microframework | DebugPages:
    """The app for hypercorn: this process's, or the one ``MICROFRAMEWORK_SERVE_APP``
    names; in debug mode behind the debug page's middleware."""
    app = getattr(_serving_here, "app", None) or _serving_app or _loaded_app()
    if app.debug:
        from .debug import DebugPages  # only debug mode needs it

        return DebugPages(app)
    return app


def _run_main(main: str, config: Any, sockets: Any) -> bool:
    """Run ``__main__`` again, main block and all, as Flask's reloader runs the command:
    its ``app.run()`` serves here (see :func:`run_app`), with what the script sets up
    around it (config, a factory's app, a pool); code after it runs after. True if served."""
    import runpy

    _worker_serving[:] = [config, sockets]
    kind, _, target = main.partition(":")
    try:
        if kind == "path":
            runpy.run_path(target, run_name="__main__")
        else:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    except SystemExit:  # a console script's sys.exit(main())
        if _worker_serving:
            raise
    served = not _worker_serving
    _worker_serving.clear()  # else the fallback app's own app.run() would serve again
    return served


def _serve_in_worker(app: Microframework) -> None:
    from hypercorn.asyncio.run import asyncio_worker

    global _serving_app
    config, sockets = _worker_serving
    _worker_serving.clear()
    if DEBUG_ENV in os.environ:
        app.debug = get_debug_flag()  # as the first process's app.run() settled it
    _serving_app = app
    asyncio_worker(config, sockets)
    # Out of the script's with/finally blocks, not past app.run(): code after it runs once.
    raise SystemExit(0)


def _loaded_app() -> Microframework:
    from .cli import locate_app  # it imports the app, which imports this module

    module_name, _, name = os.environ[SERVE_APP_ENV].partition(":")
    app = locate_app(module_name, name or None)
    if DEBUG_ENV in os.environ:
        app.debug = get_debug_flag()
    return app


def run_app(
    app: Microframework,
    host: str | None = None,
    port: int | None = None,
    use_reloader: bool | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    debug: bool | None = None,
    **options: Any,
) -> None:
    """What ``app.run()`` does: serve *app* for development, errors as one line."""
    if os.environ.get(RUN_FROM_CLI_ENV) == "true" and not _running_here:
        # A worker importing it again stays quiet; one rerunning a main block serves.
        if _worker_serving:
            _serve_in_worker(app)
        elif SERVE_APP_ENV not in os.environ:
            click.secho(
                " * Ignoring a call to 'app.run()': the 'microframework' command is"
                " running. Put 'app.run()' under 'if __name__ == \"__main__\":'.",
                err=True,
                fg="red",
            )
        return
    _refuse_a_running_loop()
    _settle_debug(app, debug, options.pop("load_dotenv", True))
    reload = bool(app.debug) if use_reloader is None else use_reloader
    locator = _locator_for_instance(app)
    reload = reload and _can_reload(app, locator)
    host, port = default_address(app, host, port)
    _drop_werkzeug_options(options)
    # Worker processes import the script again; this stops its app.run() there.
    os.environ[RUN_FROM_CLI_ENV] = "true"  # (not for this process's other threads)
    _running_here.append(here := object())
    try:
        exit_code = serve_app(
            app,
            host=host,
            port=port,
            use_reloader=reload,
            certfile=certfile,
            keyfile=keyfile,
            locator=locator,
            # As Flask's reloader runs the command again: a launcher's main() (a
            # console script) sets up what the app needs before app.run().
            main_first=True,
            **options,
        )
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None
    finally:
        _running_here.remove(here)
        if not _running_here:  # another thread's may still spawn workers
            os.environ.pop(RUN_FROM_CLI_ENV, None)
    if exit_code:
        raise SystemExit(exit_code)


def run_on_loop(
    app: Microframework,
    loop: asyncio.AbstractEventLoop,
    host: str | None,
    port: int | None,
    debug: bool | None,
    certfile: str | None,
    keyfile: str | None,
    options: dict[str, Any],
) -> None:
    """What ``app.run(loop=...)`` does, as in Quart: serve in this process, on *loop*."""
    if debug is not None:
        app.debug = debug
    host, port = default_address(app, host, port)
    ca_certs = options.pop("ca_certs", None)
    if options:  # Quart warns too: only run_task's settings apply here
        names = ", ".join(sorted(options))
        warnings.warn(f"app.run(loop=...) ignores {names}", UserWarning, stacklevel=3)
    loop.run_until_complete(app.run_task(host, port, None, ca_certs, certfile, keyfile))


def _can_reload(app: Microframework, locator: str | None) -> bool:
    """Can a worker process make the app again? If not, say so."""
    # A script's own (made in main()) comes back in the worker running it; others can't.
    why = None
    if locator is None and (app.import_name != "__main__" or _main_to_run() is None):
        why = "needs the app as a module-level variable"
    elif (locator or "").startswith("__main__:") and _main_to_run() is None:
        why = "can't run code with no file (python -c, a REPL) again in a new process"
    elif threading.current_thread() is not threading.main_thread():
        why = "needs the main thread, where signals arrive"
    elif multiprocessing.parent_process() is not None:
        # Its worker could not repeat what the parent's target did before app.run().
        why = "can't restart a process multiprocessing started"
    if why is not None:
        app.logger.warning("The reloader %s; serving without it.", why)
    return why is None


def _refuse_a_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    # Else hypercorn would fail to start its own loop, after a traceback.
    click.ClickException(
        "app.run() can't serve from a running event loop; use"
        " 'await app.run_task()' there."
    ).show()
    raise SystemExit(1)


def _settle_debug(app: Microframework, debug: bool | None, load: bool) -> None:
    # Flask's order: the env files, then the debug flag they set, then app.run's own.
    if get_load_dotenv(load):
        load_dotenv()
        if DEBUG_ENV in os.environ:
            app.debug = get_debug_flag()
    if debug is not None:
        app.debug = debug


def _drop_werkzeug_options(options: dict[str, Any]) -> None:
    for name in _WERKZEUG_ONLY.intersection(options):
        # Flask's debugging guide passes these; as in Quart, warn and serve anyway.
        warnings.warn(
            f"app.run({name}=...) is an option of werkzeug's server; hypercorn"
            " serves here, so it is ignored",
            stacklevel=4,  # the caller of app.run
        )
        del options[name]


def default_address(
    app: Microframework, host: str | None, port: int | None
) -> tuple[str, int]:
    """As Flask and Quart: SERVER_NAME's host and port are the defaults; port 0 is kept."""
    name_host, _, name_port = (app.config.get("SERVER_NAME") or "").partition(":")
    if not port and port != 0:  # None or "" (an empty PORT variable), as Flask
        port = int(name_port) if name_port else 5000
    # int(): as Flask, for app.run(port=os.environ.get("PORT", 5000)).
    return host or name_host or "127.0.0.1", int(port)


def serve_task(
    app: Microframework,
    host: str,
    port: int,
    ca_certs: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    shutdown_trigger: Callable[..., Awaitable[Any]] | None = None,
) -> Coroutine[Any, Any, None]:
    """``app.run_task()``: hypercorn's ``serve`` coroutine, for a loop the caller runs."""
    from hypercorn.asyncio import serve

    from ._accesslog import logged_config

    config = logged_config()
    config.bind = [_bind_address(host, port)]
    config.ca_certs, config.certfile, config.keyfile = ca_certs, certfile, keyfile
    config.graceful_timeout = _graceful(app)
    off_main = threading.current_thread() is not threading.main_thread()
    if shutdown_trigger is None and off_main:
        # hypercorn can't set signal handlers off the main thread: serve until cancelled.
        shutdown_trigger = asyncio.Event().wait
    if shutdown_trigger is not None:  # no signal then: the trigger starts the drain
        shutdown_trigger = app.drain.after(shutdown_trigger, app.config)
    return serve(app, config, shutdown_trigger=shutdown_trigger)


def _graceful(app: Microframework) -> float:
    grace = app.config["SHUTDOWN_GRACE_PERIOD"]  # hypercorn's 3 s would cut it: 500s
    return max(3.0, grace + 1.0) if isinstance(grace, int | float) else 3.0


def _locator_for_instance(app: Microframework) -> str | None:
    for module_name in dict.fromkeys((app.import_name, "__main__")):
        module = sys.modules.get(module_name)
        for name, value in vars(module).items() if module is not None else ():
            if value is app:
                return f"{module_name}:{name}"
    return None
