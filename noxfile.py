"""Development sessions: ``nox`` runs lint, typecheck, tests and docs; ``nox -s bench``,
``bench_e2e`` and ``soak`` run the benchmarks.

Rule: every session installs what it needs from ``pyproject.toml`` (its extras, or the
declared minimum versions for ``tests_min``), so a session passes or fails the same
way on any machine. Arguments after ``--`` go to the tool the session runs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]

PYTHONS = ["3.11", "3.12", "3.13"]
ROOT = Path(__file__).parent


def _minimum_pins() -> list[str]:
    """The runtime and test dependencies pinned to the lowest versions pyproject
    allows (markers kept): the tests extra's bounds are promises too."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tests = project["optional-dependencies"]["tests"]
    pins = []
    for requirement in [*project["dependencies"], *tests]:
        match = re.fullmatch(
            r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)\s*(;.*)?", requirement
        )
        if match is None:
            raise ValueError(
                f"dependency {requirement!r} has no plain '>=' minimum to pin"
            )
        pins.append(f"{match[1]}=={match[2]}{match[3] or ''}")
    return pins


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def tests_min(session: nox.Session) -> None:
    """Run the tests with every runtime and test dependency at its declared minimum."""
    # One install, so the resolver must satisfy the pins and the project together.
    session.install(*_minimum_pins(), "-e", ".[tests]")
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """Check style and formatting with the ruff pinned in the typecheck extra.

    .ci/run runs the same two commands.
    """
    session.install("-e", ".[typecheck]")
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[0])
def typecheck(session: nox.Session) -> None:
    """Run mypy with the configuration in pyproject.toml."""
    session.install("-e", ".[typecheck,tests]")
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHONS[0])
def docs(session: nox.Session) -> None:
    """Build the HTML docs; any warning fails the build."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "-b", "html", "docs", "docs/_build/html", *session.posargs
    )


@nox.session(python=PYTHONS[0])
def fuzz(session: nox.Session) -> None:
    """Run the fuzz suite (tests/fuzz) with a long, randomized budget.

    ``MICROFRAMEWORK_FUZZ_SCALE`` (default 50) multiplies each test's examples; the
    normal test run uses a small fixed budget. Failures are saved in ``.hypothesis/``
    and replayed first on the next run.
    """
    session.install("-e", ".[tests]")
    session.env["MICROFRAMEWORK_FUZZ"] = "long"
    session.run("python", "-m", "pytest", "tests/fuzz", *session.posargs)


@nox.session(python=PYTHONS[0])
def bench(session: nox.Session) -> None:
    """In-process throughput per case against bare ASGI, Starlette, Quart and BlackSheep."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHONS[0])
def bench_e2e(session: nox.Session) -> None:
    """Frameworks behind hypercorn and uvicorn over TCP: wrk (HTTP/1.1), h2load (h2c).

    Needs wrk, h2load (nghttp2-client) and taskset on the PATH.
    """
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/e2e.py", *session.posargs)


@nox.session(python=PYTHONS[0])
def soak(session: nox.Session) -> None:
    """Ten minutes of mixed traffic through hypercorn; ``-- --duration 60`` for less."""
    session.install("-e", ".[bench,tests]")
    session.run("python", "benchmarks/soak.py", *session.posargs)
