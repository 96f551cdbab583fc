"""The benchmark apps: one module per framework, all implementing `apps.spec`.

Each module exposes ``create_app()`` returning an ASGI callable and ``version()``.
A module imports its framework at import time, so an ``ImportError`` from importing
it means "framework not installed" and the harness skips that framework.
"""

from __future__ import annotations
