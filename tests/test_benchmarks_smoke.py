"""The benchmarks keep working (they are run by hand; these only check they run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_quick_run_succeeds() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--frameworks",
            "bare,microframework",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "microframework" in result.stdout


def test_template_floor_quick_run_checks_each_render() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "template_floor.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert rows == ["bare", "jinja", "jinja", "jinja"], result.stdout


def test_broadcast_benchmark_quick_run_succeeds() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "broadcast.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "memory" in result.stdout
    if os.environ.get("MICROFRAMEWORK_REQUIRE_REDIS"):
        assert "\nredis " in result.stdout, result.stdout


def test_benchmark_quick_run_checks_every_case() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert "websocket" in run.CASES and "stream" in run.CASES
    assert set(run.parse_args(["--quick"]).cases) == set(run.CASES)


FAKE_VALGRIND = """\
import subprocess, sys

# Stands in for valgrind: runs the child, then reports a count the test can predict
# (bare costs 300 instructions a request, the others 1,200) on top of a start-up cost.
child = sys.argv[3:]
done = subprocess.run(child)
per_request = 300 if child[-2] == "bare" else 1200
print(f"==1== I   refs:      {per_request * int(child[-1]) + 12_345:,}", file=sys.stderr)
sys.exit(done.returncode)
"""


def test_instruction_counts_run_each_child_twice_and_divide(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "instructions.py"),
            "--valgrind",
            _fake(tmp_path, FAKE_VALGRIND),
            "--cases",
            "hello,hooks",
            "--frameworks",
            "bare,microframework",
            "--requests",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split()[-3:] for line in result.stdout.splitlines()[3:]]
    assert rows == [["bare", "300", "1.00"], ["microframework", "1,200", "0.25"]] * 2, (
        result.stdout
    )


WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.85ms    2.48ms  29.40ms   86.18%
    Req/Sec     5.41k   416.13     6.03k    60.00%
  Latency Distribution
     50%  850.00us
     75%   12.36ms
     90%   13.60ms
     99%    1.20s
  10775 requests in 2.00s, 1.55MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   5385.43
Transfer/sec:    794.14KB
"""

H2LOAD_OUTPUT = """\
finished in 3.01s, 3530.50 req/s, 156.77KB/s
requests: 7061 total, 7061 started, 7060 done, 7059 succeeded, 1 failed, 0 errored, 0 timeout
status codes: 7088 2xx, 0 3xx, 0 4xx, 0 5xx
"""


def _e2e() -> Any:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import e2e
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return e2e


def test_e2e_reads_wrk_and_h2load_output() -> None:
    e2e = _e2e()
    measurement = e2e.Measurement("hypercorn", "h1", "/", "bare")
    e2e.parse_wrk(WRK_OUTPUT, measurement)
    assert measurement.rate == 5385.43
    assert measurement.requests == 10775
    assert (measurement.p50, measurement.p99) == (0.85, 1200.0)
    assert measurement.errors == 3 + 4
    measurement = e2e.Measurement("hypercorn", "h2", "/", "bare")
    log = "".join(f"1\t{200 if i else 500}\t{1000 * (i + 1)}\n" for i in range(100))
    log += "1\t0\t999999\n"  # cut off by the end of the run: neither error nor latency
    e2e.parse_h2load(H2LOAD_OUTPUT, log, measurement)
    assert measurement.rate == 3530.50
    assert measurement.requests == 7060
    assert measurement.errors == 1 + 1  # one failed, one 500 in the log
    assert measurement.p50 is not None and 50 <= measurement.p50 <= 51
    assert measurement.p99 is not None and 99 <= measurement.p99 <= 100


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("wrk", "h2load", "taskset")),
    reason="e2e.py needs wrk, h2load (nghttp2-client) and taskset",
)
def test_e2e_tiny_run_succeeds() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "e2e.py"),
            "--frameworks",
            "microframework",
            "--servers",
            "hypercorn",
            "--paths",
            "/",
            "--duration",
            "1",
            "--warmup",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [
        line.split() for line in result.stdout.splitlines() if "microframework" in line
    ]
    assert len(rows) == 2  # HTTP/1.1 and HTTP/2
    assert all(row[-1] == "0" for row in rows)  # no errors


def test_soak_short_run_is_clean() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak.py"),
            "--duration",
            "4",
            "--interval",
            "2",
            "--keep-alive",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "errors: 0;" in result.stdout
    assert "back to baseline: yes" in result.stdout
    assert "server log: 0 error lines" in result.stdout


STUCK_VALGRIND = """\
import threading
threading.Event().wait()  # a child that never ends (killed at CHILD_TIMEOUT)
"""

FAILING_VALGRIND = """\
import sys
print("==1== Callgrind, a call-graph generating cache profiler", file=sys.stderr)
print("Traceback (most recent call last):", file=sys.stderr)
print("ModuleNotFoundError: No module named 'blacksheep'", file=sys.stderr)
print("==1== I   refs:      12,345", file=sys.stderr)
sys.exit(1)
"""


@pytest.fixture
def instructions() -> Iterator[Any]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import instructions

        yield instructions
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def _fake(tmp_path: Path, text: str) -> str:
    fake = tmp_path / "valgrind"
    fake.write_text(f"#!{sys.executable}\n{text}")
    fake.chmod(0o755)
    return str(fake)


def test_a_child_past_its_timeout_is_a_failed_row_not_a_crash(
    instructions: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # subprocess.TimeoutExpired went out of main(): every other row was lost.
    monkeypatch.setattr(instructions, "CHILD_TIMEOUT", 0.5)
    argv = ["--valgrind", _fake(tmp_path, STUCK_VALGRIND), "--cases", "hello"]
    status = instructions.main([*argv, "--frameworks", "bare", "--requests", "5"])
    assert status == 1
    assert "timed out after 0.5 s" in capsys.readouterr().out


def test_a_failed_child_says_why(
    instructions: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its traceback was thrown away: the row said only "exit 1".
    argv = ["--valgrind", _fake(tmp_path, FAILING_VALGRIND), "--cases", "hello"]
    status = instructions.main([*argv, "--frameworks", "bare", "--requests", "5"])
    assert status == 1
    assert "No module named 'blacksheep'" in capsys.readouterr().out
