"""The blog's storage: users and posts in plain dicts, one store per app.

Rule: every method is synchronous and never awaits, so on one event loop each call
runs to its end before another request can touch the store; that is the whole of
the locking. The data lives as long as the process (a demo, not a database), and a
server started with several workers has one store per worker. So user ids are random,
not counted: the session cookie names its user by id, and a cookie that outlives its
store (a restart, with the same secret key) or comes from another worker's must name
nobody, not whoever got that id next.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import UTC


@dataclass(slots=True)
class User:
    id: int
    username: str
    password_hash: str


@dataclass(slots=True)
class Post:
    id: int
    author_id: int
    title: str
    body: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


class Store:
    """Users by name and posts by id; post ids count from 1, user ids are random."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._users_by_id: dict[int, User] = {}
        self._posts: dict[int, Post] = {}
        self._post_ids = itertools.count(1)

    def add_user(self, username: str, password_hash: str) -> User | None:
        """Create a user; ``None`` if the name is taken."""
        if username in self._users:
            return None
        user_id = secrets.randbits(53)  # 53 bits: still exact as a JSON number
        while user_id in self._users_by_id:
            user_id = secrets.randbits(53)
        user = User(user_id, username, password_hash)
        self._users[username] = user
        self._users_by_id[user.id] = user
        return user

    def user_named(self, username: str) -> User | None:
        return self._users.get(username)

    def user(self, user_id: int) -> User | None:
        return self._users_by_id.get(user_id)

    def add_post(self, author: User, title: str, body: str) -> Post:
        post = Post(next(self._post_ids), author.id, title, body)
        self._posts[post.id] = post
        return post

    def post(self, post_id: int) -> Post | None:
        return self._posts.get(post_id)

    def posts(self) -> list[Post]:
        """Every post, newest first."""
        return sorted(self._posts.values(), key=lambda post: post.id, reverse=True)

    def delete_post(self, post_id: int) -> None:
        self._posts.pop(post_id, None)
