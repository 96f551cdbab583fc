"""Findings of review24: a form_data_parser_class's results and classes."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage

import microframework.formparser
from microframework import Microframework
from microframework import request
from microframework.formparser import FormDataParser
from microframework.wrappers import Request


class _DictParser(FormDataParser):
    parsed: list[FileStorage] = []

    async def parse(
        self, stream: AsyncIterable[bytes], mimetype: str, options: dict[str, str]
    ) -> Any:
        form, files = await super().parse(stream, mimetype, options)
        _DictParser.parsed.extend(files.values())
        return form.to_dict(), files.to_dict()  # plain dicts: Flask and Quart take them


class _DictRequest(Request):
    form_data_parser_class = _DictParser


def _dict_app() -> Microframework:
    app = Microframework(__name__)
    app.request_class = _DictRequest

    @app.post("/values")
    async def values() -> dict[str, Any]:
        found = await request.values
        return {"a": found.getlist("a"), "q": found.get("q")}

    @app.post("/files")
    async def files() -> dict[str, Any]:
        return {"names": sorted(await request.files)}

    return app


async def test_a_parser_returning_a_plain_dict_gives_request_values() -> None:
    response = await _dict_app().test_client().post("/values?q=1", form={"a": "x"})
    assert await response.get_json() == {"a": ["x"], "q": "1"}  # was a 500


async def test_a_parser_returning_plain_dicts_has_its_files_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # release() called files.items(multi=True): a TypeError out of the app at the end.
    monkeypatch.setattr(_DictParser, "parsed", [])
    upload = FileStorage(io.BytesIO(b"hello"), filename="f.txt")
    response = await _dict_app().test_client().post("/files", files={"up": upload})
    assert await response.get_json() == {"names": ["up"]}
    assert [storage.stream.closed for storage in _DictParser.parsed] == [True]


class _NotOurs:  # e.g. werkzeug's or Quart's FormDataParser, kept from Flask or Quart
    def __init__(self, **kwargs: Any) -> None:
        pass


class _NotOursRequest(Request):
    form_data_parser_class = _NotOurs


async def test_a_parser_class_not_ours_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(microframework.formparser, "_made", [((), None)])
    app = Microframework(__name__)
    app.request_class = _NotOursRequest
    seen: list[str] = []

    @app.errorhandler(TypeError)
    async def handle(error: TypeError) -> tuple[str, int]:
        seen.append(str(error))
        return "", 500

    @app.post("/")
    async def index() -> str:
        return str(await request.form)

    response = await app.test_client().post("/", form={"a": "x"})
    assert response.status_code == 500
    assert len(seen) == 1 and "form_data_parser_class" in seen[0]
    assert "_NotOurs" in seen[0]


class _BrokenNote:
    def __str__(self) -> str:
        raise RuntimeError("no text")


async def test_debug_page_keeps_the_other_notes_beside_a_broken_one() -> None:
    # As Python's traceback: "first" and "last" are printed, the broken note replaced.
    from microframework.debug import render_debug_page

    error = ValueError("boom")
    error.add_note("first " + "note")
    error.__notes__.append(_BrokenNote())  # type: ignore[arg-type]
    error.add_note("last " + "note")
    html = await render_debug_page(error).get_data(as_text=True)
    first, last = html.index("first note"), html.index("last note")
    assert first < html.index("&lt;note str() failed&gt;") < last


class _AppTagged(FormDataParser):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from microframework import current_app

        self.tag = current_app.config["TAG"]  # made for a request: it may read its app

    async def parse(
        self, stream: AsyncIterable[bytes], mimetype: str, options: dict[str, str]
    ) -> Any:
        form, files = await super().parse(stream, mimetype, options)
        return self.cls([("tag", self.tag)]), files


class _AppTaggedRequest(Request):
    form_data_parser_class = _AppTagged


async def test_each_apps_parser_is_its_own_as_in_flask_and_quart() -> None:
    # An app per test (a pytest fixture) with its own config: the second app's forms
    # were parsed by the parser made for the first.
    def create_app(tag: str) -> Microframework:
        app = Microframework(__name__)
        app.config["TAG"] = tag
        app.request_class = _AppTaggedRequest

        @app.post("/")
        async def index() -> str:
            return (await request.form)["tag"]

        return app

    for tag in ("one", "two", "one"):
        response = await create_app(tag).test_client().post("/", form={"a": "x"})
        assert await response.get_data(as_text=True) == tag
