"""Pins from mutation testing of json/tag.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins. Flask's flask.json.tag gives the same results.
"""

from __future__ import annotations

from markupsafe import Markup

from microframework.json.tag import TaggedJSONSerializer


class _Bold:
    def __html__(self) -> str:
        return "<b>x</b>"

    def __str__(self) -> str:
        return "x"


def test_an_html_object_is_stored_as_its_html_not_its_str() -> None:
    # json.tag.TagMarkup.to_json: str(value.__html__()).
    serializer = TaggedJSONSerializer()
    back = serializer.loads(serializer.dumps({"m": _Bold()}))
    assert back == {"m": Markup("<b>x</b>")}
    assert isinstance(back["m"], Markup)


def test_register_with_an_index_checks_the_tag_before_the_default_ones() -> None:
    # json.tag.TaggedJSONSerializer.register: order.insert(index, tag), so a tag for a
    # dict subclass placed at 0 wins over PassDict (Flask's documented use of index).
    from collections import OrderedDict

    from microframework.json.tag import JSONTag

    class TagOrderedDict(JSONTag):
        __slots__ = ()
        key = " od"

        def check(self, value: object) -> bool:
            return isinstance(value, OrderedDict)

        def to_json(self, value: OrderedDict[str, int]) -> list[list[object]]:
            return [[k, self.serializer.tag(v)] for k, v in value.items()]

        def to_python(self, value: list[list[object]]) -> OrderedDict[object, object]:
            return OrderedDict((k, v) for k, v in value)

    serializer = TaggedJSONSerializer()
    serializer.register(TagOrderedDict, index=0)
    back = serializer.loads(serializer.dumps(OrderedDict([("b", 1), ("a", 2)])))
    assert isinstance(back, OrderedDict)
    assert list(back.items()) == [("b", 1), ("a", 2)]
