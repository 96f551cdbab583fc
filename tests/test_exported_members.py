from __future__ import annotations
import __future__

import types

import microframework
import microframework.testing


def test_all_lists_exactly_the_public_names_sorted() -> None:
    public = {
        name
        for name in dir(microframework)
        if not name.startswith("_")
        and not isinstance(
            getattr(microframework, name), types.ModuleType | __future__._Feature
        )
    }
    public.add("json")  # the json module is part of the API, as in Flask
    assert set(microframework.__all__) == public
    assert microframework.__all__ == sorted(microframework.__all__)


def test_testing_exports_the_quart_names() -> None:
    for name in (
        "MicroframeworkClient",
        "TestApp",
        "TestHTTPConnection",
        "WebsocketResponseError",
    ):
        assert name in microframework.testing.__all__


def test_the_annotations_of_the_response_and_contexts_resolve_at_runtime() -> None:
    # typing.get_type_hints (sphinx, validation libraries) resolved them before this
    # session's typing work made them name checker-only aliases (review10).
    import typing

    from microframework import Microframework
    from microframework import Response

    for function in (
        Response.__init__,
        Microframework.request_context,
        Microframework.websocket_context,
    ):
        assert typing.get_type_hints(function)
