"""Serve one benchmark app with one server, one worker: the process ``e2e.py`` and
``soak.py`` start, pin to a core and stop by PID.

The rule: the server is configured only where the benchmark needs it to be (bind
address, no access log, the protocol for ``--http``); everything else is the server's
default, so the numbers are what a user gets out of the box. SIGTERM and SIGINT stop
it gracefully. Apps are named as in ``run.py`` (``bare``, ``microframework``, ...),
plus ``soak``.

With ``--gc-stats PATH``, every SIGUSR1 writes what the cyclic garbage collector did
since the previous one (collections per generation, total and longest pause) to PATH
as JSON, so ``e2e.py`` can put GC pauses beside each measurement's latency.

Usage: python benchmarks/serve.py {hypercorn,uvicorn} APP --port N
       [--host 127.0.0.1] [--http auto|zttp] [--keep-alive S] [--gc-stats PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
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


class GCStats:
    """Collections and pauses of the cyclic GC, written to a file on each SIGUSR1."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sequence = 0
        self._started = 0.0
        self._reset()
        gc.callbacks.append(self._callback)
        signal.signal(signal.SIGUSR1, self._write)

    def _reset(self) -> None:
        self.collections = [0, 0, 0]
        self.pause_total = 0.0
        self.pause_max = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self.collections[info["generation"]] += 1
        self.pause_total += pause
        self.pause_max = max(self.pause_max, pause)

    def _write(self, signum: int, frame: FrameType | None) -> None:
        self.sequence += 1
        report = {
            "sequence": self.sequence,
            "collections": self.collections,
            "pause_total_ms": self.pause_total * 1000,
            "pause_max_ms": self.pause_max * 1000,
        }
        self._reset()
        partial = self.path.with_suffix(".part")
        partial.write_text(json.dumps(report))
        os.replace(partial, self.path)  # readers never see half a report


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
    parser.add_argument(
        "--gc-stats", type=Path, help="on SIGUSR1, write GC collections and pauses here"
    )
    args = parser.parse_args(argv)
    if args.gc_stats is not None:
        GCStats(args.gc_stats)
    app = load_app(args.app)
    if args.server == "hypercorn":
        asyncio.run(_hypercorn(app, args.host, args.port, args.keep_alive))
    else:
        _uvicorn(app, args.host, args.port, args.http, args.keep_alive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
