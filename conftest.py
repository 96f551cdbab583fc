"""Fixtures shared by ``tests/`` and ``examples/``: a real ``redis-server`` for broadcast.

Rule: the session starts its own ``redis-server`` on a free port (no persistence) and
stops it by PID; every test gets it flushed. Without the binary, or without the
``redis`` package, those tests skip with the reason, unless
``MICROFRAMEWORK_REQUIRE_REDIS`` is set (``.ci/run`` sets it): then they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

STARTUP_LIMIT = 10.0

# A 200 ms deadline fails a property that passes alone once the machine is loaded; no
# example database in the working tree, so no run replays what another one saved.
settings.register_profile("suite", deadline=None, database=None)
settings.load_profile("suite")
# The fuzz harness's checks are asserts in a helper module: rewritten, they check
# under ``python -O`` too.
pytest.register_assert_rewrite("fuzz_harness")


def free_port() -> int:
    """A TCP port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` subprocess on 127.0.0.1 that the test session owns."""

    def __init__(
        self, binary: str, directory: Path, *, persistent: bool = False
    ) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.args += ["--dir", str(directory), "--save", ""]
        # Persistent: every write is on disk before Redis answers, so a restart
        # keeps everything that was published.
        self.args += (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if persistent
            else ["--appendonly", "no"]
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.tls_url = ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_LIMIT
        # Polling an external process for readiness, bounded by the deadline.
        while self.command(b"PING") != b"+PONG":
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {self.args}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STARTUP_LIMIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def command(self, *words: bytes) -> bytes | None:
        """Send one inline command and return the first reply line (``None`` if down)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(b" ".join(words) + b"\r\n")
                return conn.makefile("rb").readline().rstrip(b"\r\n")
        except OSError:
            return None


def redis_binary() -> str:
    """The ``redis-server`` path, or skip (fail under MICROFRAMEWORK_REQUIRE_REDIS)."""
    binary = shutil.which("redis-server")
    missing = []
    if binary is None:
        missing.append("the redis-server binary (apt-get install redis-server)")
    if importlib.util.find_spec("redis") is None:
        missing.append("the redis package (pip install 'microframework[redis]')")
    if missing:
        reason = "Redis tests need " + " and ".join(missing)
        if os.environ.get("MICROFRAMEWORK_REQUIRE_REDIS"):
            pytest.fail(reason + " (MICROFRAMEWORK_REQUIRE_REDIS is set)")
        pytest.skip(reason)
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One non-persistent redis-server for the whole session."""
    server = RedisServer(redis_binary(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    if redis_server.command(b"FLUSHALL") != b"+OK":
        raise RuntimeError("redis-server stopped answering")
    return redis_server.url


@pytest.fixture
def make_redis_server(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start servers of this test's own (to stop, restart, or persist); all stop after it."""
    binary = redis_binary()
    servers: list[RedisServer] = []

    def make(*, persistent: bool = False, tls: bool = False) -> RedisServer:
        directory = tmp_path / f"redis-{len(servers)}"
        directory.mkdir()
        server = RedisServer(binary, directory, persistent=persistent)
        if tls and shutil.which("openssl") is None:
            pytest.skip("the TLS test makes its certificate with the openssl command")
        if tls:  # a self-signed certificate, and TLS on a second port
            cert, key = directory / "cert.pem", directory / "key.pem"
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                ]
                + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                check=True,
                capture_output=True,
                timeout=STARTUP_LIMIT,
            )
            tls_port = free_port()
            server.args += ["--tls-port", str(tls_port), "--tls-auth-clients", "no"]
            server.args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
            server.tls_url = f"rediss://127.0.0.1:{tls_port}/0?ssl_cert_reqs=none"
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()
