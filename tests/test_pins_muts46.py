"""Pins from mutation testing (helper muts46, session 37): the survivors among the
mutants of ``routing.py`` and the ``json`` package (``provider.py``, ``tag.py``,
``__init__.py``).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest

from microframework import json as microframework_json
from microframework import jsonify
from microframework import Microframework
from microframework.json.tag import TaggedJSONSerializer
from microframework.routing import Rule


async def test_a_rule_added_to_the_map_keeps_its_own_automatic_options() -> None:
    # routing.Rule.__init__: self.provide_automatic_options = provide_automatic_options (R04).
    # A Rule built by hand (url_map.add, as Quart's QuartRule takes it) answers OPTIONS
    # itself when asked to; without the flag the view answers it.
    app = Microframework(__name__)

    async def view() -> str:
        return "view"

    app.view_functions["v"] = view
    methods = ["GET", "OPTIONS"]
    app.url_map.add(
        Rule("/auto", endpoint="v", methods=methods, provide_automatic_options=True)
    )
    app.url_map.add(Rule("/own", endpoint="v", methods=["GET", "OPTIONS"]))
    client = app.test_client()
    auto = await client.options("/auto")
    assert auto.status_code == 200
    assert set(auto.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert await auto.get_data(as_text=True) == ""
    own = await client.options("/own")
    assert "Allow" not in own.headers
    assert await own.get_data(as_text=True) == "view"


async def test_responses_stay_compact_without_the_c_json_accelerator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # json/provider.DefaultJSONProvider._new_encoder: indent=2 if pretty else None,
    # separators=None if pretty else (",", ":") (P35, P36). Without json's C encoder
    # (PyPy, or a build without _json) the plain encoder writes the body: compact unless
    # debug, as with it.
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Any:
        return {"b": [1, 2], "a": "é"}

    client = app.test_client()
    response = await client.get("/")
    assert await response.get_data(as_text=True) == '{"a":"\\u00e9","b":[1,2]}\n'
    app.debug = True
    pretty = app.json.response({"b": [1], "a": 1})
    assert (
        await pretty.get_data(as_text=True) == '{\n  "a": 1,\n  "b": [\n    1\n  ]\n}\n'
    )


async def test_a_path_spelling_a_rules_placeholder_is_matched_by_the_converter() -> (
    None
):
    # routing.compile_static_routes: `rule.arguments or ...` keeps rules with arguments
    # off the exact-path table (R32). Otherwise a request for the literal "/<name>" finds
    # the rule by its string and calls the view without its argument (a 500).
    app = Microframework(__name__)

    @app.route("/<name>")
    async def hello(name: str) -> str:
        return f"hello {name}"

    response = await app.test_client().get("/%3Cname%3E")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "hello <name>"


async def test_jsonify_outside_an_app_context_is_a_runtime_error() -> None:
    # json/__init__.jsonify: `if ctx is None: raise RuntimeError(...)` (I06). As Flask's
    # "Working outside of application context", not an AttributeError on None.
    with pytest.raises(RuntimeError, match="application context"):
        jsonify(a=1)


def test_json_dump_and_load_outside_an_app_context_pass_their_arguments() -> None:
    # json/__init__.load: loads(fp.read(), **kwargs) (I07); dump: dumps(obj, **kwargs)
    # (I08). Outside an app context they are the standard library's, arguments and all.
    loaded = microframework_json.load(io.StringIO('{"a": 1.5}'), parse_float=Decimal)
    assert type(loaded["a"]) is Decimal and loaded["a"] == Decimal("1.5")
    out = io.StringIO()
    microframework_json.dump({"b": 1, "a": [1]}, out, sort_keys=True, indent=1)
    assert out.getvalue() == '{\n "a": [\n  1\n ],\n "b": 1\n}'


def test_the_session_serializer_refuses_a_bytearray_as_flask_does() -> None:
    # json/tag.TagBytes.check: isinstance(value, bytes) (T11). Only bytes are tagged
    # " b"; a bytearray is no JSON value, a TypeError as in Flask 3.1 (which would
    # otherwise read back as bytes, not the bytearray stored).
    serializer = TaggedJSONSerializer()
    assert serializer.loads(serializer.dumps({"b": b"\x00"})) == {"b": b"\x00"}
    with pytest.raises(TypeError, match="bytearray"):
        serializer.dumps({"b": bytearray(b"\x00")})
