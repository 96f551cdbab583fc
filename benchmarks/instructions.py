"""Instructions per request under callgrind: ``run.py``'s cases, counted, not timed.

Wall-clock rates swing with whatever else the machine runs (up to several times on a
loaded two-core machine); the number of instructions an interpreter executes for a
request does not. Each case and framework runs in a child Python under
``valgrind --tool=callgrind`` twice, serving N and then 2N requests after the same
checks and warm-up; the difference, divided by N, is the cost of one request with the
start-up, imports and warm-up cancelled out. The ratio to bare is bare's count divided
by the framework's, so it reads like ``run.py``'s (1.00 = as cheap as bare, higher is
better). The count includes the garbage collector's work and the event loop's turns
between requests, but not a server's.

Usage: python benchmarks/instructions.py [--cases hello,...] [--frameworks bare,...]
       [--requests N] [--jobs J] [--json out.json] [--valgrind PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import run  # run.py sits beside this file, so its directory is on sys.path
from harness import names_arg

DEFAULT_REQUESTS = 1000
WARMUP = 200
#: A child under callgrind runs some 50 times slower than without it.
CHILD_TIMEOUT = 900
#: Exit statuses of a child that did not measure, and what they mean.
_SKIPPED, _UNSUPPORTED = 3, 4
_REFS = re.compile(r"refs:\s+([\d,]+)")


async def _child(case_name: str, name: str, count: int) -> int:
    """Check, warm up, then serve *count* requests; say why on stdout if not."""
    framework = await run.load(name)
    try:
        if framework.app is None:
            print(framework.skipped or framework.failed)
            return _SKIPPED if framework.skipped else 1
        case = run.CASES[case_name]
        if case_name in framework.unsupported:
            print(framework.unsupported[case_name])
            return _UNSUPPORTED
        error, length = await run.verify(framework, case)
        for count_now in (WARMUP, count):
            if not error:
                *_, error = await run.timed(framework, case, count_now, length, False)
        if error:
            print(error)
            return 1
        return 0
    finally:
        if framework.lifespan is not None:
            await framework.lifespan.shutdown()


def measure(valgrind: str, case: str, framework: str, count: int) -> dict[str, Any]:
    """Run one case for one framework at N and 2N requests; return its result row."""
    row: dict[str, Any] = {"case": case, "framework": framework}
    refs = []
    for requests in (count, 2 * count):
        with tempfile.TemporaryDirectory() as folder:
            command = [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={Path(folder) / 'callgrind.out'}",
                sys.executable,
                __file__,
                "--child",
                case,
                framework,
                str(requests),
            ]
            # The same hash seed in both runs: dict and set layouts, and so the work
            # they cost, must not differ between them.
            env = {**os.environ, "PYTHONHASHSEED": "0"}
            try:
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=CHILD_TIMEOUT,
                )
            except subprocess.TimeoutExpired:  # one slow child: a row, not the run
                return {**row, "failed": f"timed out after {CHILD_TIMEOUT} s"}
        # Why: the child's own line, else the last of its traceback (not valgrind's).
        own = [
            line
            for line in done.stderr.strip().splitlines()
            if not line.startswith("==")
        ]
        reason = (
            done.stdout.strip().splitlines()[-1:]
            or own[-1:]
            or [f"exit {done.returncode}"]
        )
        if done.returncode == _SKIPPED:
            return {**row, "skipped": reason[0]}
        if done.returncode == _UNSUPPORTED:
            return {**row, "unsupported": reason[0]}
        found = _REFS.search(done.stderr)
        if done.returncode or found is None:
            return {
                **row,
                "failed": reason[0] if done.returncode else done.stderr[-300:],
            }
        refs.append(int(found[1].replace(",", "")))
    return {**row, "per_request": (refs[1] - refs[0]) // count}


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``ratio_to_bare``: bare's count for the case over the framework's."""
    bare = {r["case"]: r.get("per_request") for r in rows if r["framework"] == "bare"}
    for row in rows:
        base, own = bare.get(row["case"]), row.get("per_request")
        row["ratio_to_bare"] = base / own if base and own else None
    return rows


def format_table(rows: list[dict[str, Any]], count: int) -> str:
    """Render the rows as plain text, a reason in place of a count where there is none."""
    out = [
        f"{platform.python_implementation()} {platform.python_version()}: callgrind "
        f"instructions per request, (Ir at {2 * count} - Ir at {count}) / {count}; "
        "vs bare = bare's / the framework's (higher is better)",
        "",
        f"{'case':<12}{'framework':<16}{'instr/req':>12}{'vs bare':>9}",
    ]
    previous = ""
    for row in rows:
        case = row["case"] if row["case"] != previous else ""
        previous = row["case"]
        start = f"{case:<12}{row['framework']:<16}"
        if "per_request" in row:
            ratio = row["ratio_to_bare"]
            shown = f"{ratio:.2f}" if ratio is not None else "-"
            out.append(f"{start}{row['per_request']:>12,}{shown:>9}")
        else:
            kind = next(k for k in ("failed", "unsupported", "skipped") if k in row)
            label = {"failed": "FAILED", "unsupported": "n/a", "skipped": "skipped"}
            out.append(f"{start}{label[kind]:>12}  {row[kind]}")
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--cases", type=names_arg(run.CASES), default=list(run.CASES))
    parser.add_argument(
        "--frameworks", type=names_arg(run.FRAMEWORKS), default=list(run.FRAMEWORKS)
    )
    parser.add_argument(
        "--requests",
        type=run.positive,
        default=DEFAULT_REQUESTS,
        help=f"N: requests (websocket: echo messages) of the first run (default "
        f"{DEFAULT_REQUESTS}); the second serves 2N",
    )
    parser.add_argument(
        "--jobs",
        type=run.positive,
        default=os.cpu_count() or 1,
        help="children run at once (the counts do not depend on it)",
    )
    parser.add_argument("--json", type=Path, dest="json_path")
    parser.add_argument("--valgrind", default="valgrind", help="the valgrind to run")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Count every selected case; exit status 1 if any app answered wrongly."""
    args = parse_args(argv)
    if args.child:
        case, framework, count = args.child
        return asyncio.run(_child(case, framework, int(count)))
    valgrind = shutil.which(args.valgrind)
    if valgrind is None:
        print(f"{args.valgrind} not found: apt-get install valgrind", file=sys.stderr)
        return 2
    pairs = [(c, f) for c in args.cases for f in args.frameworks]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(
            pool.map(lambda pair: measure(valgrind, *pair, args.requests), pairs)
        )
    rows = with_ratios(rows)
    print(format_table(rows, args.requests))
    if args.json_path is not None:
        args.json_path.write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any("failed" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
