from __future__ import annotations

import dataclasses
import datetime
import decimal
import io
import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.broadcast import Broadcast
from microframework.json.provider import DefaultJSONProvider
from microframework.json.provider import JSONProvider


class RecordedResponse:
    """Stands in for the app's response class and remembers how it was built."""

    def __init__(self, body: str, **kwargs: Any) -> None:
        self.body = body
        self.kwargs = kwargs


def make_app(debug: bool = False) -> SimpleNamespace:
    return SimpleNamespace(debug=debug, response_class=RecordedResponse)


def respond(provider: JSONProvider, *args: Any, **kwargs: Any) -> RecordedResponse:
    response = provider.response(*args, **kwargs)
    assert isinstance(response, RecordedResponse)
    return response


UTC_PLUS_2 = datetime.timezone(datetime.timedelta(hours=2))


@pytest.fixture
def provider() -> DefaultJSONProvider:
    return DefaultJSONProvider(make_app())


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]


# -- dumps ------------------------------------------------------------------------


def test_provider_keeps_the_app(provider: DefaultJSONProvider) -> None:
    app = make_app()
    assert DefaultJSONProvider(app)._app is app


def test_dumps_sorts_keys_and_escapes_non_ascii(provider: DefaultJSONProvider) -> None:
    assert provider.dumps({"b": 1, "a": "é"}) == '{"a": "\\u00e9", "b": 1}'


def test_dumps_keyword_arguments_override_the_class_settings(
    provider: DefaultJSONProvider,
) -> None:
    text = provider.dumps({"b": 1, "a": "é"}, ensure_ascii=False, sort_keys=False)
    assert text == '{"b": 1, "a": "é"}'


def test_dumps_settings_can_be_changed_on_the_instance(
    provider: DefaultJSONProvider,
) -> None:
    provider.sort_keys = False
    provider.ensure_ascii = False
    assert provider.dumps({"b": "é", "a": 1}) == '{"b": "é", "a": 1}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.date(2015, 10, 21), "Wed, 21 Oct 2015 00:00:00 GMT"),
        (datetime.datetime(2015, 10, 21, 7, 28), "Wed, 21 Oct 2015 07:28:00 GMT"),
        (
            datetime.datetime(2015, 10, 21, 9, 28, tzinfo=UTC_PLUS_2),
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ),
        (decimal.Decimal("12.50"), "12.50"),
        (
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "12345678-1234-5678-1234-567812345678",
        ),
        (Markup("<b>bold</b>"), "<b>bold</b>"),
    ],
)
def test_dumps_extended_types_become_strings(
    provider: DefaultJSONProvider, value: Any, expected: str
) -> None:
    assert json.loads(provider.dumps(value)) == expected


def test_dumps_dataclasses_become_objects_recursively(
    provider: DefaultJSONProvider,
) -> None:
    shape = Shape("line", [Point(0, 0), Point(1, 2)])
    assert json.loads(provider.dumps(shape)) == {
        "name": "line",
        "points": [{"x": 0, "y": 0}, {"x": 1, "y": 2}],
    }


def test_dumps_calls_html_on_objects_that_have_it(
    provider: DefaultJSONProvider,
) -> None:
    class Widget:
        def __html__(self) -> str:
            return "<i>w</i>"

    assert provider.dumps([Widget()]) == '["<i>w</i>"]'


@pytest.mark.parametrize("value", [object(), {1, 2}, Point, b"bytes"])
def test_dumps_unknown_types_raise_type_error_naming_them(
    provider: DefaultJSONProvider, value: Any
) -> None:
    name = type(value).__name__
    with pytest.raises(TypeError, match=f"^Object of type {name} is not JSON serial"):
        provider.dumps(value)


def test_default_can_be_replaced_to_support_more_types(
    provider: DefaultJSONProvider,
) -> None:
    fallback = DefaultJSONProvider.default

    def default(o: Any) -> Any:
        if isinstance(o, set):
            return sorted(o)
        return fallback(o)

    provider.default = default
    assert provider.dumps({"s": {3, 1, 2}, "d": decimal.Decimal(1)}) == (
        '{"d": "1", "s": [1, 2, 3]}'
    )


def test_default_can_be_overridden_in_a_subclass() -> None:
    class SetProvider(DefaultJSONProvider):
        @staticmethod
        def default(o: Any) -> Any:
            return sorted(o)

    assert SetProvider(make_app()).dumps({2, 1}) == "[1, 2]"


# -- loads, dump, load --------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    ['{"a": [1, "é"]}', b'{"a": [1, "\xc3\xa9"]}', '{"a": [1, "é"]}'.encode("utf-16")],
)
def test_loads_accepts_str_and_encoded_bytes(
    provider: DefaultJSONProvider, document: str | bytes
) -> None:
    assert provider.loads(document) == {"a": [1, "é"]}


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("{", json.JSONDecodeError),
        (b"\xff\xfe\xfd", UnicodeDecodeError),
        ("[" * 100_000 + "]" * 100_000, RecursionError),
    ],
)
def test_loads_errors_propagate_unchanged(
    provider: DefaultJSONProvider, document: str | bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        provider.loads(document)


def test_loads_passes_keyword_arguments(provider: DefaultJSONProvider) -> None:
    assert provider.loads("1.5", parse_float=decimal.Decimal) == decimal.Decimal("1.5")


def test_dump_and_load_use_file_objects(provider: DefaultJSONProvider) -> None:
    buffer = io.StringIO()
    provider.dump({"b": 1, "a": Point(1, 2)}, buffer)
    assert buffer.getvalue() == '{"a": {"x": 1, "y": 2}, "b": 1}'
    buffer.seek(0)
    assert provider.load(buffer) == {"a": {"x": 1, "y": 2}, "b": 1}
    assert provider.load(io.BytesIO(b"[true]")) == [True]


# -- response -----------------------------------------------------------------------


def test_response_is_compact_with_a_trailing_newline(
    provider: DefaultJSONProvider,
) -> None:
    response = respond(provider, {"b": [1, 2], "a": None})
    assert response.body == '{"a":null,"b":[1,2]}\n'
    assert response.kwargs == {"mimetype": "application/json"}


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((), {}, None),
        (([1, 2],), {}, [1, 2]),
        (("text",), {}, "text"),
        ((1, "two", None), {}, [1, "two", None]),
        ((), {"a": 1, "b": [2]}, {"a": 1, "b": [2]}),
    ],
)
def test_response_shapes_arguments_like_jsonify(
    provider: DefaultJSONProvider,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    expected: Any,
) -> None:
    assert json.loads(respond(provider, *args, **kwargs).body) == expected


def test_response_rejects_positional_and_keyword_arguments_together(
    provider: DefaultJSONProvider,
) -> None:
    with pytest.raises(TypeError, match="not both"):
        provider.response(1, a=2)


def test_response_is_indented_in_debug_mode() -> None:
    provider = DefaultJSONProvider(make_app(debug=True))
    assert respond(provider, {"b": 1, "a": [2]}).body == (
        '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    )


def test_response_debug_is_read_at_response_time() -> None:
    app = make_app()
    provider = DefaultJSONProvider(app)
    app.debug = True
    assert respond(provider, [1]).body == "[\n  1\n]\n"


@pytest.mark.parametrize(
    ("compact", "debug", "expected"),
    [
        (True, True, '{"a":1}\n'),
        (False, False, '{\n  "a": 1\n}\n'),
        (None, False, '{"a":1}\n'),
        (None, True, '{\n  "a": 1\n}\n'),
    ],
)
def test_response_compact_setting_overrides_debug(
    compact: bool | None, debug: bool, expected: str
) -> None:
    provider = DefaultJSONProvider(make_app(debug=debug))
    provider.compact = compact
    assert respond(provider, {"a": 1}).body == expected


def test_response_uses_the_provider_mimetype(provider: DefaultJSONProvider) -> None:
    provider.mimetype = "application/vnd.api+json"
    assert respond(provider, 1).kwargs == {"mimetype": "application/vnd.api+json"}


def test_response_serialises_extended_types(provider: DefaultJSONProvider) -> None:
    response = respond(provider, when=datetime.date(2000, 1, 1), p=Point(1, 2))
    assert response.body == (
        '{"p":{"x":1,"y":2},"when":"Sat, 01 Jan 2000 00:00:00 GMT"}\n'
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=json_values, debug=st.booleans())
def test_response_body_decodes_to_the_value(value: Any, debug: bool) -> None:
    provider = DefaultJSONProvider(make_app(debug=debug))
    body = respond(provider, value).body
    assert body.endswith("\n")
    assert body.isascii()
    assert provider.loads(body) == value
    assert provider.loads(body.encode()) == value


# -- base class -----------------------------------------------------------------------


def test_base_provider_requires_dumps_and_loads() -> None:
    provider = JSONProvider(make_app())
    with pytest.raises(NotImplementedError):
        provider.dumps(1)
    with pytest.raises(NotImplementedError):
        provider.loads("1")


def test_base_provider_builds_dump_load_and_response_from_two_methods() -> None:
    class ReprProvider(JSONProvider):
        mimetype = "text/x-repr"

        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return repr(obj)

        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            return ("loaded", s)

    provider = ReprProvider(make_app())
    buffer = io.StringIO()
    provider.dump({"a": 1}, buffer)
    assert buffer.getvalue() == "{'a': 1}"
    assert provider.load(io.StringIO("x")) == ("loaded", "x")
    response = respond(provider, 1, 2)
    assert (response.body, response.kwargs) == ("[1, 2]", {"mimetype": "text/x-repr"})


# -- the compact encoder gives json.dumps's output --------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=_JSON, ensure_ascii=st.booleans(), sort_keys=st.booleans())
def test_compact_responses_match_json_dumps(
    value: Any, ensure_ascii: bool, sort_keys: bool
) -> None:
    app = Microframework(__name__)
    app.json.ensure_ascii = ensure_ascii  # type: ignore[attr-defined]
    app.json.sort_keys = sort_keys  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]

    body = app.json.response(value).body_bytes

    expected = json.dumps(
        value, ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=(",", ":")
    )
    assert body == f"{expected}\n".encode()


def test_a_circular_structure_is_still_a_value_error() -> None:
    app = Microframework(__name__)
    app.json.compact = True  # type: ignore[attr-defined]
    loop: list[Any] = []
    loop.append(loop)

    with pytest.raises(ValueError, match="Circular"):
        app.json.response(loop)


@pytest.mark.parametrize("path", ["/dict", "/jsonify"])
async def test_sort_keys_set_on_the_provider_survives_the_first_request(
    path: str,
) -> None:
    # Flask 2.3 removed JSON_SORT_KEYS for app.json.sort_keys; the config default
    # used to overwrite the provider's setting when the app froze.
    from microframework import jsonify

    app = Microframework(__name__)
    app.json.sort_keys = False

    @app.route("/dict")
    async def as_dict() -> Any:
        return {"b": 1, "a": 2}

    @app.route("/jsonify")
    async def as_jsonify() -> Any:
        return jsonify(b=1, a=2)

    response = await app.test_client().get(path)
    assert await response.get_data(as_text=True) == '{"b":1,"a":2}\n'
    assert app.json.sort_keys is False


@pytest.mark.parametrize("setting", [True, False])
async def test_json_sort_keys_still_sets_the_provider_when_given(setting: bool) -> None:
    app = Microframework(__name__)
    app.config["JSON_SORT_KEYS"] = setting

    @app.route("/")
    async def index() -> Any:
        return {"b": 1, "a": 2}

    body = await (await app.test_client().get("/")).get_data(as_text=True)
    assert body == ('{"a":2,"b":1}\n' if setting else '{"b":1,"a":2}\n')


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/dict", "/jsonify"])
async def test_a_subclass_dumps_writes_response_bodies(debug: bool, path: str) -> None:
    # Flask's and Quart's response() build the body with self.dumps().
    from microframework import jsonify

    class Prefixed(DefaultJSONProvider):
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return ")]}',\n" + super().dumps(obj, **kwargs)

    app = Microframework(__name__)
    app.json = Prefixed(app)
    app.debug = debug

    @app.route("/dict")
    async def as_dict() -> Any:
        return {"a": [1]}

    @app.route("/jsonify")
    async def as_jsonify() -> Any:
        return jsonify(a=[1])

    body = await (await app.test_client().get(path)).get_data(as_text=True)
    encoded = '{\n  "a": [\n    1\n  ]\n}' if debug else '{"a":[1]}'
    assert body == ")]}',\n" + encoded + "\n"


async def test_a_dumps_assigned_on_the_provider_writes_response_bodies() -> None:
    # Flask's response() calls self.dumps, so an instance attribute counts too.
    app = Microframework(__name__)
    plain = app.json.dumps
    app.json.dumps = lambda obj, **kw: plain({"wrapped": obj}, **kw)  # type: ignore[method-assign]

    @app.route("/")
    async def index() -> Any:
        return {"a": 1}

    body = await (await app.test_client().get("/")).get_data(as_text=True)
    assert body == '{"wrapped":{"a":1}}\n'


async def test_json_dump_and_load_go_through_the_providers_own() -> None:
    # As Flask and Quart: a provider overriding dump/load was bypassed.
    from microframework import json as app_json

    class Marking(DefaultJSONProvider):
        def dump(self, obj: Any, fp: Any, **kwargs: Any) -> None:
            fp.write("/*dump*/" + self.dumps(obj, **kwargs))

        def load(self, fp: Any, **kwargs: Any) -> Any:
            return {"via": "load", "data": self.loads(fp.read(), **kwargs)}

    app = Microframework(__name__)
    app.json = Marking(app)
    out = io.StringIO()
    async with app.app_context():
        app_json.dump({"a": 1}, out)
        loaded = app_json.load(io.StringIO("[1]"))
    assert out.getvalue() == '/*dump*/{"a": 1}'
    assert loaded == {"via": "load", "data": [1]}


# -- parity with Flask found by the templates review (session 31) --------------------
@dataclasses.dataclass
class _CallableDefault:
    # A dataclass compares by value, so it can't be hashed.
    def __call__(self, o: Any) -> Any:
        if isinstance(o, datetime.date):
            return o.isoformat()
        raise TypeError(type(o).__name__)


async def test_an_unhashable_default_serves_json_and_sessions() -> None:
    # The kept encoders are keyed by the settings, default included: every JSON
    # answer and session save was a 500.
    from microframework import jsonify
    from microframework import session

    app = Microframework(__name__)
    app.secret_key = "k"
    app.json.default = _CallableDefault()  # type: ignore[attr-defined]
    day = datetime.date(2024, 1, 2)

    @app.get("/d")
    async def as_dict() -> Any:
        return {"when": day}

    @app.get("/j")
    async def as_jsonify() -> Any:
        return jsonify(when=day)

    @app.get("/s")
    async def in_session() -> str:
        session["when"] = day
        return "ok"

    client = app.test_client()
    for path in ("/d", "/j"):
        response = await client.get(path)
        assert await response.get_data() == b'{"when":"2024-01-02"}\n'
    assert (await client.get("/s")).status_code == 200


@pytest.mark.parametrize("where", ["instance", "class"])
async def test_a_dict_a_view_returns_goes_through_a_replaced_response(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As jsonify and a (dict, status) do: the fast path for a plain dict skipped it.
    app = Microframework(__name__)
    default = DefaultJSONProvider.response

    def marked(self: Any, *args: Any, **kwargs: Any) -> Any:
        response = default(self, *args, **kwargs)
        response.headers["X-Custom"] = "yes"
        return response

    if where == "instance":
        app.json.response = marked.__get__(app.json)  # type: ignore[method-assign]
    else:
        monkeypatch.setattr(DefaultJSONProvider, "response", marked)

    @app.get("/")
    async def index() -> dict[str, int]:
        return {"a": 1}

    response = await app.test_client().get("/")
    assert response.headers.get("X-Custom") == "yes"
    assert await response.get_data() == b'{"a":1}\n'


async def test_a_dumps_patched_onto_the_class_writes_response_bodies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # mock.patch.object(DefaultJSONProvider, "dumps", ...) in a test: it was seen
    # only by the session, as the choice was made when the class was defined.
    app = Microframework(__name__)
    default = DefaultJSONProvider.dumps

    def prefixed(self: Any, obj: Any, **kwargs: Any) -> str:
        return "/*p*/" + default(self, obj, **kwargs)

    monkeypatch.setattr(DefaultJSONProvider, "dumps", prefixed)

    @app.get("/")
    async def index() -> dict[str, int]:
        return {"a": 1}

    assert await (await app.test_client().get("/")).get_data() == b'/*p*/{"a":1}\n'


class BytesProvider(JSONProvider):
    """An orjson-style provider: ``dumps`` returns bytes."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj).encode()  # type: ignore[return-value]

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return json.loads(s)


async def test_client_json_with_a_provider_that_dumps_bytes() -> None:
    # An orjson provider's dumps gives bytes: the test client's json= raised
    # AttributeError; Flask's sends them as they are (json 1, session 33).
    app = Microframework(__name__)
    app.json = BytesProvider(app)

    @app.route("/echo", methods=["POST"])
    async def echo() -> Any:
        return {"got": await request.get_json(), "type": request.content_type}

    response = await app.test_client().post("/echo", json={"a": [1, 2]})
    assert response.status_code == 200
    assert json.loads(await response.get_data()) == {
        "got": {"a": [1, 2]},
        "type": "application/json",
    }


async def test_publish_json_uses_the_apps_provider() -> None:
    # As jsonify, send_json and SSE data do: a datetime was a TypeError (json 2).
    app = Microframework(__name__)
    broadcast = Broadcast("memory://")
    broadcast.init_app(app)
    value = {"at": datetime.datetime(2020, 1, 2, 3, 4, 5), "n": decimal.Decimal("9.99")}

    @app.route("/")
    async def publish() -> Any:
        async with broadcast.subscribe("c") as subscriber:
            await broadcast.publish_json("c", value)
            (event,) = subscriber.drain()
        return {"data": event.data}

    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/")
        assert response.status_code == 200
        data = (await response.get_json())["data"]
    assert json.loads(data) == {"at": "Thu, 02 Jan 2020 03:04:05 GMT", "n": "9.99"}


async def test_a_coroutine_in_json_says_an_await_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Flask's jsonify(request.json) ported as is: the error named only the type
    # (json 10, session 33); the coroutine is closed, not warned about later.
    app = Microframework(__name__)

    @app.post("/")
    async def echo() -> Any:
        return {"got": request.get_json()}

    response = await app.test_client().post("/", json={"a": 1})
    assert response.status_code == 500
    assert "a missing 'await'?" in caplog.text


async def test_publish_json_publishes_text_with_a_provider_dumping_bytes() -> None:
    # An orjson provider's bytes made event.data bytes in an app context and str
    # outside it: a relaying websocket sent binary frames (review15 3).
    app = Microframework(__name__)
    app.json = BytesProvider(app)
    async with Broadcast("memory://") as broadcast, app.app_context():
        async with broadcast.subscribe("c") as subscriber:
            await broadcast.publish_json("c", {"x": 1})
            (event,) = subscriber.drain()
    assert event.data == '{"x": 1}'


class _DecimalJSON(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", decimal.Decimal)
        return json.loads(s, **kwargs)


async def test_a_test_responses_get_json_parses_with_the_apps_provider() -> None:
    # As Flask's client (response.json_module = app.json): a ported money test
    # comparing with Decimal("0.1") got the float 0.1.
    app = Microframework(__name__)
    app.json = _DecimalJSON(app)

    @app.route("/price")
    async def price() -> Response:
        return Response('{"amount": 0.1}', mimetype="application/json")

    client = app.test_client()
    response = await client.get("/price")
    assert await response.get_json() == {"amount": decimal.Decimal("0.1")}
    async with client.request("/price") as connection:
        streamed = await connection.as_response()
    assert await streamed.get_json() == {"amount": decimal.Decimal("0.1")}


async def test_a_response_outside_the_test_client_parses_with_the_current_apps() -> (
    None
):
    app = Microframework(__name__)
    app.json = _DecimalJSON(app)
    response = app.response_class('{"amount": 0.1}', mimetype="application/json")
    assert await response.get_json() == {"amount": 0.1}  # no app: the stdlib's
    async with app.app_context():
        assert await response.get_json() == {"amount": decimal.Decimal("0.1")}
