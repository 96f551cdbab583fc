"""The benchmark harness keeps working (it is run by hand; this only checks it runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
