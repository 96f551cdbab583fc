"""A request class's ``form_data_parser_class`` (Flask's and Quart's customisation
point) is the parser that reads its forms."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

import microframework.formparser
from microframework import Microframework
from microframework import request
from microframework.formparser import FormDataParser
from microframework.wrappers import Request


class _UpperParser(FormDataParser):
    made: list[tuple[Any, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _UpperParser.made.append((self.max_form_memory_size, self.max_form_parts))

    async def parse(
        self, stream: AsyncIterable[bytes], mimetype: str, options: dict[str, str]
    ) -> tuple[MultiDict[str, str], MultiDict[str, Any]]:
        form, files = await super().parse(stream, mimetype, options)
        return self.cls([(k, v.upper()) for k, v in form.items(multi=True)]), files


class _UpperRequest(Request):
    form_data_parser_class = _UpperParser


def _app(request_class: type[Request] | None = None) -> Microframework:
    app = Microframework(__name__)
    if request_class is not None:
        app.request_class = request_class
    app.config["MAX_FORM_PARTS"] = 7

    @app.post("/")
    async def index() -> dict[str, Any]:
        return (await request.form).to_dict(flat=False)

    return app


async def test_a_request_classes_form_data_parser_class_parses_its_forms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(microframework.formparser, "_made", [((), None)])
    monkeypatch.setattr(_UpperParser, "made", [])
    client = _app(_UpperRequest).test_client()
    response = await client.post("/", form={"a": "x", "b": "y"})
    assert await response.get_json() == {"a": ["X"], "b": ["Y"]}
    assert _UpperParser.made == [(500_000, 7)]  # with the request's limits
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/", data=b"a=z", headers=urlencoded)
    assert await response.get_json() == {"a": ["Z"]}
    response = await client.post("/", form={str(n): "v" for n in range(8)})
    assert response.status_code == 413  # the limits still hold


async def test_apps_with_and_without_their_own_parser_side_by_side() -> None:
    ours, plain = _app(_UpperRequest).test_client(), _app().test_client()
    for client, expected in ((ours, "X"), (plain, "x")) * 2:
        response = await client.post("/", form={"a": "x"})
        assert await response.get_json() == {"a": [expected]}
    assert Request.form_data_parser_class is None  # the built-in parser
