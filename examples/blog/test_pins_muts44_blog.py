"""Pins from mutation testing (helper muts44, session 36) for the blog example's
random user ids (examples/blog/blog/store.py). Lives beside test_blog.py."""

from __future__ import annotations

import json

import pytest
from blog import store as store_module
from blog.store import Store


def test_a_user_id_already_taken_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # store.Store.add_user: the `while user_id in self._users_by_id` redraw (X2).
    draws = iter([7, 7, 9])
    monkeypatch.setattr(store_module.secrets, "randbits", lambda bits: next(draws))
    store = Store()
    first = store.add_user("ada", "hash")
    second = store.add_user("bob", "hash")
    assert first is not None and second is not None
    assert (first.id, second.id) == (7, 9)
    assert store.user(7) is first and store.user(9) is second


def test_user_ids_are_exact_as_json_numbers() -> None:
    # store.Store.add_user: randbits(53) (X3): an id a JavaScript client reads back
    # from JSON must be the same number (a 64-bit id is above 2**53 2047 times in 2048).
    store = Store()
    for n in range(20):
        user = store.add_user(f"user{n}", "hash")
        assert user is not None
        assert 0 <= user.id < 2**53
        assert int(float(json.loads(json.dumps(user.id)))) == user.id
