"""The blog example: an app factory wiring the ``auth`` and ``posts`` blueprints.

Rule: all state hangs off the app (``app.extensions["blog_store"]``), so every
``create_app()`` is an independent blog and the tests never share data.
Serve it with ``hypercorn "examples/blog/blog:create_app()"`` from the repository root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from microframework import Microframework

from . import auth
from . import posts
from .store import Store


def create_app(test_config: Mapping[str, Any] | None = None) -> Microframework:
    """Build a blog app; *test_config* replaces the environment's settings.

    Without it, ``MICROFRAMEWORK_SECRET_KEY`` (and any other ``MICROFRAMEWORK_*``
    variable) configures the app; the built-in ``"dev"`` key is for trying it out only.
    """
    app = Microframework(__name__)
    app.config.from_mapping(
        SECRET_KEY="dev",
        # Lax keeps the session cookie off cross-site form posts, the CSRF this
        # demo would otherwise be open to.
        SESSION_COOKIE_SAMESITE="Lax",
        BLOG_TITLE="Microblog",
        PASSWORD_HASH_METHOD="scrypt",
    )
    if test_config is None:
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    app.extensions["blog_store"] = Store()
    app.register_blueprint(auth.bp)
    app.register_blueprint(posts.bp)
    return app
