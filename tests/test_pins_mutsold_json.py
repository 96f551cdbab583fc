"""Pins from mutation testing of json/provider.py and json/tag.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins. Flask 3.1.3's provider behaves the same.
"""

from __future__ import annotations

import io

from microframework import json
from microframework import Microframework


async def test_dump_passes_its_keyword_arguments_to_dumps() -> None:
    # json.provider.JSONProvider.dump: fp.write(self.dumps(obj, **kwargs)).
    app = Microframework(__name__)
    out = io.StringIO()
    app.json.dump({"b": 1, "a": 2}, out, indent=2)
    assert out.getvalue() == '{\n  "a": 2,\n  "b": 1\n}'
    async with app.app_context():
        out = io.StringIO()
        json.dump([1], out, indent=1)
        assert out.getvalue() == "[\n 1\n]"


async def test_load_passes_its_keyword_arguments_to_loads() -> None:
    # json.provider.JSONProvider.load: self.loads(fp.read(), **kwargs).
    app = Microframework(__name__)
    assert app.json.load(io.StringIO("[1.5]"), parse_float=str) == ["1.5"]
    async with app.app_context():
        assert json.load(io.StringIO("1.5"), parse_float=str) == "1.5"


async def test_changing_sort_keys_after_a_response_applies_to_the_next() -> None:
    # json.provider.DefaultJSONProvider._encoder: sort_keys is part of the encoder's key.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> dict[str, int]:
        return {"b": 1, "a": 2}

    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == '{"a":2,"b":1}\n'
    app.json.sort_keys = False  # type: ignore[attr-defined]
    assert await (await client.get("/")).get_data(as_text=True) == '{"b":1,"a":2}\n'


async def test_changing_default_after_a_response_applies_to_the_next() -> None:
    # json.provider.DefaultJSONProvider._encoder: default is part of the encoder's key.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> dict[str, object]:
        return {"s": {1}}

    @app.get("/plain")
    async def plain() -> dict[str, int]:
        return {"a": 1}

    client = app.test_client()
    assert (await client.get("/plain")).status_code == 200
    app.json.default = lambda o: sorted(o)  # type: ignore[attr-defined]
    response = await client.get("/")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == '{"s":[1]}\n'


async def test_nan_is_sent_as_json_dumps_sends_it() -> None:
    # json.provider._compact_encoder: allow_nan=True, as json.dumps (and Flask) default.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> dict[str, float]:
        return {"n": float("nan"), "i": float("inf")}

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == '{"i":Infinity,"n":NaN}\n'


def test_loads_passes_its_keyword_arguments() -> None:
    # json.provider.DefaultJSONProvider.loads: json.loads(s, **kwargs).
    app = Microframework(__name__)
    assert app.json.loads("[1.5]", parse_float=str) == ["1.5"]


def test_a_dict_key_json_cannot_hold_is_an_error_not_skipped() -> None:
    # json.provider._compact_encoder: skipkeys=False, as json.dumps (and Flask): a tuple
    # key raises TypeError instead of vanishing from the response.
    import pytest

    app = Microframework(__name__)
    with pytest.raises(TypeError):
        app.json.response({(1, 2): 3})
