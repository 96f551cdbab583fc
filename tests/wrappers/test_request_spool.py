"""``get_body_file``: a buffered body spills to disk past ``BODY_SPOOL_SIZE``."""

from __future__ import annotations

from typing import IO

from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework
from microframework import request


async def test_small_body_stays_in_memory_and_large_one_spills(
    app: Microframework,
) -> None:
    app.config["BODY_SPOOL_SIZE"] = 10
    seen: list[tuple[bool, bytes]] = []
    files: list[IO[bytes]] = []

    @app.post("/")
    async def index() -> str:
        body_file = await request.get_body_file()
        files.append(body_file)
        rolled = bool(getattr(body_file, "_rolled", False))
        seen.append((rolled, body_file.read()))
        return "ok"

    await call(app, http_scope("/", method="POST"), Recorder(b"12345"))
    await call(app, http_scope("/", method="POST"), Recorder(b"123456", b"789012"))
    assert seen == [(False, b"12345"), (True, b"123456789012")]
    # Closed when the request ended, so no temporary file is left behind.
    assert all(f.closed for f in files)


async def test_body_file_after_get_data_reuses_the_cached_bytes(
    app: Microframework,
) -> None:
    @app.post("/")
    async def index() -> bytes:
        data = await request.get_data()
        body_file = await request.get_body_file()
        return data + b"|" + body_file.read()

    rec = await call(app, http_scope("/", method="POST"), Recorder(b"abc"))
    assert rec.body == b"abc|abc"


async def test_body_file_respects_max_content_length(app: Microframework) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 4

    @app.post("/")
    async def index() -> str:
        await request.get_body_file()
        return "unreachable"

    rec = await call(app, http_scope("/", method="POST"), Recorder(b"abc", b"de"))
    assert rec.status == 413
