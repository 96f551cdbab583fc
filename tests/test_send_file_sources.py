"""send_file: what it takes from a file object and its arguments (session 38, muts52)."""

from __future__ import annotations

import datetime
import io
import threading
import time
from pathlib import Path

import pytest

from microframework import Microframework
from microframework import send_file


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data:text/html,photo.png", "image/png"),
        ("DATA:text/html;base64,photo.png", "image/png"),
        ("data:text/html,notes", "application/octet-stream"),
        ("a:b.html", "text/html; charset=utf-8"),
        ("archive.tar.gz", "application/x-tar"),
    ],
)
async def test_a_download_name_is_a_file_name_not_a_data_url(
    name: str, expected: str
) -> None:
    # mimetypes.guess_type() reads "data:text/html,photo.png" as a data: URL whose type is
    # text/html: an upload whose client-given name passed a ".png" check would be sent
    # back inline as HTML. The type comes from the name's extension only.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> object:
        return await send_file(io.BytesIO(b"<script></script>"), download_name=name)

    response = await app.test_client().get("/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.date(2020, 1, 2), "Thu, 02 Jan 2020 00:00:00 GMT"),
        (time.gmtime(1600000000), "Sun, 13 Sep 2020 12:26:40 GMT"),
        (datetime.datetime(2020, 1, 2, 3, 4, 5), "Thu, 02 Jan 2020 03:04:05 GMT"),
    ],
)
async def test_last_modified_takes_what_flask_takes(
    tmp_path: Path, value: object, expected: str
) -> None:
    # files._add_validators: werkzeug's http_date (so Flask's and Quart's send_file)
    # takes a date (a Date column) and a struct_time too; refusing them was a 500.
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> object:
        return await send_file(path, last_modified=value)  # type: ignore[arg-type]

    response = await app.test_client().get("/")

    assert response.status_code == 200
    assert response.headers["Last-Modified"] == expected


DATA = bytes(range(256)) * 64


class _SeekByReading(io.BufferedIOBase):
    """A zip member's kind of file: seek() reads (decompresses) up to the position.
    Records the threads its seek() ran in."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.seek_threads: set[int] = set()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._data.read(size)

    def tell(self) -> int:
        return self._data.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.seek_threads.add(threading.get_ident())
        return self._data.seek(offset, whence)


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({}, 200, DATA),
        ({"Range": "bytes=100-199"}, 206, DATA[100:200]),
        ({"Range": "bytes=-10"}, 206, DATA[-10:]),
    ],
    ids=["whole", "range", "suffix"],
)
async def test_a_file_objects_seek_runs_off_the_loop(
    headers: dict[str, str], status: int, body: bytes
) -> None:
    # files._source_for (the size: seek to the end) and FileBody._chunks (the seek to a
    # range): a zip member (zipfile.ZipFile.open) or a bz2/lzma file seeks by
    # decompressing up to the position, 1.5 s for a 64 MB member, and the loop (every
    # other request) waited on it. A BytesIO or a real file seeks in the loop.
    app = Microframework(__name__)
    file = _SeekByReading(DATA)

    @app.get("/")
    async def index() -> object:
        return await send_file(file, mimetype="application/octet-stream")

    response = await app.test_client().get("/", headers=headers)

    assert response.status_code == status
    assert await response.get_data() == body
    assert file.seek_threads
    assert threading.get_ident() not in file.seek_threads
