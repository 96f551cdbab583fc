"""Pins from mutation testing (helper muts54, session 38): the survivors among the
mutants of this session's lines of ``formparser.py``, ``files.py``,
``wrappers/filebody.py``, ``datastructures.py``, ``testing/cookies.py`` and ``_drain.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s38/muts54/REPORT.md).
"""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from servers import LIMIT
from tests.test_formparser import _close_parsed_files  # noqa: F401 (autouse)
from tests.test_formparser import BOUNDARY
from tests.test_formparser import encode
from tests.test_formparser import parse
from tests.test_formparser import part
from werkzeug.sansio.multipart import MultipartDecoder

from microframework import Microframework
from microframework import send_file

DASHED = b"--" + BOUNDARY.encode()


def _two_files() -> bytes:
    return encode(
        [
            part("f", b"x" * 20_000, filename="f.bin"),
            part("g", b"y" * 20_000, filename="g.bin"),
        ]
    )


def test_a_chunk_that_begins_with_the_delimiter_right_after_a_header_block() -> None:
    # formparser._MultipartReader._data_end: a "--boundary" at the chunk's first byte,
    # the decoder's buffer empty (the header block before it just ended), is "near
    # one": a slice of the limit (P5). Returning its position fed nothing and the
    # reader looped for ever on the same byte, in the event loop. The parse runs in a
    # thread of its own so that a loop without an await cannot hang the test run.
    head = DASHED + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
    rest = (
        DASHED + b'\r\nContent-Disposition: form-data; name="g"; filename="g.bin"'
        b"\r\n\r\n" + b"y" * 20_000 + b"\r\n" + DASHED + b"--\r\n"
    )
    result: list[object] = []

    def run() -> None:
        asyncio.run(parse([head, rest]))
        result.append("parsed")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(LIMIT)
    assert not worker.is_alive(), "the parse never ended"
    # What it parses to is werkzeug's decoder's business (it reads this body, which
    # lacks the line break before the delimiter, differently in one chunk); that it
    # ends is this reader's.
    assert result == ["parsed"]


@pytest.mark.parametrize("cut", [-9000, -200, 0, 1, 5, len(DASHED) - 1, len(DASHED)])
async def test_a_header_block_goes_to_the_decoder_in_slices_of_the_limit(
    monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    # formparser._MultipartReader._data_end: part data goes in one piece up to the next
    # delimiter, never past it (P8: the rest of the chunk; P9: a delimiter at the
    # chunk's start missed), nor past one begun in the buffer (P6, P7): the header
    # block after a delimiter reaches the decoder a slice of max_part_header_size at
    # a time, so that the buffer stays bounded by the limit, not by the chunk.
    fed: list[bytes] = []
    receive_data = MultipartDecoder.receive_data

    def recorded(self: MultipartDecoder, data: bytes | None) -> None:
        fed.append(bytes(data or b""))
        receive_data(self, data)

    monkeypatch.setattr(MultipartDecoder, "receive_data", recorded)
    body = _two_files()
    at = body.index(b"\r\n" + DASHED, 100) + 2 + cut  # where the second chunk begins
    form, files = await parse([body[:at], body[at:]])
    assert files["g"].read() == b"y" * 20_000
    (piece,) = [p for p in fed if b'name="g"' in p]
    assert len(piece) <= 8192 + len(DASHED), len(piece)


class _Recorded(io.BytesIO):
    """A BytesIO that records the threads its seek() ran in."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.seek_threads: set[int] = set()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.seek_threads.add(threading.get_ident())
        return super().seek(offset, whence)


@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=100-199"}])
async def test_a_bytesio_seeks_in_the_loop_not_in_a_thread(
    headers: dict[str, str],
) -> None:
    # files._measure and FileBody._chunks' seek: a BytesIO (as a real file) is a cheap
    # seek, done in the loop (F2: always a thread; B2: the seek always in a thread;
    # B4, B5: BytesIO not in CHEAP_SEEK): a thread hop per send_file of bytes in memory.
    data = bytes(range(256)) * 4
    file = _Recorded(data)
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> object:
        return await send_file(file, mimetype="application/octet-stream")

    async with asyncio.timeout(LIMIT):
        response = await app.test_client().get("/", headers=headers)
        body = await response.get_data()
    assert body == (data[100:200] if headers else data)
    assert file.seek_threads == {threading.get_ident()}


def _spooled_on_disk(size: int) -> tuple[object, threading.Event, list[int]]:
    """A rolled-over SpooledTemporaryFile of *size* bytes (sparse) that records the
    thread that closed it."""
    import tempfile

    closed_in: list[int] = []
    done = threading.Event()

    class Recorded(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def close(self) -> None:
            super().close()
            closed_in.append(threading.get_ident())
            done.set()

    stream = Recorded(max_size=1)
    stream.write(b"xx")  # past max_size: on disk
    stream.truncate(size)
    return stream, done, closed_in


def test_an_upload_file_under_the_threshold_is_closed_when_close_returns() -> None:
    # datastructures.FileStorage.close: under CLOSE_OFF_LOOP (16 MiB) the file is closed
    # there and then (D8: every file on disk in a thread; D2: the test flipped): code
    # that closes an upload and then removes or reuses it sees it closed.
    from microframework.datastructures import FileStorage

    stream, _, closed_in = _spooled_on_disk(16 * 1024 * 1024 - 1)
    FileStorage(stream, filename="up.bin").close()  # type: ignore[arg-type]
    assert stream.closed  # type: ignore[attr-defined]
    assert closed_in == [threading.get_ident()]


def test_an_upload_file_of_16_mib_on_disk_is_closed_in_another_thread() -> None:
    # datastructures.FileStorage.close: at CLOSE_OFF_LOOP (16 MiB) and past it, freeing
    # the file's pages is a thread's work, not the loop's (D3: a threshold never
    # reached; D5: closed in the caller's thread as well).
    from microframework.datastructures import FileStorage

    stream, done, closed_in = _spooled_on_disk(16 * 1024 * 1024)
    FileStorage(stream, filename="up.bin").close()  # type: ignore[arg-type]
    assert done.wait(LIMIT)
    assert closed_in and threading.get_ident() not in closed_in


def test_closing_an_upload_twice_is_harmless() -> None:
    # datastructures.FileStorage.close: a file already closed is not measured (D4:
    # os.fstat of a closed file, a ValueError): the view closes an upload, then the
    # request's teardown closes them all.
    from microframework.datastructures import FileStorage

    stream, done, _ = _spooled_on_disk(16 * 1024 * 1024)
    storage = FileStorage(stream, filename="up.bin")  # type: ignore[arg-type]
    storage.close()
    assert done.wait(LIMIT)
    storage.close()
    assert stream.closed  # type: ignore[attr-defined]


def test_an_upload_in_memory_closes() -> None:
    # datastructures.FileStorage.close: only a SpooledTemporaryFile is asked for its
    # name (D7: a BytesIO has none, an AttributeError).
    from microframework.datastructures import FileStorage

    stream = io.BytesIO(b"abc")
    FileStorage(stream, filename="a.txt").close()
    assert stream.closed
