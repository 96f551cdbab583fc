"""``create_logger`` and the default handler: the app's logger, named after the app."""

from __future__ import annotations

import logging
import sys
from typing import Any
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import Microframework


class _Stderr:
    """``sys.stderr`` as it is at each write, as Flask's ``wsgi_errors_stream``: one
    swapped in when the logger was made (click's ``CliRunner``), since closed, must
    not swallow every later record, and one swapped in later (``capsys``) gets them."""

    name = "<stderr>"

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        flush = getattr(sys.stderr, "flush", None)  # a GUI's write-only one has none
        if flush is not None:
            flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stderr, name)  # isatty(), fileno(), encoding: as Flask's


default_handler = logging.StreamHandler(_Stderr())
default_handler.setFormatter(
    logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s")
)


def has_level_handler(logger: logging.Logger) -> bool:
    """True if a handler in the logger's chain will emit at its effective level."""
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= level for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


def create_logger(app: Microframework) -> logging.Logger:
    """Return the app's logger, adding the default handler if nothing would emit."""
    logger = logging.getLogger(app.name)
    if app.debug and not logger.level:
        logger.setLevel(logging.DEBUG)
    if not has_level_handler(logger):
        logger.addHandler(default_handler)
    return logger
