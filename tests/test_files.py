"""send_file, send_from_directory, safe_join, range parsing and the file body."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiofiles
import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.http import http_date
from werkzeug.http import parse_options_header

from microframework import files as files_module
from microframework import Microframework
from microframework import request
from microframework.conditional import MAX_RANGES
from microframework.conditional import parse_byte_ranges
from microframework.files import safe_join
from microframework.files import send_file
from microframework.files import send_from_directory
from microframework.signals import request_tearing_down
from microframework.wrappers import filebody
from microframework.wrappers.filebody import FileBody

CONTENT = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_text("hello world")
    return path


def _file_app(path: Path, **kwargs: Any) -> Microframework:
    app = Microframework(__name__, static_folder=None)
    app.testing = True

    @app.route("/file", methods=["GET", "HEAD", "POST"])
    async def file() -> Any:
        return await send_file(path, **kwargs)

    return app


async def _get(app: Microframework, **headers: str) -> Any:
    return await app.test_client().get(
        "/file", headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def _parse_byteranges(
    body: bytes, content_type: str
) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body into (headers, data) parts, strictly."""
    kind, options = parse_options_header(content_type)
    assert kind == "multipart/byteranges"
    delimiter = b"--" + options["boundary"].encode()
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, _, data = raw.partition(b"\r\n\r\n")
        headers = dict(
            line.decode().split(": ", 1) for line in head.split(b"\r\n") if line
        )
        parts.append((headers, data))
    return parts


# -- safe_join ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "unsafe",
    [
        "..",
        "../secret.txt",
        "a/../../secret.txt",
        "a/..",
        "/etc/passwd",
        "//etc/passwd",
        "a\x00b",
        "..\\secret.txt",
        "a\\b",
        "C:",
        "C:/Windows/win.ini",
        "c:secret.txt",
        "\ud800.txt",  # no file can have it: realpath raised, a 500 for a 404
    ],
)
def test_safe_join_rejects_unsafe_segments(tmp_path: Path, unsafe: str) -> None:
    assert safe_join(tmp_path, unsafe) is None


@pytest.mark.parametrize(
    "device",
    ["CON", "con.txt", "NUL.tar.gz", "AUX ", "a/NUL", "COM1", "LPT9.txt", "prn."]
    # werkzeug 3.1.5-3.1.9's advisories: a stream marker, and superscript digits.
    + ["NUL:", "CON::$DATA", "nul:stream", "COM1:", "COM\u00b9", "LPT\u00b2.txt"]
    + [" NUL", "NUL\t", "CON\u00a0"],  # werkzeug strips every space around
)
def test_safe_join_rejects_windows_device_names_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    # On Windows, opening one opens the device: a read that never ends.
    (tmp_path / "CONTACT.txt").write_text("x")
    with monkeypatch.context() as windows:  # only around the calls: pathlib reads it
        windows.setattr(os, "name", "nt")
        joined = [safe_join(tmp_path, name) for name in (device, "CONTACT.txt")]
    assert joined[0] is None
    assert joined[1] is not None


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("a.txt",), "a.txt"),
        (("sub", "a.txt"), "sub/a.txt"),
        (("./sub//a.txt",), "sub/a.txt"),
        (("sub/",), "sub"),
        (("dots..in..name",), "dots..in..name"),
    ],
)
def test_safe_join_joins_safe_segments(
    tmp_path: Path, parts: tuple[str, ...], expected: str
) -> None:
    assert safe_join(tmp_path, *parts) == os.path.join(tmp_path, expected)


def test_safe_join_rejects_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "up").symlink_to(tmp_path)

    assert safe_join(folder, "escape.txt") is None
    assert safe_join(folder, "up/secret.txt") is None


def test_safe_join_is_not_fooled_by_a_sibling_folder_sharing_the_prefix(
    tmp_path: Path,
) -> None:
    # Starlette CVE-2023-29159: a string-prefix check lets "static-old" pass as "static".
    folder = tmp_path / "static"
    sibling = tmp_path / "static-old"
    folder.mkdir()
    sibling.mkdir()
    (sibling / "secret.txt").write_text("secret")
    (folder / "old").symlink_to(sibling)

    assert safe_join(folder, "old/secret.txt") is None


def test_safe_join_allows_a_symlink_within_the_folder(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "real.txt")

    assert safe_join(tmp_path, "alias.txt") == os.path.join(tmp_path, "alias.txt")


def test_safe_join_refuses_non_str_parts(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="safe_join"):
        safe_join(tmp_path, b"a.txt")  # type: ignore[arg-type]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(["..", ".", "", "a", "b", "\\", ":", "\x00", "C:"]), max_size=8
    )
)
def test_safe_join_never_returns_a_path_outside_the_folder(
    tmp_path: Path, segments: list[str]
) -> None:
    folder = tmp_path / "root"
    (folder / "a").mkdir(parents=True, exist_ok=True)
    joined = safe_join(folder, "/".join(segments))
    if joined is not None:
        real = os.path.realpath(joined)
        assert os.path.commonpath((real, os.path.realpath(folder))) == os.path.realpath(
            folder
        )


# -- parse_byte_ranges -------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", [(0, 10)]),
        ("bytes=10-", [(10, 100)]),
        ("bytes=-10", [(90, 100)]),
        ("bytes=-1000", [(0, 100)]),
        ("bytes=90-1000", [(90, 100)]),
        ("bytes=0-0,2-2", [(0, 1), (2, 3)]),
        ("bytes=50-59, 0-9", [(0, 10), (50, 60)]),
        ("bytes=0-9,5-20", [(0, 21)]),
        ("bytes=0-9,10-19", [(0, 20)]),
        ("BYTES = 0-9", [(0, 10)]),
        ("bytes=0-9,,", [(0, 10)]),
        ("bytes=0-9,200-300", [(0, 10)]),
        ("bytes=200-300", []),
        ("bytes=100-", []),
        ("bytes=-0", []),
        ("bytes=0 - 4", [(0, 5)]),  # spaces around the numbers, as werkzeug
        ("bytes=0-0,5-6,6-8", [(0, 1), (5, 9)]),  # merged into the last span
        ("bytes=0005-10", [(5, 11)]),  # RFC 9110 1*DIGIT: leading zeros allowed
        ("bytes=" + "0" * 19 + "1-3", [(1, 4)]),  # past the digit cap only as text
        ("bytes=-" + "0" * 19 + "2", [(98, 100)]),
    ],
)
def test_parse_byte_ranges(header: str, expected: list[tuple[int, int]]) -> None:
    assert parse_byte_ranges(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    [
        "items=0-9",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes=abc",
        "bytes=9-0",
        "bytes=1-2-3",
        "bytes=--1",
        "bytes=+1-2",
        "bytes=\u00b2-3",
        "bytes=0x1-2",
        "bytes=5",
        "bytes=200000000000000000-100000000000000000",  # reversed, at the digit cap
        "bytes=2000000000000000000-1000000000000000000",  # and past it
        "bytes=10-09",
        "bytes=0-1,abc",  # one bad range spoils the header
    ],
)
def test_malformed_or_foreign_range_is_ignored(header: str) -> None:
    assert parse_byte_ranges(header, 100) is None


def test_range_on_an_empty_file_is_ignored() -> None:
    assert parse_byte_ranges("bytes=0-0", 0) is None
    assert parse_byte_ranges("bytes=0-0", 1) == [(0, 1)]  # one byte can be ranged


def test_the_documented_limit_is_ten_ranges() -> None:
    ten = "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(10))
    assert len(parse_byte_ranges(ten, 100) or []) == 10
    assert parse_byte_ranges(ten + ",40-40", 100) is None


def test_huge_numbers_in_a_range_are_clamped_not_converted() -> None:
    digits = "9" * 5000  # int() of this would raise (and burn CPU) past 4300 digits
    assert parse_byte_ranges(f"bytes=0-{digits}", 100) == [(0, 100)]
    assert parse_byte_ranges(f"bytes={digits}-", 100) == []
    assert parse_byte_ranges(f"bytes=-{digits}", 100) == [(0, 100)]


def test_more_ranges_than_the_cap_after_merging_are_ignored() -> None:
    header = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES + 1))
    assert parse_byte_ranges(header, 1000) is None
    header = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES))
    assert parse_byte_ranges(header, 1000) == [
        (i * 2, i * 2 + 1) for i in range(MAX_RANGES)
    ]


def test_a_range_storm_is_parsed_and_merged_in_linear_time() -> None:
    # 200k disjoint ranges: quadratic merging would take hours, linear takes ms.
    count = 200_000
    disjoint = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in reversed(range(count)))
    overlapping = "bytes=" + ",".join(f"{i}-{i + 10}" for i in range(count))
    started = time.process_time()  # CPU time: a loaded machine doesn't charge it
    assert parse_byte_ranges(disjoint, count * 2) is None
    assert parse_byte_ranges(overlapping, count * 2) == [(0, count + 10)]
    assert time.process_time() - started < 5


@given(st.text(max_size=60), st.integers(min_value=0, max_value=200))
def test_parse_byte_ranges_returns_sorted_disjoint_spans_or_none(
    header: str, size: int
) -> None:
    spans = parse_byte_ranges(header, size)
    if spans is None:
        return
    assert len(spans) <= MAX_RANGES
    for start, stop in spans:
        assert 0 <= start < stop <= size
    for (_, stop), (start, _) in zip(spans, spans[1:], strict=False):
        assert stop < start  # merged: neither overlapping nor adjacent


@given(
    st.lists(
        st.tuples(st.integers(0, 150), st.one_of(st.none(), st.integers(0, 150))),
        min_size=1,
        max_size=20,
    )
)
def test_parsed_ranges_cover_exactly_the_requested_bytes(
    specs: list[tuple[int, int | None]],
) -> None:
    size = 100
    header = "bytes=" + ",".join(
        f"{a}-" if b is None else f"{min(a, b)}-{max(a, b)}" for a, b in specs
    )
    wanted: set[int] = set()
    for a, b in specs:
        first, last = (a, size - 1) if b is None else (min(a, b), max(a, b))
        wanted.update(range(first, min(last, size - 1) + 1))
    spans = parse_byte_ranges(header, size)
    if spans is None:
        assert len(specs) > MAX_RANGES
        return
    assert {i for start, stop in spans for i in range(start, stop)} == wanted


# -- send_file: what is sent -------------------------------------------------------
async def test_send_file_with_a_path_sends_the_file_and_its_metadata(
    text_file: Path,
) -> None:
    response = await _get(_file_app(text_file))

    assert response.status_code == 200
    assert await response.get_data() == b"hello world"
    headers = response.headers
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Length"] == "11"
    assert headers["Content-Disposition"] == "inline; filename=hello.txt"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Cache-Control"] == "no-cache"
    stat = text_file.stat()
    assert headers["Last-Modified"] == http_date(int(stat.st_mtime))
    etag = headers["ETag"]
    assert etag.startswith(f'"{stat.st_mtime}-{stat.st_size}-')


async def test_send_file_accepts_a_pathlike_and_a_str(text_file: Path) -> None:
    for path in (text_file, str(text_file)):
        response = await _get(_file_app(path))  # type: ignore[arg-type]
        assert await response.get_data() == b"hello world"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("page.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("image.png", "image/png"),
        ("data.json", "application/json"),
        ("unknown.zzz-unknown", "application/octet-stream"),
    ],
)
async def test_send_file_guesses_the_mimetype_from_the_name(
    tmp_path: Path, name: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")

    response = await _get(_file_app(path))

    assert response.headers["Content-Type"] == expected


async def test_a_compressed_file_gets_content_encoding_unless_an_attachment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "archive.tar.gz"
    path.write_bytes(b"x")

    inline = await _get(_file_app(path))
    attached = await _get(_file_app(path, as_attachment=True))

    assert inline.headers["Content-Type"] == "application/x-tar"
    assert inline.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in attached.headers


async def test_explicit_mimetype_wins_over_the_guess(text_file: Path) -> None:
    response = await _get(_file_app(text_file, mimetype="application/x-custom"))

    assert response.headers["Content-Type"] == "application/x-custom"


async def test_send_file_with_bytesio_and_a_mimetype(app: Microframework) -> None:
    @app.get("/")
    async def index() -> Any:
        return await send_file(io.BytesIO(b"in memory"), mimetype="text/plain")

    response = await app.test_client().get("/")

    assert await response.get_data() == b"in memory"
    assert response.headers["Content-Length"] == "9"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "ETag" not in response.headers
    assert "Last-Modified" not in response.headers
    assert "Content-Disposition" not in response.headers


async def test_send_file_of_a_reader_without_close(app: Microframework) -> None:
    # Only read(): werkzeug's file wrapper serves it, closing only what has close().
    class OnlyRead:
        def __init__(self) -> None:
            self.data = io.BytesIO(b"hello")

        def read(self, size: int = -1) -> bytes:
            return self.data.read(size)

    @app.get("/")
    async def index() -> Any:
        return await send_file(OnlyRead(), mimetype="text/plain")  # type: ignore[arg-type]

    response = await app.test_client().get("/")
    assert await response.get_data() == b"hello"


async def test_bytesio_sends_from_its_current_position(app: Microframework) -> None:
    @app.get("/")
    async def index() -> Any:
        buffer = io.BytesIO(b"skip:keep")
        buffer.seek(5)
        return await send_file(buffer, mimetype="text/plain")

    response = await app.test_client().get("/", headers={"Range": "bytes=1-2"})

    assert response.status_code == 206
    assert await response.get_data() == b"ee"
    assert response.headers["Content-Range"] == "bytes 1-2/4"


async def test_bytesio_takes_its_mimetype_from_download_name(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> Any:
        return await send_file(io.BytesIO(b"{}"), download_name="data.json")

    response = await app.test_client().get("/")

    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"] == "inline; filename=data.json"


@pytest.mark.parametrize("error", [TypeError, ValueError])
async def test_file_object_without_a_name_or_mimetype_is_a_type_error(
    error: type[Exception],
) -> None:
    # Flask raises TypeError, Quart ValueError: code (and tests) expecting either.
    with pytest.raises(error, match="mimetype"):
        await send_file(io.BytesIO(b"x"))


async def test_attachment_of_a_nameless_file_object_needs_download_name() -> None:
    with pytest.raises(TypeError, match="download_name"):
        await send_file(io.BytesIO(b"x"), mimetype="text/plain", as_attachment=True)


async def test_text_mode_file_object_is_a_type_error(text_file: Path) -> None:
    with text_file.open() as handle, pytest.raises(TypeError, match="binary mode"):
        await send_file(handle)  # type: ignore[arg-type]


async def test_something_that_is_neither_path_nor_file_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="path_or_file"):
        await send_file(42)  # type: ignore[arg-type]


async def test_a_directory_path_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a regular file"):
        await send_file(tmp_path)


async def test_send_file_with_an_open_file_sends_it_and_closes_it(
    app: Microframework, data_file: Path
) -> None:
    handle = data_file.open("rb")

    @app.get("/")
    async def index() -> Any:
        return await send_file(handle)

    response = await app.test_client().get("/")

    assert await response.get_data() == CONTENT
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == "inline; filename=data.bin"
    assert handle.closed


async def test_a_non_seekable_file_object_is_streamed_without_a_length(
    app: Microframework,
) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks = [b"one ", b"two"]

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

    @app.get("/")
    async def index() -> Any:
        return await send_file(Pipe(), mimetype="text/plain")  # type: ignore[arg-type]

    response = await app.test_client().get("/", headers={"Range": "bytes=0-1"})

    assert response.status_code == 200
    assert await response.get_data() == b"one two"
    assert "Content-Length" not in response.headers
    assert "Accept-Ranges" not in response.headers


async def test_as_attachment_with_a_unicode_name_uses_rfc5987(
    text_file: Path,
) -> None:
    response = await _get(
        _file_app(text_file, as_attachment=True, download_name="Ñandú résumé €.txt")
    )

    value = response.headers["Content-Disposition"]
    assert value == (
        'attachment; filename="Nandu resume .txt";'
        " filename*=UTF-8''%C3%91and%C3%BA%20r%C3%A9sum%C3%A9%20%E2%82%AC.txt"
    )
    kind, options = parse_options_header(value)
    assert kind == "attachment"
    assert options["filename"] == "Ñandú résumé €.txt"  # werkzeug prefers filename*


async def test_as_attachment_with_an_ascii_name_quotes_only_when_needed(
    text_file: Path,
) -> None:
    plain = await _get(_file_app(text_file, as_attachment=True))
    spaced = await _get(
        _file_app(text_file, as_attachment=True, download_name='my "file".txt')
    )

    assert plain.headers["Content-Disposition"] == "attachment; filename=hello.txt"
    assert spaced.headers["Content-Disposition"] == (
        'attachment; filename="my \\"file\\".txt"'
    )


async def test_download_name_with_a_newline_is_a_value_error(text_file: Path) -> None:
    with pytest.raises(ValueError, match="download_name"):
        await send_file(text_file, download_name="a\r\nSet-Cookie: x=1")


@pytest.mark.parametrize("name", ["ctl\x01.txt", "del\x7f.txt"])
async def test_a_file_named_with_a_control_character_is_served(
    tmp_path: Path, name: str
) -> None:
    # Legal on disk (an uploads folder), not in a header: a 500 (Flask serves it).
    (tmp_path / name).write_bytes(b"data")
    response = await _directory_app(tmp_path).test_client().get(f"/d/{quote(name)}")
    assert response.status_code == 200
    assert await response.get_data() == b"data"
    _, options = parse_options_header(response.headers["Content-Disposition"])
    assert options["filename"] == name  # werkzeug reads filename*, the exact name


async def test_quarts_names_for_the_file_are_accepted(text_file: Path) -> None:
    app = Microframework(__name__, static_folder=None)

    @app.route("/file")
    async def file() -> Any:
        return await send_file(filename_or_io=text_file)

    @app.route("/from")
    async def from_directory() -> Any:
        return await send_from_directory(text_file.parent, file_name=text_file.name)

    client = app.test_client()
    for path in ("/file", "/from"):
        response = await client.get(path)
        assert response.status_code == 200
        assert await response.get_data() == text_file.read_bytes()


async def test_quarts_positional_order_is_refused_not_misread(text_file: Path) -> None:
    # Quart's sixth argument is cache_timeout, Flask's etag: 3600 was taken as
    # "etag on" and the cache time silently dropped.
    with pytest.raises(TypeError, match="by name"):
        await send_file(text_file, "text/plain", False, None, True, 3600)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="by name"):
        await send_file(text_file, add_etags=3600)  # type: ignore[arg-type]


async def test_quart_argument_names_are_accepted(text_file: Path) -> None:
    response = await _get(
        _file_app(
            text_file,
            as_attachment=True,
            attachment_filename="old.txt",
            cache_timeout=30,
            add_etags=False,
        )
    )

    assert response.headers["Content-Disposition"] == "attachment; filename=old.txt"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert "ETag" not in response.headers


@pytest.mark.parametrize(
    ("new", "old"),
    [
        ({"download_name": "a.txt"}, {"attachment_filename": "b.txt"}),
        ({"max_age": 1}, {"cache_timeout": 2}),
    ],
)
async def test_both_names_for_one_argument_is_a_type_error(
    text_file: Path, new: dict[str, Any], old: dict[str, Any]
) -> None:
    with pytest.raises(TypeError, match="not both"):
        await send_file(text_file, **new, **old)


async def test_a_string_etag_is_used_as_given(text_file: Path) -> None:
    response = await _get(_file_app(text_file, etag="v1"))

    assert response.headers["ETag"] == '"v1"'


async def test_last_modified_argument_overrides_the_mtime(text_file: Path) -> None:
    response = await _get(_file_app(text_file, last_modified=1_000_000_000))

    assert response.headers["Last-Modified"] == http_date(1_000_000_000)


# -- caching -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("max_age", "cache_control"),
    [
        (60, "public, max-age=60"),
        (timedelta(minutes=2), "public, max-age=120"),
        (0, "no-cache, max-age=0"),
        (lambda path: 5, "public, max-age=5"),
    ],
)
async def test_max_age_sets_cache_control_and_expires(
    text_file: Path, max_age: Any, cache_control: str
) -> None:
    response = await _get(_file_app(text_file, max_age=max_age))

    assert response.headers["Cache-Control"] == cache_control
    assert "Expires" in response.headers


@pytest.mark.parametrize(
    ("max_age", "error"),
    [(-1, ValueError), ("60", TypeError), (float("nan"), TypeError)],
)
async def test_invalid_max_age_is_refused(
    text_file: Path, max_age: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="max_age"):
        await send_file(text_file, max_age=max_age)


@pytest.mark.parametrize(
    ("config", "cache_control"),
    [
        (None, "no-cache"),
        (3600, "public, max-age=3600"),
        (timedelta(hours=2), "public, max-age=7200"),
    ],
)
async def test_send_file_max_age_default_comes_from_config(
    text_file: Path, config: Any, cache_control: str
) -> None:
    app = _file_app(text_file)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = config

    response = await _get(app)

    assert response.headers["Cache-Control"] == cache_control
    assert ("Expires" in response.headers) is (config is not None)


# -- conditional requests ----------------------------------------------------------
async def test_matching_if_none_match_is_304_without_body(text_file: Path) -> None:
    app = _file_app(text_file)
    etag = (await _get(app)).headers["ETag"]

    response = await _get(app, if_none_match=etag)

    assert response.status_code == 304
    assert await response.get_data() == b""
    assert response.headers["ETag"] == etag
    for name in ("Content-Length", "Content-Type", "Content-Disposition"):
        assert name not in response.headers


async def test_weak_if_none_match_also_gives_304(text_file: Path) -> None:
    app = _file_app(text_file)
    etag = (await _get(app)).headers["ETag"]

    assert (await _get(app, if_none_match=f"W/{etag}")).status_code == 304
    assert (await _get(app, if_none_match="*")).status_code == 304


async def test_other_if_none_match_is_200(text_file: Path) -> None:
    response = await _get(_file_app(text_file), if_none_match='"other"')

    assert response.status_code == 200
    assert await response.get_data() == b"hello world"


async def test_if_modified_since_at_the_mtime_is_304(text_file: Path) -> None:
    app = _file_app(text_file)
    last_modified = (await _get(app)).headers["Last-Modified"]

    response = await _get(app, if_modified_since=last_modified)

    assert response.status_code == 304


async def test_if_modified_since_before_the_mtime_is_200(text_file: Path) -> None:
    mtime = int(text_file.stat().st_mtime)

    response = await _get(_file_app(text_file), if_modified_since=http_date(mtime - 10))

    assert response.status_code == 200


async def test_if_none_match_wins_over_if_modified_since(text_file: Path) -> None:
    app = _file_app(text_file)
    last_modified = (await _get(app)).headers["Last-Modified"]

    response = await _get(app, if_none_match='"other"', if_modified_since=last_modified)

    assert response.status_code == 200


async def test_failed_if_match_is_412(text_file: Path) -> None:
    response = await _get(_file_app(text_file), if_match='"other"')

    assert response.status_code == 412


async def test_if_match_star_or_the_etag_is_200(text_file: Path) -> None:
    app = _file_app(text_file)
    etag = (await _get(app)).headers["ETag"]

    assert (await _get(app, if_match="*")).status_code == 200
    assert (await _get(app, if_match=etag)).status_code == 200
    # If-Match compares strongly: a weak tag never matches.
    assert (await _get(app, if_match=f"W/{etag}")).status_code == 412


@pytest.mark.parametrize("value", ["", ",", " , "])
async def test_a_validator_without_an_entity_tag_is_ignored(
    text_file: Path, value: str
) -> None:
    # As werkzeug (so Flask and Quart): no tag to compare is no precondition, so an
    # empty header doesn't lock a client out, nor hide If-Modified-Since.
    mtime = int(text_file.stat().st_mtime)
    app = _file_app(text_file)

    assert (await _get(app, if_match=value)).status_code == 200
    since = http_date(mtime + 10)
    assert (
        await _get(app, if_none_match=value, if_modified_since=since)
    ).status_code == 304


async def test_if_unmodified_since_before_the_mtime_is_412(text_file: Path) -> None:
    mtime = int(text_file.stat().st_mtime)
    app = _file_app(text_file)

    assert (
        await _get(app, if_unmodified_since=http_date(mtime - 10))
    ).status_code == 412
    assert (await _get(app, if_unmodified_since=http_date(mtime))).status_code == 200


async def test_conditional_false_ignores_validators_and_range(text_file: Path) -> None:
    app = _file_app(text_file, conditional=False)
    etag = (await _get(app)).headers["ETag"]

    not_modified = await _get(app, if_none_match=etag)
    ranged = await _get(app, range="bytes=0-1")

    assert not_modified.status_code == 200
    assert ranged.status_code == 200
    assert await ranged.get_data() == b"hello world"
    assert "Accept-Ranges" not in ranged.headers


async def test_post_is_not_answered_conditionally(text_file: Path) -> None:
    response = (
        await _file_app(text_file)
        .test_client()
        .post("/file", headers={"Range": "bytes=0-1"})
    )

    assert response.status_code == 200
    assert await response.get_data() == b"hello world"


async def test_304_closes_a_file_object(app: Microframework) -> None:
    buffer = io.BytesIO(b"data")

    @app.get("/")
    async def index() -> Any:
        return await send_file(buffer, mimetype="text/plain", etag="v1")

    response = await app.test_client().get("/", headers={"If-None-Match": '"v1"'})

    assert response.status_code == 304
    assert buffer.closed


# -- ranges ------------------------------------------------------------------------
async def test_single_range_is_206_with_content_range(data_file: Path) -> None:
    response = await _get(_file_app(data_file), range="bytes=10-19")

    assert response.status_code == 206
    assert await response.get_data() == CONTENT[10:20]
    assert response.headers["Content-Range"] == "bytes 10-19/1024"
    assert response.headers["Content-Length"] == "10"
    assert response.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=-100", 924, 1024),
        ("bytes=1000-", 1000, 1024),
        ("bytes=1000-5000", 1000, 1024),
    ],
)
async def test_suffix_and_open_ranges(
    data_file: Path, header: str, start: int, stop: int
) -> None:
    response = await _get(_file_app(data_file), range=header)

    assert response.status_code == 206
    assert await response.get_data() == CONTENT[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/1024"


async def test_multiple_ranges_are_multipart_byteranges(data_file: Path) -> None:
    response = await _get(_file_app(data_file), range="bytes=500-509,0-4,-3")

    assert response.status_code == 206
    body = await response.get_data()
    assert response.headers["Content-Length"] == str(len(body))
    assert "Content-Range" not in response.headers
    parts = _parse_byteranges(body, response.headers["Content-Type"])
    assert parts == [
        (
            {
                "Content-Type": "application/octet-stream",
                "Content-Range": "bytes 0-4/1024",
            },
            CONTENT[0:5],
        ),
        (
            {
                "Content-Type": "application/octet-stream",
                "Content-Range": "bytes 500-509/1024",
            },
            CONTENT[500:510],
        ),
        (
            {
                "Content-Type": "application/octet-stream",
                "Content-Range": "bytes 1021-1023/1024",
            },
            CONTENT[1021:],
        ),
    ]


async def test_multipart_parts_carry_the_file_content_type(text_file: Path) -> None:
    response = await _get(_file_app(text_file), range="bytes=0-0,6-6")

    parts = _parse_byteranges(
        await response.get_data(), response.headers["Content-Type"]
    )
    assert [headers["Content-Type"] for headers, _ in parts] == [
        "text/plain; charset=utf-8"
    ] * 2
    assert [data for _, data in parts] == [b"h", b"w"]


async def test_overlapping_ranges_are_merged_into_one(data_file: Path) -> None:
    response = await _get(_file_app(data_file), range="bytes=0-9,5-19,20-29")

    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 0-29/1024"
    assert await response.get_data() == CONTENT[:30]


async def test_a_range_storm_is_capped_to_a_full_response(data_file: Path) -> None:
    storm = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 1000 * 2, 2))
    overlapping = "bytes=" + ",".join(f"{i}-{i + 5}" for i in range(1000))
    app = _file_app(data_file)

    capped = await _get(app, range=storm)
    merged = await _get(app, range=overlapping)

    assert capped.status_code == 200
    assert await capped.get_data() == CONTENT
    assert merged.status_code == 206
    assert merged.headers["Content-Range"] == "bytes 0-1004/1024"


async def test_unsatisfiable_range_is_416_with_the_size(data_file: Path) -> None:
    response = await _get(_file_app(data_file), range="bytes=2000-3000")

    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */1024"


async def test_416_closes_a_file_object(app: Microframework) -> None:
    buffer = io.BytesIO(b"data")

    @app.get("/")
    async def index() -> Any:
        return await send_file(buffer, mimetype="text/plain")

    response = await app.test_client().get("/", headers={"Range": "bytes=10-"})

    assert response.status_code == 416
    assert buffer.closed


async def test_malformed_range_sends_the_whole_file(data_file: Path) -> None:
    response = await _get(_file_app(data_file), range="bytes=oops")

    assert response.status_code == 200
    assert await response.get_data() == CONTENT


async def test_if_range_with_the_current_etag_allows_the_range(data_file: Path) -> None:
    app = _file_app(data_file)
    etag = (await _get(app)).headers["ETag"]

    response = await _get(app, range="bytes=0-1", if_range=etag)

    assert response.status_code == 206
    assert await response.get_data() == CONTENT[:2]


@pytest.mark.parametrize("if_range", ['"stale"', "W/{etag}", "garbage"])
async def test_if_range_that_does_not_hold_sends_the_whole_file(
    data_file: Path, if_range: str
) -> None:
    app = _file_app(data_file)
    etag = (await _get(app)).headers["ETag"]

    response = await _get(app, range="bytes=0-1", if_range=if_range.format(etag=etag))

    assert response.status_code == 200
    assert await response.get_data() == CONTENT


async def test_if_range_with_the_last_modified_date(data_file: Path) -> None:
    app = _file_app(data_file)
    last_modified = (await _get(app)).headers["Last-Modified"]
    mtime = int(data_file.stat().st_mtime)

    current = await _get(app, range="bytes=0-1", if_range=last_modified)
    stale = await _get(app, range="bytes=0-1", if_range=http_date(mtime - 60))

    assert current.status_code == 206
    assert stale.status_code == 200


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(alphabet="bytes=-0123456789, \t", max_size=40))
async def test_any_range_header_is_200_206_or_416(data_file: Path, header: str) -> None:
    response = await _get(_file_app(data_file), range=header)

    assert response.status_code in (200, 206, 416)
    body = await response.get_data()
    assert response.headers.get("Content-Length", str(len(body))) == str(len(body))
    if response.status_code == 200:
        assert body == CONTENT


# -- HEAD, streaming, the body -----------------------------------------------------
async def test_head_sends_headers_but_no_body(data_file: Path) -> None:
    app = _file_app(data_file)

    recorder = await call(app, http_scope("/file", method="HEAD"))

    assert recorder.status == 200
    assert recorder.headers[b"content-length"] == b"1024"
    assert recorder.body == b""


async def test_head_closes_a_file_object(app: Microframework) -> None:
    buffer = io.BytesIO(b"data")

    @app.route("/", methods=["GET", "HEAD"])
    async def index() -> Any:
        return await send_file(buffer, mimetype="text/plain")

    response = await app.test_client().head("/")

    assert response.headers["Content-Length"] == "4"
    assert buffer.closed


async def test_a_large_file_is_streamed_in_chunks(tmp_path: Path) -> None:
    content = os.urandom(5 * 1024 * 1024 + 123)
    path = tmp_path / "large.bin"
    path.write_bytes(content)

    recorder = await call(_file_app(path), http_scope("/file"))

    bodies = [m["body"] for m in recorder.sent[1:] if m["body"]]
    assert b"".join(bodies) == content
    assert len(bodies) == -(-len(content) // filebody.CHUNK_SIZE)
    assert max(map(len, bodies)) == filebody.CHUNK_SIZE
    assert recorder.headers[b"content-length"] == str(len(content)).encode()


async def test_reads_are_chunk_sized(
    monkeypatch: pytest.MonkeyPatch, data_file: Path
) -> None:
    monkeypatch.setattr(filebody, "CHUNK_SIZE", 100)
    reads: list[int] = []
    original = FileBody._spans

    def counting(self: FileBody, seek: Any, read: Any) -> Any:
        async def counted(size: int) -> bytes:
            reads.append(size)
            result: bytes = await read(size)
            return result

        return original(self, seek, counted)

    monkeypatch.setattr(FileBody, "_spans", counting)

    recorder = await call(_file_app(data_file), http_scope("/file"))

    assert recorder.body == CONTENT
    assert reads == [100] * 10 + [24]


async def test_file_body_refuses_a_file_that_shrank(data_file: Path) -> None:
    body = FileBody(str(data_file), size=len(CONTENT) + 10)

    with pytest.raises(RuntimeError, match="ended 10 bytes early"):
        async for _ in body:
            pass


def test_file_body_needs_exactly_one_source(data_file: Path) -> None:
    with pytest.raises(TypeError, match="exactly one"):
        FileBody()
    with pytest.raises(TypeError, match="exactly one"):
        FileBody(str(data_file), io.BytesIO())
    with pytest.raises(ValueError, match="size"):
        FileBody(str(data_file), ranges=[(0, 1)])


async def test_send_file_works_outside_a_request(data_file: Path) -> None:
    response = await send_file(data_file)

    assert response.status_code == 200
    assert await response.get_data() == CONTENT


async def test_a_disconnect_mid_file_stops_reading(
    monkeypatch: pytest.MonkeyPatch, data_file: Path
) -> None:
    monkeypatch.setattr(filebody, "CHUNK_SIZE", 10)
    app = _file_app(data_file)
    recorder = Recorder()

    class Gone(OSError):
        pass

    async def send(message: dict[str, Any]) -> None:
        await recorder.send(message)
        if len(recorder.sent) == 3:
            raise Gone("peer closed")

    await app(http_scope("/file"), recorder.receive, send)

    assert len(recorder.sent) == 3  # start and two chunks, then nothing


# -- send_from_directory -----------------------------------------------------------
def _directory_app(folder: Path, **kwargs: Any) -> Microframework:
    app = Microframework(__name__, static_folder=None)

    @app.get("/d/<path:name>")
    async def serve(name: str) -> Any:
        return await send_from_directory(folder, name, **kwargs)

    return app


async def test_send_from_directory_serves_a_nested_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("nested")

    response = await _directory_app(tmp_path).test_client().get("/d/sub/a.txt")

    assert response.status_code == 200
    assert await response.get_data() == b"nested"


async def test_send_from_directory_passes_send_file_arguments(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    app = _directory_app(tmp_path, as_attachment=True, max_age=10)

    response = await app.test_client().get("/d/a.txt")

    assert response.headers["Content-Disposition"] == "attachment; filename=a.txt"
    assert response.headers["Cache-Control"] == "public, max-age=10"


@pytest.mark.parametrize(
    "name",
    ["missing.txt", "sub", "../outside.txt", "sub/../../outside.txt", "\ud800.txt"],
)
async def test_send_from_directory_is_404_for_missing_dirs_and_escapes(
    tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "root"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("secret")

    with pytest.raises(Exception) as info:
        await send_from_directory(folder, name)

    assert getattr(info.value, "code", None) == 404


# -- the server sends the file: pathsend and zerocopysend ---------------------------
async def _never_streamed(body: Any) -> bool:
    raise AssertionError("the server should have sent the file")


async def test_file_body_send_uses_pathsend_for_a_whole_file(data_file: Path) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope(extensions={"http.response.pathsend": {}})
    body = FileBody(str(data_file), size=len(CONTENT))

    assert await body.send(scope, send, _never_streamed) is True
    assert sent == [{"type": "http.response.pathsend", "path": str(data_file)}]


@pytest.mark.parametrize(
    ("scope", "body"),
    [
        (http_scope(), FileBody("/x", size=1)),
        (
            http_scope(extensions={"http.response.pathsend": {}}),
            FileBody(file=io.BytesIO(b"x"), size=1),
        ),
        (
            http_scope(extensions={"http.response.pathsend": {}}),
            FileBody("/x", size=2, ranges=[(0, 1)]),
        ),
        (
            http_scope(extensions={"http.response.zerocopysend": {}}),
            FileBody("/x", size=9, ranges=[(0, 1), (5, 6)]),
        ),
    ],
)
async def test_file_body_send_streams_what_the_server_cannot_send(
    scope: dict[str, Any], body: FileBody
) -> None:
    streamed: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"nothing should be sent, got {message}")

    async def stream(streaming: Any) -> bool:
        streamed.append(streaming)
        return True

    assert await body.send(scope, send, stream) is True
    assert streamed == [body]


@pytest.mark.parametrize(("size", "offset"), [(4, 10), (4, 0)])
async def test_file_body_send_streams_a_slice_pathsend_would_send_whole(
    data_file: Path, size: int, offset: int
) -> None:
    # pathsend sent the whole file under a Content-Length of 4.
    streamed: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"nothing should be sent, got {message}")

    async def stream(body: Any) -> bool:
        streamed.append(b"".join([chunk async for chunk in body]))
        return True

    scope = http_scope(extensions={"http.response.pathsend": {}})
    body = FileBody(str(data_file), size=size, offset=offset)

    assert await body.send(scope, send, stream) is True
    assert streamed == [CONTENT[offset : offset + size]]


@pytest.mark.parametrize(
    ("ranges", "start", "offset", "count"),
    [(None, 0, 0, 1024), ([(100, 150)], 0, 100, 50), (None, 100, 100, 50)],
)
async def test_file_body_send_uses_zerocopysend_with_a_real_descriptor(
    data_file: Path,
    ranges: list[tuple[int, int]] | None,
    start: int,
    offset: int,
    count: int,
) -> None:
    # (A FileBody's own offset was dropped: the first bytes of the file went.)
    seen: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        file = message["file"]
        os.lseek(file.fileno(), message["offset"], os.SEEK_SET)
        seen.append({**message, "data": os.read(file.fileno(), message["count"])})

    scope = http_scope(extensions={"http.response.zerocopysend": {}})
    size = len(CONTENT) if ranges or not start else count
    body = FileBody(str(data_file), size=size, offset=start, ranges=ranges)

    assert await body.send(scope, send, _never_streamed) is True
    (message,) = seen
    assert message["type"] == "http.response.zerocopysend"
    assert (message["offset"], message["count"]) == (offset, count)
    assert message["more_body"] is False
    assert message["data"] == CONTENT[offset : offset + count]
    assert message["file"].closed


async def test_pathsend_is_used_when_the_server_offers_it(data_file: Path) -> None:
    scope = http_scope("/file", extensions={"http.response.pathsend": {}})

    recorder = await call(_file_app(data_file), scope)

    assert recorder.status == 200
    assert recorder.headers[b"content-length"] == b"1024"
    assert recorder.sent[1:] == [
        {"type": "http.response.pathsend", "path": str(data_file)}
    ]


async def test_pathsend_is_not_used_for_a_range_or_head(data_file: Path) -> None:
    extensions: dict[str, Any] = {"http.response.pathsend": {}}
    app = _file_app(data_file)

    ranged = await call(
        app,
        http_scope("/file", headers=[(b"range", b"bytes=0-1")], extensions=extensions),
    )
    head = await call(app, http_scope("/file", method="HEAD", extensions=extensions))

    assert ranged.status == 206
    assert ranged.body == CONTENT[:2]
    assert all(m["type"] == "http.response.body" for m in ranged.sent[1:])
    assert head.sent[1:] == [
        {"type": "http.response.body", "body": b"", "more_body": False}
    ]


async def test_without_the_extension_the_file_is_streamed(data_file: Path) -> None:
    recorder = await call(_file_app(data_file), http_scope("/file"))

    assert all(m["type"] == "http.response.body" for m in recorder.sent[1:])
    assert recorder.body == CONTENT


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO to hold open()")
async def test_a_body_cancelled_while_its_file_opens_closes_the_file(
    tmp_path: Path,
) -> None:
    # Found by tests/fuzz: a client leaving while the file was being opened in a
    # thread cancelled the stream, and the file the thread then opened was dropped
    # unclosed (a ResourceWarning, and a descriptor held until garbage collection).
    # A FIFO's open() waits for a writer, which holds the thread open until we cancel.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    body = FileBody(str(fifo), size=3)
    reading = asyncio.ensure_future(anext(aiter(body)))
    await asyncio.sleep(0)  # one turn: the open is now running in its thread
    reading.cancel()
    writer = await asyncio.to_thread(os.open, fifo, os.O_WRONLY)
    try:
        await asyncio.gather(reading, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_default_executor()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                await asyncio.sleep(0)  # let the thread's result reach the loop
            gc.collect()
    finally:
        os.close(writer)
    assert reading.cancelled()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# -- imports -----------------------------------------------------------------------
def test_importing_files_does_not_load_aiofiles() -> None:
    code = "import sys, microframework.files; print('aiofiles' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "False"


async def test_aiofiles_is_loaded_when_a_file_is_read(data_file: Path) -> None:
    body = FileBody(str(data_file), size=len(CONTENT))

    chunks = [chunk async for chunk in body]

    assert b"".join(chunks) == CONTENT
    assert "aiofiles" in sys.modules


async def test_a_file_name_with_undecodable_bytes_is_served(tmp_path: Path) -> None:
    # A name from os.listdir() holds surrogates for bytes that aren't UTF-8: it was a
    # 500 (UnicodeEncodeError quoting filename*); those bytes become "?".
    name = os.fsdecode(b"caf\xe9.txt")
    path = tmp_path / name
    try:
        path.write_bytes(b"menu")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that aren't UTF-8")
    response = await _get(_file_app(path, as_attachment=True))
    assert response.status_code == 200
    assert await response.get_data() == b"menu"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=caf.txt; filename*=UTF-8''caf%3F.txt"
    )


async def test_a_file_removed_after_the_view_is_still_sent(tmp_path: Path) -> None:
    # Flask's idiom: send_file opens the file, so an after_request may remove it.
    path = tmp_path / "gone.bin"
    path.write_bytes(CONTENT)
    app = _file_app(path)

    @app.after_request
    async def remove(response: Any) -> Any:
        path.unlink()
        return response

    recorder = await call(app, http_scope("/file"))
    assert recorder.status == 200
    assert recorder.body == CONTENT


async def test_a_file_replaced_after_the_view_sends_the_one_described(
    tmp_path: Path,
) -> None:
    # A write-and-rename after the view: the headers' file, not the new one's bytes.
    path = tmp_path / "swap.bin"
    path.write_bytes(CONTENT)
    app = _file_app(path)

    @app.after_request
    async def swap(response: Any) -> Any:
        (tmp_path / "new.bin").write_bytes(b"N" * (2 * len(CONTENT)))
        os.replace(tmp_path / "new.bin", path)
        return response

    recorder = await call(app, http_scope("/file"))
    assert recorder.body == CONTENT


async def test_zerocopysend_of_a_file_gone_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "gone.bin"
    body = FileBody(str(path), size=4)

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"nothing should be sent, got {message}")

    scope = http_scope(extensions={"http.response.zerocopysend": {}})
    with pytest.raises(FileNotFoundError):
        await body.send(scope, send, _never_streamed)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
@pytest.mark.parametrize("how", ["blueprint", "send_from_directory", "send_file"])
async def test_a_folder_through_a_link_then_dotdot_serves_the_file_checked(
    tmp_path: Path, how: str
) -> None:
    # "plugin/../shared" where plugin links elsewhere: the kernel's path (the one
    # safe_join checked) is served, not the file abspath's "shared" names.
    from microframework import Blueprint

    (tmp_path / "src" / "plugin").mkdir(parents=True)
    (tmp_path / "src" / "shared").mkdir()
    (tmp_path / "src" / "shared" / "site.css").write_bytes(b"intended")
    (tmp_path / "app" / "shared").mkdir(parents=True)
    (tmp_path / "app" / "shared" / "site.css").write_bytes(b"another file")
    (tmp_path / "app" / "plugin").symlink_to(tmp_path / "src" / "plugin")
    folder = str(tmp_path / "app" / "plugin" / ".." / "shared")
    app = Microframework(__name__, static_folder=None)
    blueprint = Blueprint(
        "plugin", __name__, root_path=str(tmp_path / "app" / "plugin")
    )
    blueprint.static_folder = "../shared"
    app.register_blueprint(blueprint, url_prefix="/p")

    @app.route("/direct")
    async def direct() -> Any:
        if how == "send_file":
            return await send_file(os.path.join(folder, "site.css"))
        return await send_from_directory(folder, "site.css")

    path = "/p/shared/site.css" if how == "blueprint" else "/direct"
    recorder = await call(app, http_scope(path))
    assert (recorder.status, recorder.body) == (200, b"intended")


@pytest.mark.parametrize("max_age", [60.5, lambda path: 60.9, timedelta(seconds=60.5)])
async def test_a_float_max_age_is_truncated_as_flask_does(
    text_file: Path, max_age: Any
) -> None:
    # Flask and Quart send max-age=60 for 60.5 (werkzeug's int()); it was a 500 here.
    app = _file_app(text_file)

    @app.route("/f")
    async def f() -> Any:
        return await send_file(text_file, max_age=max_age)

    response = await app.test_client().get("/f")
    assert response.headers["Cache-Control"] == "public, max-age=60"


async def test_a_missing_directory_is_logged_once_beside_its_404(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A Flask app started elsewhere: Flask takes a relative directory from root_path,
    # so "uploads" is missing here, every file a 404, and nothing said why.
    (tmp_path / "here").mkdir()
    missing = str(tmp_path / "uploads")
    app = Microframework(__name__)

    @app.route("/<where>/<name>")
    async def download(where: str, name: str) -> Any:
        directory = missing if where == "uploads" else str(tmp_path / "here")
        return await send_from_directory(directory, name)

    client = app.test_client()
    statuses = [
        (await client.get(path)).status_code
        for path in ("/here/nothing", "/uploads/a.txt", "/uploads/b.txt")
    ]
    assert statuses == [404, 404, 404]
    warned = [r for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(warned) == 1
    assert repr(missing) in warned[0].getMessage()


async def test_a_file_swapped_after_its_safety_check_is_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # send_from_directory checks the path (no link out of the folder), then opens it:
    # a file put there in between (a link to a secret, in an upload folder) is a 404.
    from microframework import files

    (tmp_path / "secret.txt").write_bytes(b"secret")
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"public")
    checked = files._lookup

    def then_swapped(directory: str, path: str) -> Any:
        found = checked(directory, path)
        (folder / "link").symlink_to(tmp_path / "secret.txt")
        os.replace(folder / "link", folder / "a.txt")
        return found

    monkeypatch.setattr(files, "_lookup", then_swapped)
    app = Microframework(__name__)

    @app.route("/<name>")
    async def download(name: str) -> Any:
        return await send_from_directory(folder, name)

    response = await app.test_client().get("/a.txt")
    assert response.status_code == 404


@pytest.mark.parametrize("change", ["grown", "replaced", "removed"])
async def test_a_file_changed_after_the_view_is_streamed_not_pathsent(
    tmp_path: Path, change: str
) -> None:
    # wrappers/filebody.py _still: pathsend only while the path names the opened file
    # at the size described; else the opened one is streamed, as described. grown: a
    # log written on (an fstat of the opened file is no help: it is that same file);
    # replaced: a write-and-rename of the same size; removed: stat raises.
    path = tmp_path / "file.log"
    path.write_bytes(b"12345678")
    app = Microframework(__name__)

    @app.route("/file")
    async def download() -> Any:
        return await send_file(str(path))

    @app.after_request
    async def meddle(response: Any) -> Any:
        if change == "grown":
            with open(path, "ab") as file:
                file.write(b"more")
        elif change == "replaced":
            (tmp_path / "new.log").write_bytes(b"NEW!NEW!")
            os.replace(tmp_path / "new.log", path)
        else:
            path.unlink()
        return response

    scope = http_scope("/file", extensions={"http.response.pathsend": {}})
    recorder = await call(app, scope)
    assert recorder.headers[b"content-length"] == b"8"
    assert all(m["type"] == "http.response.body" for m in recorder.sent[1:])
    assert recorder.body == b"12345678"


async def test_a_send_file_response_replaced_unsent_closes_its_file_quietly(
    tmp_path: Path,
) -> None:
    # send_file opens the path at once; an after_request function that answers
    # otherwise drops that response: its file is closed when collected, without the
    # ResourceWarning a user's filterwarnings = error would fail on.
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENT)
    app = _file_app(path)

    @app.after_request
    async def maintenance(response: Any) -> Any:
        return app.response_class("maintenance", 503)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = await app.test_client().get("/file")
        gc.collect()
    assert response.status_code == 503
    fds = os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []
    assert not [fd for fd in fds if _points_to(fd, path)]


def _points_to(fd: str, path: Path) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == str(path)
    except OSError:
        return False


async def test_a_send_file_response_collected_in_a_cycle_closes_quietly(
    tmp_path: Path,
) -> None:
    # An error raised after send_file leaves the response in its traceback's cycle.
    # The collector finalizes the opened file's two layers apart, the descriptor
    # often first: it warned (review9, session 31).
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENT)
    app = _file_app(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()  # earlier tests' garbage: its warnings are not this test's
    gc.disable()  # one collection, of objects in the order they were made
    try:
        async with app.test_request_context("/file"):
            held: list[Any] = [await send_file(path)]
        held.append(held)
        for _ in range(3):
            await asyncio.sleep(0)  # the loop lets go of the open's future
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del held
            gc.collect()
    finally:
        gc.enable()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    fds = os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []
    assert not [fd for fd in fds if _points_to(fd, path)]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="lists descriptors")
@pytest.mark.parametrize(
    ("method", "failing"),
    [
        ("GET", "http.response.start"),
        ("HEAD", "http.response.start"),
        ("HEAD", "http.response.body"),
    ],
)
async def test_a_file_response_whose_send_fails_before_its_body_closes_the_file(
    tmp_path: Path, method: str, failing: str
) -> None:
    # The file is opened in the view: a server's send failing (or cancelled) before
    # the body took it over left it open until a collection (review9, session 31).
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENT)
    app = _file_app(path)
    app.logger.disabled = True

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == failing:
            raise OSError("the connection is gone")

    gc.disable()
    try:
        with pytest.raises(OSError):
            await app(http_scope("/file", method), receive, send)
        fds = os.listdir("/proc/self/fd")
        assert not [fd for fd in fds if _points_to(fd, path)]
    finally:
        gc.enable()


@pytest.mark.parametrize("change", ["removed", "directory", "fifo"])
async def test_a_file_gone_after_send_from_directory_checked_it_is_a_404(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    # send_from_directory stats the path, then send_file opens it: a file removed in
    # between (a clean-up of an upload folder, a deploy) is a 404, not the app's 500.
    folder = tmp_path / "uploads"
    folder.mkdir()
    target = folder / "a.txt"
    target.write_bytes(b"public")
    checked = files_module._lookup

    def then_changed(directory: str, path: str) -> Any:
        found = checked(directory, path)
        target.unlink()
        if change == "directory":
            target.mkdir()
        elif change == "fifo":
            os.mkfifo(target)
        return found

    monkeypatch.setattr(files_module, "_lookup", then_changed)
    app = Microframework(__name__)

    @app.route("/<name>")
    async def download(name: str) -> Any:
        return await send_from_directory(folder, name)

    response = await app.test_client().get("/a.txt")
    assert response.status_code == 404


async def test_a_bytesio_body_stops_soon_after_the_client_leaves() -> None:
    # A BytesIO is read without a thread, and uvicorn's send() returns at once once
    # the client is gone: without a turn for the loop, the disconnect is never heard
    # and the whole buffer is pushed at nobody (hypercorn logs every such write).
    app = Microframework(__name__)
    chunks = 100

    @app.route("/big")
    async def big() -> Any:
        body = io.BytesIO(b"x" * (64 * 1024 * chunks))
        return await send_file(body, mimetype="application/octet-stream")

    gone = asyncio.Event()
    after = 0
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal after
        if message["type"] == "http.response.body":
            if gone.is_set():
                after += 1  # sent to nobody
            gone.set()  # the client leaves once the first chunk is out

    await asyncio.wait_for(app(http_scope("/big"), receive, send), 10)
    assert after < 5


@pytest.mark.parametrize("name", ["c\rd.txt", "a\nb.txt"])
async def test_a_file_whose_name_has_cr_or_lf_is_served(
    tmp_path: Path, name: str
) -> None:
    # A legal file name on disk: its Content-Disposition encodes the control character
    # (filename*), as it does a tab; only a download_name the app passes is refused.
    (tmp_path / name).write_bytes(b"data")
    app = Microframework(__name__, static_folder=str(tmp_path))

    @app.route("/by-name/<name>")
    async def by_name(name: str) -> Any:
        return await send_from_directory(tmp_path, name)

    @app.route("/given")
    async def given() -> Any:
        return await send_file(tmp_path / name, download_name="x\r\nSet-Cookie: a=b")

    client = app.test_client()
    response = await client.get("/by-name/" + quote(name))
    assert response.status_code == 200
    assert await response.get_data() == b"data"
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert "filename*=UTF-8''" + quote(name) in disposition
    assert (await client.get("/given")).status_code == 500


async def test_an_async_file_is_refused_with_a_clear_type_error(tmp_path: Path) -> None:
    # An aiofiles handle: its read(), seek() and tell() are coroutine functions. It was
    # a TypeError about subtracting coroutines, with "never awaited" warnings.
    path = tmp_path / "a.txt"
    path.write_bytes(b"data")
    app = Microframework(__name__)
    async with app.app_context():
        async with aiofiles.open(path, "rb") as handle:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no coroutine left unawaited
                with pytest.raises(TypeError, match="async file"):
                    await send_file(handle, mimetype="text/plain")


@pytest.mark.parametrize("make", ["named", "spooled"])
async def test_a_text_mode_temporary_file_is_refused_before_the_response(
    make: str,
) -> None:
    # tempfile's wrappers are no TextIOBase: a text-mode one read str chunks into the
    # ASGI body after a 200 and its byte Content-Length went out (servers: TypeError).
    app = Microframework(__name__)
    if make == "named":
        handle: Any = tempfile.NamedTemporaryFile(mode="w+", suffix=".csv")
    else:
        handle = tempfile.SpooledTemporaryFile(mode="w+")
    with handle:
        handle.write("a,é\n")
        handle.seek(0)
        async with app.app_context():
            with pytest.raises(TypeError, match="binary mode"):
                await send_file(handle, mimetype="text/csv")


async def test_a_zip_member_is_still_sent() -> None:
    # zipfile's ZipExtFile has mode "r" (no "b") yet reads bytes: not refused as text.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("logo.png", b"\x89PNG data")
    app = Microframework(__name__)

    @app.route("/logo")
    async def logo() -> Any:
        return await send_file(
            zipfile.ZipFile(buffer).open("logo.png"), mimetype="image/png"
        )

    response = await app.test_client().get("/logo")
    assert response.status_code == 200
    assert await response.get_data() == b"\x89PNG data"


LATE_CONTENT = bytes(range(256)) * 4


def _delivered(recorder: Any) -> bytes:
    # What the client gets from a server that opens a pathsend path once the app
    # returned, as granian 2.8 does (a file gone by then is granian's own 404).
    data = b""
    for message in recorder.sent[1:]:
        if message["type"] == "http.response.pathsend":
            with open(message["path"], "rb") as file:
                data += file.read()
        else:
            data += message.get("body", b"")
    return data


@pytest.mark.parametrize(
    "cleanup", ["call_on_close", "teardown", "background", "signal"]
)
async def test_a_temporary_file_removed_after_the_response_is_still_sent(
    tmp_path: Path, cleanup: str
) -> None:
    # The idiom for generated downloads: remove the file once the response went.
    # Under granian the pathsend path was opened after that, and gone: a 404.
    app = Microframework(__name__, static_folder=None)
    path = tmp_path / "export.bin"

    @app.route("/export")
    async def export() -> Any:
        path.write_bytes(LATE_CONTENT)
        response = await send_file(path)
        if cleanup == "call_on_close":
            response.call_on_close(path.unlink)
        elif cleanup == "background":
            app.add_background_task(path.unlink)
        else:
            request.temporary = path  # type: ignore[attr-defined]
        return response

    if cleanup == "teardown":  # only then: any teardown function sends no path

        @app.teardown_request
        def remove(exc: BaseException | None) -> None:
            os.remove(request.temporary)  # type: ignore[attr-defined]

    def removed(sender: Any, **extra: Any) -> None:  # a receiver of the teardown
        os.remove(request.temporary)  # type: ignore[attr-defined]

    if cleanup == "signal":
        request_tearing_down.connect(removed, app)
    try:
        async with app.test_app():  # lifespan: background tasks run, and are awaited
            scope = http_scope("/export", extensions={"http.response.pathsend": {}})
            recorder = await call(app, scope)
    finally:
        request_tearing_down.disconnect(removed, app)

    assert recorder.status == 200
    assert not path.exists()
    assert _delivered(recorder) == LATE_CONTENT


async def test_pathsend_is_still_used_when_nothing_runs_after_the_response(
    tmp_path: Path,
) -> None:
    app = Microframework(__name__, static_folder=None)
    path = tmp_path / "static.bin"
    path.write_bytes(LATE_CONTENT)

    @app.route("/file")
    async def file() -> Any:
        return await send_file(path)

    recorder = await call(
        app, http_scope("/file", extensions={"http.response.pathsend": {}})
    )
    assert recorder.sent[1:] == [{"type": "http.response.pathsend", "path": str(path)}]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no name, no mimetype: TypeError
        {"mimetype": "text/plain", "download_name": "a\r\nb.txt"},  # ValueError
        {"mimetype": "text/plain", "max_age": -1},  # ValueError
        {"mimetype": "text/plain", "last_modified": "yesterday"},  # TypeError
    ],
)
async def test_send_file_refusing_its_arguments_leaves_the_callers_file_open(
    kwargs: dict[str, Any],
) -> None:
    # As in Flask and Quart: a refused call does not consume the caller's file object,
    # so the usual fallback (try again with a mimetype) sends it.
    app = Microframework(__name__)
    buffer = io.BytesIO(b"data")

    @app.get("/")
    async def index() -> Any:
        with pytest.raises((TypeError, ValueError)):
            await files_module.send_file(buffer, **kwargs)
        assert not buffer.closed
        return await files_module.send_file(buffer, mimetype="text/plain")

    response = await app.test_client().get("/")

    assert response.status_code == 200
    assert await response.get_data() == b"data"
    assert buffer.closed  # sent: closed as before


async def test_a_412_still_closes_the_file_object() -> None:
    app = Microframework(__name__)
    buffer = io.BytesIO(b"data")

    @app.get("/")
    async def index() -> Any:
        return await files_module.send_file(buffer, mimetype="text/plain", etag="v1")

    response = await app.test_client().get("/", headers={"If-Match": '"v2"'})

    assert response.status_code == 412
    assert buffer.closed
