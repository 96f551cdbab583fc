"""Pins for review24's mutation survivors (session 39's commits)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

import microframework.formparser
from microframework import Microframework
from microframework import request
from microframework.debug import render_debug_page
from microframework.formparser import FormDataParser


async def test_debug_page_shows_each_notes_under_its_own_exception() -> None:
    # Mutant: every link of the chain showed the outer exception's notes.
    def failing() -> None:
        try:
            cause = KeyError("inner")
            cause.add_note(" ".join(["note", "of", "the", "cause"]))  # not in source
            raise cause
        except KeyError as error:
            outer = ValueError("outer")
            outer.add_note(" ".join(["note", "of", "the", "outer"]))
            raise outer from error

    with pytest.raises(ValueError) as info:
        failing()
    html = await render_debug_page(info.value).get_data(as_text=True)
    inner = html.index("<strong>KeyError: &#39;inner&#39;</strong>")
    outer = html.index("<strong>ValueError: outer</strong>")
    assert html.count("note of the cause") == 1
    assert html.count("note of the outer") == 1
    assert (
        inner
        < html.index("note of the cause")
        < outer
        < html.index("note of the outer")
    )


def _raised(notes: object) -> BaseException:
    error = ValueError("boom")
    setattr(error, "__notes__", notes)  # noqa: B010  (any object, as a user may)
    return error


async def test_debug_page_shows_every_note_of_a_tuple_in_order() -> None:
    # Mutants: a tuple of notes (Python prints it) was dropped; only the first shown.
    notes = (" ".join(["first", "note"]), " ".join(["second", "note"]))
    html = await render_debug_page(_raised(notes)).get_data(as_text=True)
    summary = html.index("<strong>ValueError: boom</strong>")
    assert summary < html.index("first note") < html.index("second note")


async def test_debug_page_shows_no_notes_for_notes_that_are_not_a_list() -> None:
    # Mutant: a __notes__ of 7 (not a sequence) showed a "str() failed" note.
    html = await render_debug_page(_raised(7)).get_data(as_text=True)
    assert "class='note'" not in html
    assert "failed" not in html


async def test_debug_page_escapes_a_note_that_is_markup() -> None:
    # Mutant: the note not passed through str() kept Markup's __html__: unescaped.
    from markupsafe import Markup

    note = Markup("<script>" + "alert(1)</script>")
    html = await render_debug_page(_raised([note])).get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


class _BrokenNote:
    def __str__(self) -> str:
        raise RuntimeError("no text")


async def test_debug_page_survives_a_note_whose_str_fails() -> None:
    # Mutants: the page was a crash, or the broken note vanished without a word.
    html = await render_debug_page(_raised([_BrokenNote()])).get_data(as_text=True)
    assert "<strong>ValueError: boom</strong>" in html
    assert "&lt;note str() failed&gt;" in html


class _Tagged(FormDataParser):
    async def parse(
        self, stream: AsyncIterable[bytes], mimetype: str, options: dict[str, str]
    ) -> tuple[MultiDict[str, str], MultiDict[str, Any]]:
        form, files = await super().parse(stream, mimetype, options)
        return self.cls([("by", type(self).__name__), *form.items(multi=True)]), files


def _form_app() -> Microframework:
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> dict[str, Any]:
        form = await request.form
        return {"form": form.to_dict(flat=False), "type": type(form).__name__}

    return app


async def test_a_parser_class_set_on_the_request_in_before_request_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Mutant: only the request class's attribute was read (Flask reads self's).
    monkeypatch.setattr(microframework.formparser, "_made", [((), None)])
    app = _form_app()

    @app.before_request
    async def choose() -> None:
        request.form_data_parser_class = _Tagged

    response = await app.test_client().post("/", form={"a": "x"})
    assert (await response.get_json())["form"] == {"by": ["_Tagged"], "a": ["x"]}
