"""hypercorn's config for ``run`` and ``run_task``: the access log on stdout, errors on
stderr, with what the client sent escaped.

hypercorn writes the percent-decoded path and the headers as they came, so a request
for ``/x%0d%0a...`` or a ``User-Agent`` with ESC could forge a log line or drive the
terminal reading it (log injection).
"""

from __future__ import annotations

import logging
from logging import NullHandler
from typing import Any
from typing import cast

from hypercorn.config import Config
from hypercorn.logging import Logger

from ._utils import printable


class EscapingLogger(Logger):
    """hypercorn's logger, its access-log fields escaped (as :func:`printable`)."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if config.errorlog == "-" and self.error_logger is not None:
            for handler in self.error_logger.handlers:
                handler.addFilter(_UnlessHandledAbove(self.error_logger))

    def atoms(self, request: Any, response: Any, request_time: float) -> Any:
        """The access log's fields, each printable."""
        atoms = cast("dict[str, Any]", super().atoms(request, response, request_time))
        for key, value in atoms.items():
            if isinstance(value, str) and not value.isprintable():
                atoms[key] = printable(value)
        return atoms


class _UnlessHandledAbove(logging.Filter):
    """Lets hypercorn's own handler print a record only if no handler above will (a
    root handler, Flask's dictConfig recipe, prints it once, as werkzeug's under
    ``flask run``). Asked per record: a worker configures logging after this."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger

    def filter(self, record: logging.LogRecord) -> bool:
        """False if a handler of a logger above takes *record*."""
        above = self.logger.parent if self.logger.propagate else None
        while above is not None:
            if any(_prints(handler, record) for handler in above.handlers):
                return False
            above = above.parent if above.propagate else None
        return True


def _prints(handler: logging.Handler, record: logging.LogRecord) -> bool:
    return handler.level <= record.levelno and handler.__class__ is not NullHandler


def logged_config() -> Config:
    """A hypercorn ``Config`` logging requests to stdout and errors to stderr, escaped."""
    config = Config()
    config.accesslog = config.errorlog = "-"
    config.logger_class = EscapingLogger
    return config
