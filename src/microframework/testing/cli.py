"""``MicroframeworkCliRunner``: invoke an app's CLI commands in tests.

Rule: commands get the app itself (via ``ScriptInfo``): no discovery or env file.
"""

from __future__ import annotations

from typing import Any
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
        self, cli: click.Command | None = None, *args: Any, **kwargs: Any
    ) -> Result:
        """Invoke *cli* (default: ``app.cli``) like ``CliRunner.invoke``; without ``obj``, with this app."""
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(self.app.cli if cli is None else cli, *args, **kwargs)
