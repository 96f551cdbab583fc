"""Pins from mutation testing files.py, filebody.py, datastructures.py and debug.py.

Each test fails with one mutant that the suite let survive (s21, helper filemut).
"""

from __future__ import annotations

import io
import json
import os
import runpy
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import Response
from microframework.datastructures import FileStorage
from microframework.debug import _render_source
from microframework.debug import render_debug_page
from microframework.exceptions import ClientDisconnected
from microframework.files import safe_join
from microframework.files import send_file
from microframework.files import send_from_directory
from microframework.wrappers import filebody
from microframework.wrappers.filebody import FileBody
from microframework.wrappers.request import Request

CONTENT = bytes(range(256)) * 4


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def _file_app(app: Microframework, path: Path, **kwargs: Any) -> Microframework:
    @app.route("/file", methods=["GET", "HEAD"])
    async def file() -> Any:
        return await send_file(path, **kwargs)

    return app


# -- files.py: safe_join and send_from_directory ------------------------------------
def test_safe_join_of_an_empty_directory_is_relative_to_dot() -> None:
    # As werkzeug's safe_join: "" means the working directory, spelled ".".
    assert safe_join("", "a") == os.path.join(".", "a")
    assert safe_join("", "") == "."


# -- files.py: send_file ------------------------------------------------------------
async def test_head_gets_the_same_conditional_answers_as_get(
    app: Microframework, data_file: Path
) -> None:
    client = _file_app(app, data_file).test_client()

    ranged = await client.head("/file", headers={"Range": "bytes=0-9"})
    etag = (await client.head("/file")).headers["ETag"]
    cached = await client.head("/file", headers={"If-None-Match": etag})

    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 0-9/{len(CONTENT)}"
    assert ranged.headers["Content-Length"] == "10"
    assert cached.status_code == 304


async def test_send_file_answers_with_the_apps_response_class(
    app: Microframework, data_file: Path
) -> None:
    class MyResponse(Response):
        pass

    app.response_class = MyResponse
    async with app.test_request_context("/"):
        response = await send_file(data_file)
        assert type(response) is MyResponse
        await response.aclose()  # the file is open: never sent, closed by hand


async def test_a_file_object_positioned_past_its_end_sends_nothing(
    app: Microframework,
) -> None:
    file = io.BytesIO(b"0123")
    file.seek(10)

    @app.get("/")
    async def index() -> Any:
        return await send_file(file, mimetype="application/x-test")

    response = await app.test_client().get("/")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == "0"
    assert await response.get_data() == b""


async def test_an_empty_download_name_is_used_not_the_files_name(
    app: Microframework, tmp_path: Path
) -> None:
    # As Flask: only None falls back to the file's own name (which says text/plain).
    path = tmp_path / "a.txt"
    path.write_text("hi")
    async with app.test_request_context("/"):
        response = await send_file(path, download_name="")
        await response.aclose()

    assert response.headers["Content-Disposition"] == 'inline; filename=""'
    assert response.mimetype == "application/octet-stream"


async def test_a_non_ascii_name_keeps_rfc_5987_attr_chars_unencoded(
    app: Microframework,
) -> None:
    # As werkzeug's send_file: quote(name, safe="!#$&+-.^_`|~").
    async with app.test_request_context("/"):
        response = await send_file(
            io.BytesIO(b"x"), download_name="é!#$&+^`|~.txt", as_attachment=True
        )

    disposition = response.headers["Content-Disposition"]
    assert disposition.endswith("; filename*=UTF-8''%C3%A9!#$&+^`|~.txt")


@pytest.mark.parametrize("max_age", [True, False])
async def test_a_bool_max_age_is_a_type_error(
    app: Microframework, data_file: Path, max_age: bool
) -> None:
    async with app.test_request_context("/"):
        with pytest.raises(TypeError):
            await send_file(data_file, max_age=max_age)


async def test_send_from_directory_hands_pathsend_an_absolute_path(
    app: Microframework, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ASGI pathsend extension takes an absolute path; the folder here is relative.
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("hi")
    monkeypatch.chdir(tmp_path)

    @app.get("/a")
    async def a() -> Any:
        return await send_from_directory("files", "a.txt")

    scope = http_scope("/a", extensions={"http.response.pathsend": {}})
    recorder = await call(app, scope)

    assert recorder.status == 200
    assert recorder.sent[1:] == [
        {"type": "http.response.pathsend", "path": str(tmp_path / "files" / "a.txt")}
    ]


# -- filebody.py --------------------------------------------------------------------
def _open_fds(path: Path) -> int:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:
            continue
    return count


async def test_closing_a_file_body_mid_read_closes_its_file(
    data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filebody, "CHUNK_SIZE", 100)
    body = FileBody(str(data_file), size=len(CONTENT))
    chunks = body.__aiter__()
    try:
        assert await chunks.__anext__() == CONTENT[:100]
        assert _open_fds(data_file) == 1

        await body.aclose()

        assert _open_fds(data_file) == 0
    finally:
        await chunks.aclose()


@pytest.mark.parametrize(
    "extension", ["http.response.pathsend", "http.response.zerocopysend"]
)
async def test_a_server_send_failing_with_os_error_is_a_client_disconnect(
    data_file: Path, extension: str
) -> None:
    # Some servers raise once the peer has left, instead of returning.
    async def send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("peer gone")

    async def stream(body: Any) -> bool:
        raise AssertionError("the server should have been handed the file")

    body = FileBody(str(data_file), size=len(CONTENT))

    with pytest.raises(ClientDisconnected):
        await body.send(http_scope(extensions={extension: {}}), send, stream)


# -- datastructures.py --------------------------------------------------------------
async def test_file_storage_save_copies_in_buffer_size_pieces() -> None:
    reads: list[int] = []

    class Recording(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    storage = FileStorage(Recording(b"0123456789"), filename="a.txt")
    destination = io.BytesIO()

    storage.save(destination, buffer_size=4)

    assert destination.getvalue() == b"0123456789"
    assert set(reads) == {4}


# -- debug.py: the debug page -------------------------------------------------------
async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _raised(tmp_path: Path, source: str) -> BaseException:
    """The exception that running *source* (a module in a file: linecache reads it) raises."""
    path = tmp_path / "broken_module.py"
    path.write_text(source)
    with pytest.raises(BaseException) as info:
        runpy.run_path(str(path))
    return info.value


async def _page(exc: BaseException, request: Request | None = None) -> str:
    return await render_debug_page(exc, request).get_data(as_text=True)


async def test_the_debug_page_hides_every_credential_header() -> None:
    scope = http_scope(
        "/",
        headers=[
            (b"cookie", b"session=c00kie"),
            (b"proxy-authorization", b"Basic pr0xy"),
            (b"x-shown", b"<i>visible</i>"),
        ],
    )
    html = await _page(RuntimeError("x"), Request(scope, _no_body))

    assert "<td>&lt;i&gt;visible&lt;/i&gt;</td>" in html
    assert "c00kie" not in html
    assert "pr0xy" not in html


async def test_the_debug_page_shows_the_path_under_the_root_path() -> None:
    scope = http_scope("/broken", root_path="/app")
    html = await _page(RuntimeError("x"), Request(scope, _no_body))

    assert "<p>GET /app/broken</p>" in html


async def test_the_debug_page_omits_a_context_suppressed_by_from_none(
    tmp_path: Path,
) -> None:
    exc = _raised(
        tmp_path,
        "try:\n    {}['hidden' + '_key']\nexcept KeyError:\n"
        "    raise ValueError('shown') from None\n",
    )
    html = await _page(exc)

    assert "ValueError: shown" in html
    assert "hidden_key" not in html  # the KeyError's message
    assert "During handling" not in html


async def test_the_debug_page_shows_each_exception_of_a_cycle_once() -> None:
    first, second = ValueError("first"), KeyError("second")
    first.__context__, second.__context__ = second, first
    html = await _page(first)

    assert html.count("<strong>ValueError: first</strong>") == 1
    assert html.count("<strong>KeyError: &#39;second&#39;</strong>") == 1


async def test_the_debug_page_names_each_exception_of_the_chain(
    tmp_path: Path,
) -> None:
    exc = _raised(
        tmp_path,
        "try:\n    raise LookupError('cause')\nexcept LookupError as e:\n"
        "    raise ValueError('effect') from e\n",
    )
    html = await _page(exc)

    assert "<p><strong>LookupError: cause</strong></p>" in html
    assert html.index("LookupError: cause") < html.index("direct cause")


async def test_the_debug_page_names_a_main_modules_exception_without_its_module() -> (
    None
):
    error = type("AppError", (Exception,), {"__module__": "__main__"})("boom")
    html = await _page(error)

    assert "<h1>AppError: boom</h1>" in html


async def test_the_debug_page_shows_two_lines_each_side_and_marks_the_current(
    tmp_path: Path,
) -> None:
    lines = ["a1 = 1", "a2 = 2", "a3 = 3", "raise RuntimeError('line 4')", "a5 = 5"]
    lines += ["a6 = 6", "a7 = 7"]
    html = await _page(_raised(tmp_path, "\n".join(lines) + "\n"))

    for number in (2, 3, 5, 6):
        assert f"<pre>{number:>5}  a{number} = {number}</pre>" in html
    assert "a1 = 1" not in html and "a7 = 7" not in html
    assert (
        "<pre class='current'>    4  raise RuntimeError(&#39;line 4&#39;)</pre>" in html
    )


def test_a_frame_without_a_line_number_shows_no_source() -> None:
    assert list(_render_source(__file__, None)) == []


async def test_the_debug_page_dims_library_frames_only() -> None:
    try:
        json.loads("{not json")
    except ValueError as exc:
        html = await _page(exc)

    assert "<div class='frame library'><div class='where'>" in html
    assert f"<div class='frame'><div class='where'>{__file__}" in html
