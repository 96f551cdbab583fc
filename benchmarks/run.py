"""Benchmark runner: requests/s per case and framework, and the ratio to bare ASGI.

The rule: all numbers in a table come from one run on one event loop. Each case first
checks every app's answer (status, content type, headers, body), then runs a warm-up,
then ``--rounds`` timed rounds of ``--requests`` sequential requests, with the
framework order rotated every round so slow drift in the machine is spread over all of
them. The headline number is the *best* round (noise only ever slows a round down); the
median is printed next to it. A framework that cannot be imported is skipped with a
note, a case a framework cannot express is shown as n/a; one that answers wrongly is
reported as failed and the exit status is 1. The ``websocket`` case counts echo
messages on one open connection instead of requests (the driver is ``ws.py``'s). After
the ``stream`` case, each framework serves ``MEMORY_REQUESTS`` more streams under
tracemalloc, for the stream's peak traced memory.

Usage: python benchmarks/run.py [--cases hello,status,...,websocket]
       [--frameworks bare,microframework,starlette,quart,blacksheep] [--requests N]
       [--rounds R] [--json out.json] [--quick] [--disable-gc]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
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

import ws  # noqa: E402  (needs the sys.path entry above)
from apps import spec  # noqa: E402
from harness import ASGIApp  # noqa: E402
from harness import count_cyclic  # noqa: E402
from harness import gc_collected  # noqa: E402
from harness import Lifespan  # noqa: E402
from harness import make_scope_template  # noqa: E402
from harness import names_arg  # noqa: E402
from harness import request_once  # noqa: E402
from harness import Scope  # noqa: E402
from harness import settle  # noqa: E402
from harness import timed_round  # noqa: E402

DEFAULT_REQUESTS = 5000
DEFAULT_ROUNDS = 5
QUICK_REQUESTS = 50
QUICK_ROUNDS = 1
MAX_WARMUP = 1000
#: Streams served under tracemalloc after the ``stream`` case, for its peak memory.
MEMORY_REQUESTS = 100


def _werkzeug_pages() -> tuple[bytes, bytes]:
    """Werkzeug's redirect and 404 pages, which Flask-style frameworks send as is."""
    from werkzeug.exceptions import NotFound
    from werkzeug.utils import redirect

    return redirect(spec.REDIRECT_TARGET).get_data(), NotFound().get_body().encode()


_REDIRECT_PAGE, _NOT_FOUND_PAGE = _werkzeug_pages()


@dataclass(frozen=True)
class Case:
    """One request shape and the answer every framework must give to it.

    ``pages`` lists the (media type, body) pairs accepted where each framework answers
    with a page of its own (a redirect, a 404); the body is then checked against them
    instead of ``text``. ``headers`` must all be present with exactly these values.
    """

    name: str
    method: str
    path: str
    media_type: str = "text/plain"
    text: bytes | None = None
    json_value: Any = None
    body: bytes = b""
    content_type: bytes | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    pages: tuple[tuple[str, bytes], ...] = ()
    websocket: bool = False

    def template(self, state: dict[str, Any] | None) -> Scope:
        return make_scope_template(
            self.method,
            self.path,
            body=self.body,
            content_type=self.content_type,
            state=state,
        )

    def check(
        self, status: int | None, header: Callable[[str], str | None], body: bytes
    ) -> list[str]:
        """Differences between an app's answer and this case's expected answer."""
        errors = []
        if status != self.status:
            errors.append(f"status {status}, expected {self.status}")
        content_type = header("content-type") or ""
        media = content_type.split(";")[0].strip().lower()
        if self.pages:
            if (media, body) not in self.pages:
                errors.append(f"page {content_type!r} {body[:80]!r} is not one known")
        elif media != self.media_type:
            errors.append(f"content-type {content_type!r}, expected {self.media_type}")
        for name, value in self.headers:
            if header(name) != value:
                errors.append(f"header {name}: {header(name)!r}, expected {value!r}")
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


_HELLO = spec.HELLO_TEXT.encode()

CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("hello", "GET", "/", text=_HELLO),
        Case(
            "status",
            "GET",
            spec.STATUS_PATH,
            text=spec.STATUS_TEXT.encode(),
            status=spec.STATUS_CODE,
        ),
        Case(
            "status_headers",
            "GET",
            spec.STATUS_HEADERS_PATH,
            text=_HELLO,
            headers=(spec.BENCH_HEADER, ("content-type", spec.TEXT_CONTENT_TYPE)),
        ),
        Case(
            "headers",
            "GET",
            spec.HEADERS_PATH,
            text=_HELLO,
            headers=(spec.BENCH_HEADER,),
        ),
        Case("json", "GET", "/json", "application/json", json_value=spec.JSON_PAYLOAD),
        Case(
            "jsonify",
            "GET",
            spec.JSONIFY_PATH,
            "application/json",
            json_value=spec.JSON_PAYLOAD,
        ),
        Case("response", "GET", spec.RESPONSE_PATH, text=_HELLO),
        Case(
            "redirect",
            "GET",
            spec.REDIRECT_PATH,
            status=302,
            headers=(("location", spec.REDIRECT_TARGET),),
            pages=(("text/html", _REDIRECT_PAGE), ("", b"")),
        ),
        Case(
            "abort",
            "GET",
            spec.ABORT_PATH,
            status=404,
            pages=(
                ("text/html", _NOT_FOUND_PAGE),
                ("text/plain", b"Not Found"),
                ("text/plain", b"Resource not found"),
            ),
        ),
        Case(
            "routed",
            "GET",
            spec.ROUTED_PATH,
            text=spec.route_text(
                spec.ROUTE_COUNT - 1, spec.ROUTED_A, spec.ROUTED_B
            ).encode(),
        ),
        Case(
            "echo",
            "POST",
            "/echo",
            "application/json",
            json_value=spec.ECHO_PAYLOAD,
            body=spec.ECHO_BODY,
            content_type=b"application/json",
        ),
        Case("stream", "GET", spec.STREAM_PATH, text=spec.STREAM_TEXT.encode()),
        Case(
            "hooks",
            "GET",
            spec.HOOKS_PATH,
            text=spec.HOOKS_TEXT.encode(),
            headers=(spec.AFTER_HEADER,),
        ),
        Case("template", "GET", spec.TEMPLATE_PATH, text=spec.TEMPLATE_TEXT.encode()),
        Case("websocket", "GET", spec.WS_PATH, websocket=True),
    )
}

FRAMEWORKS: dict[str, str] = {
    "bare": "apps.bare",
    "microframework": "apps.microframework_app",
    "starlette": "apps.starlette_app",
    "quart": "apps.quart_app",
    "blacksheep": "apps.blacksheep_app",
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
    #: Cases the app does not express, with the reason (``UNSUPPORTED`` in its module).
    unsupported: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> dict[str, Any] | None:
        return self.lifespan.state if self.lifespan else None


@dataclass
class Result:
    """One case for one framework: per-round throughput, or why there is none."""

    case: str
    framework: str
    rates: list[float] = field(default_factory=list)
    #: Objects the cyclic GC freed per request (per message), in the last round.
    cyclic: float | None = None
    failed: str = ""
    unsupported: str = ""
    #: The stream case only: tracemalloc's (peak, kept) bytes over MEMORY_REQUESTS.
    memory: tuple[int, int] | None = None

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
    if name == "microframework":
        # The harness stands in for hypercorn and uvicorn, whose receive() the app steps
        # by hand (a middleware's gets a task): measured as they are served.
        utils = importlib.import_module("microframework._utils")
        utils.HAND_STEPPED += ("harness",)
    try:
        create_app: Callable[[], ASGIApp] = module.create_app
        app = create_app()
        framework.version = str(module.version())
        framework.unsupported = dict(getattr(module, "UNSUPPORTED", {}))
        framework.lifespan = lifespan = Lifespan(app)
        await lifespan.startup()
    except Exception as error:  # a half-written framework must not stop the others
        framework.failed = f"setup raised {type(error).__name__}: {error}"
        return framework
    if lifespan.note:
        framework.notes.append(lifespan.note)
    framework.app = app
    return framework


async def verify(framework: Framework, case: Case) -> tuple[str, int]:
    """Check one answer before timing; return (error or "", expected body length)."""
    assert framework.app is not None
    if case.websocket:
        return await ws.check(framework.app, framework.state), 0
    try:
        record = await request_once(
            framework.app, case.template(framework.state), case.body
        )
    except Exception as error:  # report, don't crash: the other frameworks still run
        return f"raised {type(error).__name__}: {error}", 0
    errors = record.protocol_errors() + case.check(
        record.status, record.header, record.body
    )
    return "; ".join(errors), len(record.body)


async def timed(
    framework: Framework, case: Case, count: int, length: int, disable_gc: bool
) -> tuple[float, int, str]:
    """One round of *count* requests (echo messages); return (seconds, objects the
    cyclic GC freed, problem)."""
    assert framework.app is not None
    if case.websocket:
        await settle()
        gc.collect()
        collected = gc_collected()
        if disable_gc:
            gc.disable()
        try:
            elapsed, wrong = await ws.echo_round(framework.app, framework.state, count)
        finally:
            if disable_gc:
                gc.enable()
        cyclic = await count_cyclic(collected)
        return elapsed, cyclic, f"{wrong} wrong echoes" if wrong else ""
    elapsed, tally = await timed_round(
        framework.app,
        case.template(framework.state),
        case.body,
        count,
        disable_gc=disable_gc,
        status=case.status,
    )
    if tally.bad_status or tally.body_bytes != count * length:
        return (
            elapsed,
            tally.cyclic,
            (
                f"{tally.bad_status} responses not {case.status}, {tally.body_bytes} "
                f"body bytes for {count} requests of {length}"
            ),
        )
    return elapsed, tally.cyclic, ""


async def traced_peak(framework: Framework, case: Case, count: int) -> tuple[int, int]:
    """Serve *count* requests under tracemalloc; return (peak, kept) bytes.

    Both are above what was traced when the pass started: ``peak`` is the high-water
    mark (live objects plus garbage the cyclic GC had not collected yet, such as whole
    requests held by a reference cycle), ``kept`` what is still allocated after a
    final ``gc.collect()``.
    """
    assert framework.app is not None
    template = case.template(framework.state)
    await settle()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        # The loop turns after every request, as in a server, so the tasks a request
        # started (and cancelled) finish before the next request starts.
        await timed_round(
            framework.app,
            template,
            case.body,
            count,
            disable_gc=False,
            status=case.status,
            yield_every=1,
        )
        peak = tracemalloc.get_traced_memory()[1] - base
        await settle()
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return peak, kept


async def run_case(
    case: Case,
    frameworks: list[Framework],
    options: Options,
    report: Callable[[str], None],
) -> list[Result]:
    """Verify, warm up and time one case across all runnable frameworks."""
    results = {f.name: Result(case.name, f.name) for f in frameworks}
    runnable: list[tuple[Framework, int]] = []
    for framework in frameworks:
        if framework.app is None:
            continue
        reason = framework.unsupported.get(case.name)
        if reason is not None:
            results[framework.name].unsupported = reason
            continue
        error, length = await verify(framework, case)
        if error:
            results[framework.name].failed = error
        else:
            runnable.append((framework, length))

    warmup = min(options.requests, MAX_WARMUP)
    for r in range(-1, options.rounds):
        shift = max(r, 0) % len(runnable) if runnable else 0
        for framework, length in runnable[shift:] + runnable[:shift]:
            result = results[framework.name]
            if result.failed:
                continue
            count = warmup if r < 0 else options.requests
            try:
                elapsed, cyclic, problem = await timed(
                    framework, case, count, length, options.disable_gc
                )
            except Exception as error:
                result.failed = f"raised during timing {type(error).__name__}: {error}"
                continue
            if problem:
                result.failed = problem
            elif r >= 0:
                result.rates.append(count / elapsed)
                result.cyclic = cyclic / count
        if r >= 0:
            report(f"  {case.name}: round {r + 1}/{options.rounds} done")
    if case.name == "stream":
        for framework, _ in runnable:
            if not results[framework.name].failed:
                results[framework.name].memory = await traced_peak(
                    framework, case, min(options.requests, MEMORY_REQUESTS)
                )
    await settle()
    return [results[f.name] for f in frameworks]


async def run(options: Options, report: Callable[[str], None]) -> dict[str, Any]:
    """Run every selected case on every selected framework; return the JSON report."""
    frameworks = [await load(name) for name in options.frameworks]
    for framework in frameworks:
        if framework.skipped or framework.failed:
            report(f"{framework.name}: {framework.skipped or framework.failed}")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
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
    data = _report_dict(options, frameworks, results, time.perf_counter() - started)
    # Other work on the machine shows up here first: compare it with the core count.
    data["load_average"] = [load_before, os.getloadavg()[0]]
    return data


def _report_dict(
    options: Options, frameworks: list[Framework], results: list[Result], seconds: float
) -> dict[str, Any]:
    bare = {r.case: r.best for r in results if r.framework == "bare"}
    rows = []
    for result in results:
        base = bare.get(result.case)
        best = result.best
        row: dict[str, Any] = {
            "case": result.case,
            "framework": result.framework,
            "unit": "messages/s" if CASES[result.case].websocket else "requests/s",
            "rates": [round(rate, 1) for rate in result.rates],
            "best": best,
            "median": result.median,
            "ratio_to_bare": best / base if best and base else None,
            "cyclic_per_request": result.cyclic,
            "failed": result.failed,
            "unsupported": result.unsupported,
        }
        if result.memory is not None:
            row["traced_peak_bytes"], row["traced_kept_bytes"] = result.memory
        rows.append(row)
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "requests": options.requests,
        "rounds": options.rounds,
        "memory_requests": min(options.requests, MEMORY_REQUESTS),
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


def _table_lines(data: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row of cells per result; FAILED and n/a rows carry a reason last."""
    header = ("case", "framework", "req/s best", "req/s median", "us/req", "gc/req")
    header += ("vs bare",)
    lines: list[tuple[str, ...]] = [header]
    previous = ""
    for row in data["results"]:
        info = data["frameworks"][row["framework"]]
        if info["skipped"]:
            continue
        case = row["case"] if row["case"] != previous else ""
        previous = row["case"]
        if row["unsupported"]:
            lines.append(
                (case, row["framework"], "n/a", "", "", "", row["unsupported"])
            )
        elif row["best"] is None:
            reason = info["failed"] or row["failed"] or "no data"
            lines.append((case, row["framework"], "FAILED", "", "", "", reason))
        else:
            ratio = row["ratio_to_bare"]
            lines.append(
                (
                    case,
                    row["framework"],
                    f"{row['best']:,.0f}",
                    f"{row['median']:,.0f}",
                    f"{1e6 / row['best']:.1f}",
                    f"{row['cyclic_per_request']:.1f}",
                    f"{ratio:.2f}" if ratio is not None else "-",
                )
            )
    return lines


def _memory_lines(data: dict[str, Any]) -> list[str]:
    rows = [r for r in data["results"] if "traced_peak_bytes" in r]
    if not rows:
        return []
    base = next((r for r in rows if r["framework"] == "bare"), None)
    out = [
        "",
        f"stream memory: tracemalloc over {data['memory_requests']} sequential "
        f"/stream requests (peak = high-water mark above the start, kept = still "
        f"allocated after gc.collect)",
    ]
    width = max(len(r["framework"]) for r in rows)
    out.append(f"{'framework'.ljust(width)}  peak bytes  kept bytes  peak vs bare")
    for row in rows:
        peak, kept = row["traced_peak_bytes"], row["traced_kept_bytes"]
        ratio = (
            f"{peak / base['traced_peak_bytes']:.2f}x"  # the target is 1.3x
            if base and base["traced_peak_bytes"]
            else "-"
        )
        out.append(
            f"{row['framework'].ljust(width)}  {peak:10,}  {kept:10,}  {ratio:>12}"
        )
    return out


def format_table(data: dict[str, Any]) -> str:
    """Render the report as a plain-text table, with notes for skipped frameworks."""
    lines = _table_lines(data)
    # A FAILED or n/a row's reason sits in the last column but must not widen it.
    widths = [
        max(len(line[i]) for line in lines if i < 6 or line[2] not in ("FAILED", "n/a"))
        for i in range(len(lines[0]))
    ]
    out = [
        f"{data['python']}, {data['rounds']} rounds x {data['requests']} requests, "
        f"{data['statistic']} (ratio = req/s / bare req/s), GC {data['gc']}, "
        f"{data['seconds']} s; load average {data['load_average'][0]:.2f} before, "
        f"{data['load_average'][1]:.2f} after ({os.cpu_count()} cpus)",
        "",
    ]
    for line in lines:
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [
            cell.rjust(width)
            for cell, width in zip(line[2:6], widths[2:6], strict=True)
        ]
        reason = line[2] in ("FAILED", "n/a")
        cells.append(line[6] if reason else line[6].rjust(widths[6]))
        out.append("  ".join(cells).rstrip())
    out.append(
        "gc/req = objects only the cyclic GC freed (reference cycles), per request"
    )
    if any(row["unit"] == "messages/s" for row in data["results"]):
        out.append("websocket: echo messages/s on one open connection, not requests/s")
    out += _memory_lines(data)
    for name, info in data["frameworks"].items():
        detail = info["skipped"] or info["failed"]
        label = f"{name} {info['version']}".strip()
        if detail:
            out.append(f"note: {label}: {detail}")
        for note in info["notes"]:
            out.append(f"note: {label}: {note}")
    return "\n".join(out)


def positive(text: str) -> int:
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
    parser.add_argument("--cases", type=names_arg(CASES), default=list(CASES))
    parser.add_argument(
        "--frameworks", type=names_arg(FRAMEWORKS), default=list(FRAMEWORKS)
    )
    parser.add_argument(
        "--requests", type=positive, help=f"per round (default {DEFAULT_REQUESTS})"
    )
    parser.add_argument(
        "--rounds", type=positive, help=f"timed rounds (default {DEFAULT_ROUNDS})"
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
