"""Expected failures print one line and exit 1 (2 for usage errors), without a traceback."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest


def streamer(*args: str, env_broker: str = "kafka://127.0.0.1:1") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "STREAMER_BROKER": env_broker}
    return subprocess.run([sys.executable, "-m", "streamer.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (("send", "/no/such/file.csv", "--model", "m"), "no such file"),
    (("reference", "build", "/no/such/file.parquet", "--model", "m"), "no such file"),
    (("alerts",), "cannot reach the Kafka broker"),
    (("status", "--url", "http://127.0.0.1:1"), "cannot read http://127.0.0.1:1/api/v1/models"),
])
def test_expected_failures_print_one_line_and_exit_1(args: tuple[str, ...], message: str) -> None:
    result = streamer(*args)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_file_type_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("a,b\n1,2\n")
    result = streamer("reference", "build", str(data), "--model", "m")
    assert result.returncode == 1 and "unknown file type '.txt'" in result.stderr


def run_all(*commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Each command in its own process, two at a time (most of each run is the interpreter starting)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda command: streamer(*command), commands))


def test_usage_errors_exit_2() -> None:
    send, worker = run_all(("send",), ("worker", "--web-port", "notaport"))
    assert send.returncode == 2
    assert worker.returncode == 2


def test_every_command_has_help() -> None:
    commands = (("worker",), ("broker",), ("demo",), ("reference", "build"), ("send",), ("alerts",), ("status",))
    for command, result in zip(commands, run_all(*((*c, "--help") for c in commands)), strict=True):
        assert result.returncode == 0 and "Usage:" in result.stdout, command
