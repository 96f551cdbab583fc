"""A module-level app for servers that take ``module:attribute``.

Rule: nothing but the one line; ``hypercorn "examples/blog/blog:create_app()"`` works
as well, and both build the app the same way.
"""

from __future__ import annotations

from blog import create_app

app = create_app()
