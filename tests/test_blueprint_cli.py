"""``blueprint.cli``: commands under the blueprint's name, or merged into the app's."""

from __future__ import annotations

import click

from microframework import Blueprint
from microframework import Microframework


def _app_with(cli_group: object = "unset") -> Microframework:
    app = Microframework(__name__)
    kwargs = {} if cli_group == "unset" else {"cli_group": cli_group}
    bp = Blueprint("users", __name__, **kwargs)  # type: ignore[arg-type]

    @bp.cli.command("create")
    @click.argument("name")
    def create(name: str) -> None:
        click.echo(f"created {name}")

    app.register_blueprint(bp)
    return app


def test_blueprint_commands_live_under_its_name() -> None:
    result = _app_with().test_cli_runner().invoke(args=["users", "create", "ann"])
    assert result.exit_code == 0, result.output
    assert "created ann" in result.output


def test_cli_group_none_merges_into_the_app() -> None:
    result = _app_with(None).test_cli_runner().invoke(args=["create", "bob"])
    assert result.exit_code == 0, result.output
    assert "created bob" in result.output


def test_cli_group_renames_the_group() -> None:
    result = (
        _app_with("people").test_cli_runner().invoke(args=["people", "create", "cy"])
    )
    assert result.exit_code == 0, result.output
    assert "created cy" in result.output


def test_nested_blueprints_groups_use_the_dotted_name() -> None:
    # As Flask: two children named "users" under different parents both keep theirs.
    app = Microframework(__name__)
    for parent_name in ("shop", "admin"):
        parent, child = Blueprint(parent_name, __name__), Blueprint("users", __name__)

        @child.cli.command("create")
        def create(where: str = parent_name) -> None:
            click.echo(f"user in {where}")

        parent.register_blueprint(child)
        app.register_blueprint(parent)
    assert {"shop.users", "admin.users"} <= set(app.cli.commands)
    runner = app.test_cli_runner()
    for parent_name in ("shop", "admin"):
        result = runner.invoke(args=[f"{parent_name}.users", "create"])
        assert result.exit_code == 0, result.output
        assert f"user in {parent_name}" in result.output
