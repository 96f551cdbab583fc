"""End-to-end benchmark: each framework's app behind a real server, loaded over TCP.

The rule: one worker on 127.0.0.1, the server pinned to one core and the load
generator to another (``taskset``), every number in a table from one run. Each server
is started by this script (``serve.py``), waited for by polling its port with a
deadline, checked (``/`` and ``/json`` must answer byte for byte as in ``run.py``),
loaded, and stopped by its PID. HTTP/1.1 load is ``wrk -t1 -c64 --latency``; HTTP/2 is
``h2load`` with prior-knowledge h2c, 64 connections of one stream each, so both
protocols keep the same 64 requests in flight. Each measurement is preceded by a short
untimed warm-up on the same path. Ratios divide by the bare ASGI app on the same
server, protocol and path in the same run.

Servers: ``hypercorn`` (HTTP/1.1 and h2c on one port), ``uvicorn`` (its default
parser, httptools when installed; HTTP/1.1 only) and ``uvicorn-zttp`` (uvicorn with
``http="zttp", http2=True``, for its HTTP/2 rows; used when zttp is installed).

Usage: python benchmarks/e2e.py [--frameworks bare,microframework,starlette,quart]
       [--servers hypercorn,uvicorn,uvicorn-zttp] [--protocols h1,h2]
       [--paths /,/json] [--duration S] [--warmup S] [--connections N]
       [--server-cpu N] [--client-cpu N] [--json out.json] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import inspect
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from apps import spec  # noqa: E402  (needs the sys.path entry above)
from harness import names_arg  # noqa: E402

FRAMEWORKS = ("bare", "microframework", "starlette", "quart", "blacksheep")
DEFAULT_FRAMEWORKS = ("bare", "microframework", "starlette", "quart")
SERVERS = ("hypercorn", "uvicorn", "uvicorn-zttp")
PROTOCOLS = ("h1", "h2")
#: What each server variant is started with, and the protocols it is loaded with.
SERVER_ARGS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "hypercorn": (["hypercorn"], ("h1", "h2")),
    "uvicorn": (["uvicorn"], ("h1",)),
    "uvicorn-zttp": (["uvicorn", "--http", "zttp"], ("h2",)),
}
EXPECTED: dict[str, Callable[[bytes], bool]] = {
    "/": lambda body: body == spec.HELLO_TEXT.encode(),
    "/json": lambda body: json.loads(body) == spec.JSON_PAYLOAD,
}
#: Whole seconds: wrk takes no fractions.
DEFAULTS = {"duration": 3, "warmup": 1}
QUICK = {"duration": 1, "warmup": 0}
#: Waiting for a server to listen, and for it to exit once asked to.
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


@dataclass
class Measurement:
    """One load run: throughput, latency percentiles (ms) and error count."""

    server: str
    protocol: str
    path: str
    framework: str
    rate: float | None = None
    p50: float | None = None
    p99: float | None = None
    requests: int = 0
    errors: int = 0
    #: What the server's cyclic GC did during the measurement (``serve.py --gc-stats``).
    gc_full: int | None = None
    gc_collections: int | None = None
    gc_max_ms: float | None = None
    failed: str = ""


@dataclass
class Options:
    frameworks: list[str]
    servers: list[str]
    protocols: list[str]
    paths: list[str]
    duration: int
    warmup: int
    connections: int
    server_cpu: int
    client_cpu: int
    json_path: Path | None


@dataclass
class Server:
    """One ``serve.py`` process: started, waited for, stopped by PID."""

    variant: str
    framework: str
    #: More ``serve.py`` options (``--keep-alive``).
    extra: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Any = None
    notes: list[str] = field(default_factory=list)
    gc_path: Path | None = None
    _gc_sequence: int = 0

    def start(self, cpu: int | None) -> None:
        """Start the server (pinned to *cpu* unless None) and wait until it listens."""
        self.port = _free_port()
        args, _ = SERVER_ARGS[self.variant]
        command = [] if cpu is None else ["taskset", "-c", str(cpu)]
        command += [sys.executable, str(_HERE / "serve.py")]
        command += [args[0], self.framework, "--port", str(self.port), *args[1:]]
        command += self.extra
        if self.gc_path is not None:
            command += ["--gc-stats", str(self.gc_path)]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, cwd=_HERE.parent
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server not listening after {READY_TIMEOUT:.0f} s")

    def gc_snapshot(self) -> dict[str, Any]:
        """Ask the server (SIGUSR1) what its GC did since the last call; wait for it."""
        assert self.process is not None and self.gc_path is not None
        self.process.send_signal(signal.SIGUSR1)
        self._gc_sequence += 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                report: dict[str, Any] = json.loads(self.gc_path.read_text())
            except (OSError, ValueError):
                report = {}
            if report.get("sequence") == self._gc_sequence:
                return report
            time.sleep(0.01)
        raise RuntimeError("the server wrote no GC report within 5 s")

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.notes.append("did not stop on SIGTERM; killed")
        if self.log is not None:
            self.log.close()

    def output(self, limit: int = 2000) -> str:
        """The last *limit* characters of the server's log so far."""
        if self.log is None or self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(port: int, paths: Sequence[str]) -> str:
    """GET each path over HTTP/1.1; the first wrong answer, or ""."""
    for path in paths:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        except OSError as error:
            return f"GET {path} raised {type(error).__name__}: {error}"
        finally:
            connection.close()
        try:
            good = EXPECTED[path](body)
        except ValueError:
            good = False
        if response.status != 200 or not good:
            return f"GET {path}: {response.status} {body[:80]!r}"
    return ""


_WRK_PERCENT = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str, measurement: Measurement) -> None:
    """Fill *measurement* from ``wrk --latency`` output."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in", output, re.M)
    if rate is None or total is None:
        measurement.failed = "wrk printed no result: " + output[-300:]
        return
    measurement.rate = float(rate[1])
    measurement.requests = int(total[1])
    for percent, value, unit in _WRK_PERCENT.findall(output):
        setattr(measurement, f"p{percent}", float(value) * _UNIT_MS[unit])
    errors = 0
    sockets = re.search(r"Socket errors: (.*)", output)
    if sockets is not None:
        errors += sum(int(n) for n in re.findall(r"\d+", sockets[1]))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad is not None:
        errors += int(bad[1])
    measurement.errors = errors


def parse_h2load(output: str, log: str, measurement: Measurement) -> None:
    """Fill *measurement* from h2load's summary and its per-request log."""
    rate = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", output)
    counts = re.search(
        r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
        r"(\d+) failed, (\d+) errored, (\d+) timeout",
        output,
    )
    if rate is None or counts is None:
        measurement.failed = "h2load printed no result: " + output[-300:]
        return
    measurement.rate = float(rate[1])
    measurement.requests = int(counts[2])
    measurement.errors = sum(int(n) for n in counts.groups()[3:])
    latencies = []
    for line in log.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[1] == "0":
            continue  # status 0: still in flight when the duration ran out
        if not parts[1].startswith("2"):
            measurement.errors += 1
        latencies.append(int(parts[2]) / 1000)
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        measurement.p50, measurement.p99 = cuts[49], cuts[98]


def _run_tool(command: list[str], timeout: float) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[3]} exited {result.returncode}: {result.stderr[-300:]}"
        )
    return result.stdout


def load(server: Server, measurement: Measurement, options: Options) -> None:
    """Warm up, then measure one (protocol, path), with the server's GC meanwhile."""
    url = f"http://127.0.0.1:{server.port}{measurement.path}"
    pin = ["taskset", "-c", str(options.client_cpu)]
    limit = options.duration + 30
    if measurement.protocol == "h1":
        tool = [*pin, "wrk", "-t1", f"-c{options.connections}"]
        warm = [*tool, f"-d{options.warmup}s", url]
        timed = [*tool, f"-d{options.duration}s", "--latency", url]
    else:
        tool = [*pin, "h2load", "-t1", f"-c{options.connections}", "-m1"]
        warm = [*tool, f"-D{options.warmup}", url]
        timed = [*tool, f"-D{options.duration}", url]
    if options.warmup > 0:
        _run_tool(warm, limit)
    server.gc_snapshot()  # forget the warm-up's collections
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        if measurement.protocol == "h2":
            timed.insert(-1, f"--log-file={log.name}")
        output = _run_tool(timed, limit)
        gc_report = server.gc_snapshot()
        if measurement.protocol == "h1":
            parse_wrk(output, measurement)
        else:
            parse_h2load(output, log.read(), measurement)
    measurement.gc_full = gc_report["collections"][2]
    measurement.gc_collections = sum(gc_report["collections"])
    measurement.gc_max_ms = gc_report["pause_max_ms"]


def run_server(
    variant: str, framework: str, options: Options, report: Callable[[str], None]
) -> tuple[list[Measurement], list[str]]:
    """Start one server with one app, check it, load every path, stop it."""
    protocols = [p for p in SERVER_ARGS[variant][1] if p in options.protocols]
    measurements = [
        Measurement(variant, protocol, path, framework)
        for protocol in protocols
        for path in options.paths
    ]
    if not measurements:
        return [], []
    gc_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    gc_file.close()
    server = Server(variant, framework, gc_path=Path(gc_file.name))
    try:
        server.start(options.server_cpu)
        error = check(server.port, options.paths)
        if error:
            raise RuntimeError(f"wrong answer: {error}")
        for measurement in measurements:
            try:
                load(server, measurement, options)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                measurement.failed = str(error)
            report(
                f"  {variant} {measurement.protocol} {measurement.path} {framework}: "
                + (f"{measurement.rate:,.0f} req/s" if measurement.rate else "FAILED")
            )
    except Exception as error:  # one broken server must not stop the others
        reason = f"{type(error).__name__}: {error}"
        tail = server.output().strip().splitlines()[-3:]
        if tail:
            reason += " | " + " / ".join(tail)
        for measurement in measurements:
            measurement.failed = measurement.failed or reason
    finally:
        server.stop()
        os.unlink(gc_file.name)
    return measurements, server.notes


def _versions(frameworks: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    names = ["hypercorn", "uvicorn", "zttp", "httptools"]
    names += [f for f in frameworks if f != "bare"]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    for tool in ("wrk", "h2load"):
        found[tool] = shutil.which(tool) or "not installed"
    return found


def missing_tools(options: Options) -> list[str]:
    """Tools or packages this run needs and cannot find."""
    needs = ["taskset"]
    needs += ["wrk"] if "h1" in options.protocols else []
    needs += ["h2load"] if "h2" in options.protocols else []
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if "uvicorn-zttp" in options.servers and importlib.util.find_spec("zttp") is None:
        missing.append("zttp (the python package, for uvicorn-zttp)")
    return missing


def run(options: Options, report: Callable[[str], None]) -> dict[str, Any]:
    """Every framework on every server; return the JSON report."""
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    results: list[Measurement] = []
    notes: list[str] = []
    for framework in options.frameworks:
        for variant in options.servers:
            found, server_notes = run_server(variant, framework, options, report)
            results += found
            notes += [f"{variant} {framework}: {note}" for note in server_notes]
    data = _report_dict(options, results, notes, time.perf_counter() - started)
    # Other work on the machine shows up here first: compare it with the core count.
    data["load_average"] = [load_before, os.getloadavg()[0]]
    return data


def _report_dict(
    options: Options, results: list[Measurement], notes: list[str], seconds: float
) -> dict[str, Any]:
    bare = {
        (m.server, m.protocol, m.path): m.rate
        for m in results
        if m.framework == "bare" and m.rate
    }
    order = {name: i for i, name in enumerate(options.frameworks)}
    results.sort(
        key=lambda m: (
            SERVERS.index(m.server),
            PROTOCOLS.index(m.protocol),
            options.paths.index(m.path),
            order[m.framework],
        )
    )
    rows = []
    for m in results:
        base = bare.get((m.server, m.protocol, m.path))
        row = dict(m.__dict__)
        row["ratio_to_bare"] = m.rate / base if m.rate and base else None
        rows.append(row)
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "versions": _versions(options.frameworks),
        "duration": options.duration,
        "warmup": options.warmup,
        "connections": options.connections,
        "cpus": {"server": options.server_cpu, "client": options.client_cpu},
        "seconds": round(seconds, 1),
        "notes": notes,
        "results": rows,
    }


def format_table(data: dict[str, Any]) -> str:
    """Render the report as a plain-text table."""
    header = ("server", "proto", "path", "framework", "req/s", "vs bare")
    header += ("p50 ms", "p99 ms", "p99/p50", "gc", "gc full", "gc max ms", "errors")
    lines: list[tuple[str, ...]] = [header]
    previous: tuple[str, ...] = ()
    for row in data["results"]:
        key = (row["server"], row["protocol"], row["path"])
        shown = tuple(
            part if key[: i + 1] != previous[: i + 1] else ""
            for i, part in enumerate(key)
        )
        previous = key
        if row["rate"] is None:
            lines.append((*shown, row["framework"], "FAILED", row["failed"][:200]))
            continue
        ratio = row["ratio_to_bare"]
        p50, p99 = row["p50"], row["p99"]
        lines.append(
            (
                *shown,
                row["framework"],
                f"{row['rate']:,.0f}",
                f"{ratio:.2f}" if ratio is not None else "-",
                f"{p50:.2f}" if p50 is not None else "-",
                f"{p99:.2f}" if p99 is not None else "-",
                f"{p99 / p50:.1f}" if p50 and p99 else "-",
                _maybe(row["gc_collections"], "{:,}"),
                _maybe(row["gc_full"], "{:,}"),
                _maybe(row["gc_max_ms"], "{:.1f}"),
                str(row["errors"]),
            )
        )
    full = [line for line in lines if len(line) == len(header)]
    widths = [
        max(len(line[i]) for line in (lines if i < 5 else full))
        for i in range(len(header))
    ]
    versions = data["versions"]
    out = [
        f"{data['python']}; hypercorn {versions['hypercorn']}, uvicorn "
        f"{versions['uvicorn']} (h1: httptools {versions['httptools']}; h2: zttp "
        f"{versions['zttp']}); one worker on cpu {data['cpus']['server']}, load on cpu "
        f"{data['cpus']['client']}; {data['connections']} connections, "
        f"{data['duration']} s each after {data['warmup']} s warm-up; "
        f"{data['seconds']} s in all; load average {data['load_average'][0]:.2f} "
        f"before, {data['load_average'][1]:.2f} after ({os.cpu_count()} cpus)",
        "h1 = wrk -t1 --latency; h2 = h2load -t1 -m1 (h2c prior knowledge); "
        "vs bare = req/s / bare req/s on the same server, protocol and path; "
        "gc = the server's cyclic GC collections during the measurement, gc full = "
        "of the oldest generation, gc max = its longest pause",
        "",
    ]
    for line in lines:
        cells = [c.ljust(w) for c, w in zip(line[:4], widths[:4], strict=True)]
        if len(line) == len(header):
            cells += [c.rjust(w) for c, w in zip(line[4:], widths[4:], strict=True)]
        else:
            cells += [line[4].rjust(widths[4]), line[5]]
        out.append("  ".join(cells).rstrip())
    out += [f"note: {note}" for note in data["notes"]]
    return "\n".join(out)


def _maybe(value: Any, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def _uvicorn_h2() -> bool:
    """Whether uvicorn can serve HTTP/2 here: zttp installed, ``http2`` accepted."""
    if importlib.util.find_spec("zttp") is None:
        return False
    try:
        import uvicorn
    except ImportError:
        return False
    return "http2" in inspect.signature(uvicorn.Config).parameters


def _default_cpus() -> tuple[int, int]:
    """The first two cores this process may use: server, then client."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], cpus[1 % len(cpus)]


def parse_args(argv: Sequence[str] | None) -> Options:
    """Parse the command line; ``--quick`` only changes the defaults it is given."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--frameworks", type=names_arg(FRAMEWORKS), default=list(DEFAULT_FRAMEWORKS)
    )
    parser.add_argument("--servers", type=names_arg(SERVERS))
    parser.add_argument(
        "--protocols", type=names_arg(PROTOCOLS), default=list(PROTOCOLS)
    )
    parser.add_argument(
        "--paths", type=names_arg(list(EXPECTED)), default=list(EXPECTED)
    )
    parser.add_argument(
        "--duration",
        type=int,
        help=f"seconds per measurement (default {DEFAULTS['duration']}, "
        f"--quick {QUICK['duration']})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        help=f"untimed seconds before each (default {DEFAULTS['warmup']}, "
        f"--quick {QUICK['warmup']})",
    )
    parser.add_argument("--connections", type=int, default=64)
    server_cpu, client_cpu = _default_cpus()
    parser.add_argument("--server-cpu", type=int, default=server_cpu)
    parser.add_argument("--client-cpu", type=int, default=client_cpu)
    parser.add_argument("--json", type=Path, dest="json_path")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else DEFAULTS
    servers = args.servers
    if servers is None:
        # uvicorn's HTTP/2 needs the zttp parser; without it, leave that variant out.
        servers = [s for s in SERVERS if s != "uvicorn-zttp" or _uvicorn_h2()]
    return Options(
        frameworks=args.frameworks,
        servers=servers,
        protocols=args.protocols,
        paths=args.paths,
        duration=args.duration or defaults["duration"],
        warmup=defaults["warmup"] if args.warmup is None else args.warmup,
        connections=args.connections,
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
        json_path=args.json_path,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit status 1 if anything failed."""
    options = parse_args(argv)
    missing = missing_tools(options)
    if missing:
        print(f"e2e.py needs: {', '.join(missing)}", file=sys.stderr)
        return 2

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    data = run(options, report)
    print(format_table(data))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(data, indent=2) + "\n")
    return 1 if any(row["failed"] for row in data["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
