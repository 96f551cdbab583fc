"""Benchmark runner: requests/s per case and framework, and the ratio to bare ASGI.

The rule: all numbers in a table come from one run on one event loop. Each case first
checks every app's answer (status, content type, body), then runs a warm-up, then
``--rounds`` timed rounds of ``--requests`` sequential requests, with the framework
order rotated every round so slow drift in the machine is spread over all of them.
The headline number is the *best* round (noise only ever slows a round down); the
median is printed next to it. A framework that cannot be imported is skipped with a
note; one that answers wrongly is reported as failed and the exit status is 1.

Usage: python benchmarks/run.py [--cases hello,json,routed,echo]
       [--frameworks bare,microframework,starlette,quart] [--requests N] [--rounds R]
       [--json out.json] [--quick] [--disable-gc]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

# Running as ``python benchmarks/run.py`` puts this directory on sys.path; importing
# run.py from elsewhere (a smoke test) needs the same.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from apps import spec  # noqa: E402  (needs the sys.path entry above)
from harness import ASGIApp  # noqa: E402
from harness import Lifespan  # noqa: E402
from harness import make_scope_template  # noqa: E402
from harness import request_once  # noqa: E402
from harness import Scope  # noqa: E402
from harness import settle  # noqa: E402
from harness import timed_round  # noqa: E402

DEFAULT_REQUESTS = 5000
DEFAULT_ROUNDS = 5
QUICK_REQUESTS = 50
QUICK_ROUNDS = 1
MAX_WARMUP = 1000


@dataclass(frozen=True)
class Case:
    """One request shape and the answer every framework must give to it."""

    name: str
    method: str
    path: str
    media_type: str
    text: bytes | None = None
    json_value: Any = None
    body: bytes = b""
    content_type: bytes | None = None

    def template(self, state: dict[str, Any] | None) -> Scope:
        return make_scope_template(
            self.method,
            self.path,
            body=self.body,
            content_type=self.content_type,
            state=state,
        )

    def check(self, status: int | None, content_type: str, body: bytes) -> list[str]:
        """Differences between an app's answer and this case's expected answer."""
        errors = []
        if status != 200:
            errors.append(f"status {status}, expected 200")
        media = content_type.split(";")[0].strip().lower()
        if media != self.media_type:
            errors.append(f"content-type {content_type!r}, expected {self.media_type}")
        if self.text is not None and body != self.text:
            errors.append(f"body {body[:80]!r}, expected {self.text!r}")
        if self.json_value is not None:
            try:
                value = json.loads(body)
            except ValueError:
                value = ...
            if value != self.json_value:
                errors.append(f"body {body[:80]!r} is not JSON for {self.json_value!r}")
        return errors


CASES: dict[str, Case] = {
    "hello": Case("hello", "GET", "/", "text/plain", text=spec.HELLO_TEXT.encode()),
    "json": Case(
        "json", "GET", "/json", "application/json", json_value=spec.JSON_PAYLOAD
    ),
    "routed": Case(
        "routed",
        "GET",
        spec.ROUTED_PATH,
        "text/plain",
        text=spec.route_text(
            spec.ROUTE_COUNT - 1, spec.ROUTED_A, spec.ROUTED_B
        ).encode(),
    ),
    "echo": Case(
        "echo",
        "POST",
        "/echo",
        "application/json",
        json_value=spec.ECHO_PAYLOAD,
        body=spec.ECHO_BODY,
        content_type=b"application/json",
    ),
}

FRAMEWORKS: dict[str, str] = {
    "bare": "apps.bare",
    "microframework": "apps.microframework_app",
    "starlette": "apps.starlette_app",
    "quart": "apps.quart_app",
}


@dataclass
class Framework:
    """A framework's app, once imported, built and started."""

    name: str
    app: ASGIApp | None = None
    version: str = ""
    lifespan: Lifespan | None = None
    skipped: str = ""
    failed: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Result:
    """One case for one framework: per-round throughput, or why there is none."""

    case: str
    framework: str
    rates: list[float] = field(default_factory=list)
    failed: str = ""

    @property
    def best(self) -> float | None:
        return max(self.rates) if self.rates else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None


@dataclass
class Options:
    cases: list[str]
    frameworks: list[str]
    requests: int
    rounds: int
    json_path: Path | None
    disable_gc: bool


async def load(name: str) -> Framework:
    """Import, build and start one framework's app; record why if that fails."""
    framework = Framework(name)
    try:
        module = importlib.import_module(FRAMEWORKS[name])
    except ImportError as error:
        framework.skipped = f"not importable ({error})"
        return framework
    try:
        create_app: Callable[[], ASGIApp] = module.create_app
        app = create_app()
        framework.version = str(module.version())
        framework.lifespan = lifespan = Lifespan(app)
        await lifespan.startup()
    except Exception as error:  # a half-written framework must not stop the others
        framework.failed = f"setup raised {type(error).__name__}: {error}"
        return framework
    if lifespan.note:
        framework.notes.append(lifespan.note)
    framework.app = app
    return framework


async def verify(app: ASGIApp, case: Case, template: Scope) -> tuple[str, int]:
    """Check one answer before timing; return (error or "", expected body length)."""
    try:
        record = await request_once(app, template, case.body)
    except Exception as error:  # report, don't crash: the other frameworks still run
        return f"raised {type(error).__name__}: {error}", 0
    errors = record.protocol_errors() + case.check(
        record.status, record.content_type, record.body
    )
    return "; ".join(errors), len(record.body)


async def run_case(
    case: Case,
    frameworks: list[Framework],
    options: Options,
    report: Callable[[str], None],
) -> list[Result]:
    """Verify, warm up and time one case across all runnable frameworks."""
    results = {f.name: Result(case.name, f.name) for f in frameworks}
    runnable: list[tuple[str, ASGIApp, Scope, int]] = []
    for framework in frameworks:
        if framework.app is None:
            continue
        state = framework.lifespan.state if framework.lifespan else None
        template = case.template(state)
        error, length = await verify(framework.app, case, template)
        if error:
            results[framework.name].failed = error
        else:
            runnable.append((framework.name, framework.app, template, length))

    warmup = min(options.requests, MAX_WARMUP)
    for r in range(-1, options.rounds):
        shift = max(r, 0) % len(runnable) if runnable else 0
        for name, app, template, length in runnable[shift:] + runnable[:shift]:
            result = results[name]
            if result.failed:
                continue
            count = warmup if r < 0 else options.requests
            try:
                elapsed, tally = await timed_round(
                    app, template, case.body, count, disable_gc=options.disable_gc
                )
            except Exception as error:
                result.failed = f"raised during timing {type(error).__name__}: {error}"
                continue
            if tally.bad_status or tally.body_bytes != count * length:
                result.failed = (
                    f"{tally.bad_status} non-200 responses, {tally.body_bytes} body "
                    f"bytes for {count} requests of {length}"
                )
            elif r >= 0:
                result.rates.append(count / elapsed)
        if r >= 0:
            report(f"  {case.name}: round {r + 1}/{options.rounds} done")
    await settle()
    return [results[f.name] for f in frameworks]


async def run(options: Options, report: Callable[[str], None]) -> dict[str, Any]:
    """Run every selected case on every selected framework; return the JSON report."""
    frameworks = [await load(name) for name in options.frameworks]
    for framework in frameworks:
        if framework.skipped or framework.failed:
            report(f"{framework.name}: {framework.skipped or framework.failed}")
    started = time.perf_counter()
    results: list[Result] = []
    try:
        for name in options.cases:
            results += await run_case(CASES[name], frameworks, options, report)
    finally:
        for framework in frameworks:
            if framework.lifespan is not None:
                try:
                    await framework.lifespan.shutdown()
                except Exception as error:
                    framework.notes.append(
                        f"shutdown raised {type(error).__name__}: {error}"
                    )
    return _report_dict(options, frameworks, results, time.perf_counter() - started)


def _report_dict(
    options: Options, frameworks: list[Framework], results: list[Result], seconds: float
) -> dict[str, Any]:
    bare = {r.case: r.best for r in results if r.framework == "bare"}
    rows = []
    for result in results:
        base = bare.get(result.case)
        best = result.best
        rows.append(
            {
                "case": result.case,
                "framework": result.framework,
                "rates": [round(rate, 1) for rate in result.rates],
                "best": best,
                "median": result.median,
                "ratio_to_bare": best / base if best and base else None,
                "failed": result.failed,
            }
        )
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "requests": options.requests,
        "rounds": options.rounds,
        "gc": "disabled during rounds" if options.disable_gc else "enabled",
        "statistic": "best round",
        "seconds": round(seconds, 2),
        "frameworks": {
            f.name: {
                "version": f.version,
                "skipped": f.skipped,
                "failed": f.failed,
                "notes": f.notes,
            }
            for f in frameworks
        },
        "results": rows,
    }


def format_table(data: dict[str, Any]) -> str:
    """Render the report as a plain-text table, with notes for skipped frameworks."""
    header = ("case", "framework", "req/s best", "req/s median", "us/req", "vs bare")
    lines: list[tuple[str, ...]] = [header]
    previous = ""
    for row in data["results"]:
        info = data["frameworks"][row["framework"]]
        if info["skipped"]:
            continue
        case = row["case"] if row["case"] != previous else ""
        previous = row["case"]
        if row["best"] is None:
            reason = info["failed"] or row["failed"] or "no data"
            lines.append((case, row["framework"], "FAILED", "", "", reason))
            continue
        ratio = row["ratio_to_bare"]
        lines.append(
            (
                case,
                row["framework"],
                f"{row['best']:,.0f}",
                f"{row['median']:,.0f}",
                f"{1e6 / row['best']:.1f}",
                f"{ratio:.2f}" if ratio is not None else "-",
            )
        )
    # A FAILED row's reason sits in the last column but must not widen it.
    widths = [
        max(len(line[i]) for line in lines if i < 5 or line[2] != "FAILED")
        for i in range(len(header))
    ]
    out = [
        f"{data['python']}, {data['rounds']} rounds x {data['requests']} requests, "
        f"{data['statistic']} (ratio = req/s / bare req/s), GC {data['gc']}, "
        f"{data['seconds']} s",
        "",
    ]
    for line in lines:
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [
            cell.rjust(width)
            for cell, width in zip(line[2:5], widths[2:5], strict=True)
        ]
        cells.append(line[5] if line[2] == "FAILED" else line[5].rjust(widths[5]))
        out.append("  ".join(cells).rstrip())
    for name, info in data["frameworks"].items():
        detail = info["skipped"] or info["failed"]
        label = f"{name} {info['version']}".strip()
        if detail:
            out.append(f"note: {label}: {detail}")
        for note in info["notes"]:
            out.append(f"note: {label}: {note}")
    return "\n".join(out)


def _names(choices: dict[str, Any]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown or empty {unknown or text!r}; choose from {','.join(choices)}"
            )
        return list(dict.fromkeys(names))

    return parse


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> Options:
    """Parse the command line; ``--quick`` only changes the defaults it is given."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--cases", type=_names(CASES), default=list(CASES))
    parser.add_argument(
        "--frameworks", type=_names(FRAMEWORKS), default=list(FRAMEWORKS)
    )
    parser.add_argument(
        "--requests", type=_positive, help=f"per round (default {DEFAULT_REQUESTS})"
    )
    parser.add_argument(
        "--rounds", type=_positive, help=f"timed rounds (default {DEFAULT_ROUNDS})"
    )
    parser.add_argument(
        "--json", type=Path, dest="json_path", help="also write the report here"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_ROUNDS} round of {QUICK_REQUESTS} requests by default",
    )
    parser.add_argument(
        "--disable-gc",
        action="store_true",
        help="turn the cyclic GC off inside timed rounds",
    )
    args = parser.parse_args(argv)
    requests = args.requests or (QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    return Options(
        args.cases, args.frameworks, requests, rounds, args.json_path, args.disable_gc
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit status 1 if any app answered wrongly."""
    options = parse_args(argv)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    data = asyncio.run(run(options, report))
    print(format_table(data))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(data, indent=2) + "\n")
    failed = any(info["failed"] for info in data["frameworks"].values()) or any(
        row["failed"] for row in data["results"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
