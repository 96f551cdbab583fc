"""``MicroframeworkCliRunner``: invoke an app's CLI commands in tests.

Rule: the runner hands commands the app itself (through a ``ScriptInfo`` whose
``create_app`` returns it), so no discovery, env file or import happens in a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import IO
from typing import TYPE_CHECKING

import click
from click.testing import CliRunner
from click.testing import Result

from ..cli_group import ScriptInfo

if TYPE_CHECKING:
    from ..app import Microframework


class MicroframeworkCliRunner(CliRunner):
    """A ``click.testing.CliRunner`` that runs commands against one app."""

    def __init__(self, app: Microframework, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(
        self,
        cli: click.Command | None = None,
        args: str | Sequence[str] | None = None,
        input: str | bytes | IO[Any] | None = None,
        env: Mapping[str, str | None] | None = None,
        catch_exceptions: bool | None = None,
        color: bool = False,
        **kwargs: Any,
    ) -> Result:
        """Invoke *cli* (default: ``app.cli``) with *args*, as ``CliRunner.invoke``.

        Unless ``obj`` is given, commands load this runner's app.
        """
        if cli is None:
            cli = getattr(self.app, "cli", None)
            if cli is None:
                raise TypeError(
                    "the app has no 'cli' group; pass the command to invoke"
                )
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, input, env, catch_exceptions, color, **kwargs)
