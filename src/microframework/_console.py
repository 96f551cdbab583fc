"""``_console.py``: the interactive console of ``microframework shell``.

Rule: imported only when the shell starts (``cli.py`` must not import the standard
library's ``code`` first: an app module may be named ``code.py``).
"""

from __future__ import annotations

import ast
import asyncio
import code
import contextvars
import inspect
import sys
import traceback
from types import CodeType
from typing import Any


class AsyncConsole(code.InteractiveConsole):
    """An interactive console where top-level ``await`` works.

    Statements share one ``contextvars.Context`` and one event loop, and each runs on
    it (``asyncio.create_task`` works); the loop runs only during a statement, so
    background tasks progress while the next one runs.
    """

    def __init__(
        self,
        namespace: dict[str, Any],
        runner: asyncio.Runner,
        context: contextvars.Context,
    ) -> None:
        super().__init__(namespace)
        self.runner = runner
        self.context = context
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

    def runcode(self, code: CodeType) -> None:
        """Run one compiled statement on the console's loop."""
        try:
            self.runner.run(self._run(code), context=self.context)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()

    async def _run(self, code: CodeType) -> None:
        result = eval(code, self.locals)
        if code.co_flags & inspect.CO_COROUTINE:  # it awaits
            await result

    def showtraceback(self) -> None:
        """The traceback from the console's own line down: not the loop's frames."""
        kind, error, tb = sys.exc_info()
        while tb is not None and tb.tb_frame.f_code.co_filename != "<console>":
            tb = tb.tb_next
        if error is None or tb is None:
            return super().showtraceback()
        self.write("".join(traceback.format_exception(kind, error, tb)))


def enable_completion(namespace: dict[str, Any]) -> None:
    """In a terminal: history and tab completion of *namespace* names, as ``flask shell``."""
    if not sys.stdin.isatty():
        return
    # What Python runs when it turns interactive: site's sets up readline and the
    # ~/.python_history file; a startup script may set its own.
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None:
        hook()
    try:
        import readline
        import rlcompleter
    except ImportError:
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")
