"""Serve one benchmark app with one server, one worker: the process ``e2e.py`` and
``soak.py`` start, pin to a core and stop by PID.

The rule: the server is configured only where the benchmark needs it to be (bind
address, no access log, the protocol for ``--http``); everything else is the server's
default, so the numbers are what a user gets out of the box. SIGTERM and SIGINT stop
it gracefully. Apps are named as in ``run.py`` (``bare``, ``microframework``, ...),
plus ``soak``.

Usage: python benchmarks/serve.py {hypercorn,uvicorn} APP --port N
       [--host 127.0.0.1] [--http auto|zttp] [--keep-alive S]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

APPS: dict[str, str] = {
    "bare": "apps.bare",
    "microframework": "apps.microframework_app",
    "starlette": "apps.starlette_app",
    "quart": "apps.quart_app",
    "blacksheep": "apps.blacksheep_app",
    "soak": "apps.soak_app",
}


def load_app(name: str) -> Any:
    """Import the app module for *name* and build its app."""
    return importlib.import_module(APPS[name]).create_app()


async def _hypercorn(app: Any, host: str, port: int, keep_alive: float | None) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    if keep_alive is not None:
        config.keep_alive_timeout = keep_alive
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)


def _uvicorn(
    app: Any, host: str, port: int, http: str, keep_alive: float | None
) -> None:
    import uvicorn

    options: dict[str, Any] = {}
    if keep_alive is not None:
        options["timeout_keep_alive"] = int(keep_alive)
    if http == "zttp":
        # HTTP/1.1 and prior-knowledge h2c on one port, through the zttp parser.
        options.update(http="zttp", http2=True)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        log_level="warning",
        access_log=False,
        lifespan="on",
        **options,
    )
    uvicorn.Server(config).run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("server", choices=("hypercorn", "uvicorn"))
    parser.add_argument("app", choices=list(APPS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--http",
        choices=("auto", "zttp"),
        default="auto",
        help="uvicorn only: its default parser, or zttp (which also speaks h2c)",
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        help="seconds an idle connection is kept (default: the server's own)",
    )
    args = parser.parse_args(argv)
    app = load_app(args.app)
    if args.server == "hypercorn":
        asyncio.run(_hypercorn(app, args.host, args.port, args.keep_alive))
    else:
        _uvicorn(app, args.host, args.port, args.http, args.keep_alive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
