"""`make run` (``streamer.cli.run_all``): stops every child on SIGINT, SIGTERM or SIGHUP; a second run counts at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.broker import free_port
from tests.integration.conftest import get_json, wait_until

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_in(workdir: Path) -> list[int]:
    """Processes whose working directory is ``workdir``: make run's children inherit it."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == workdir:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def total_events(web_port: int) -> int:
    try:
        status, body = get_json(f"http://127.0.0.1:{web_port}/api/v1/models")
    except OSError:
        return 0
    return sum(m["events_total"] for m in body["models"]) if status == 200 else 0


def run_all(workdir: Path, broker_port: int, web_port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMER_")}
    env.update(STREAMER_EMBEDDED_BROKER_PORT=str(broker_port), STREAMER_WEB_PORT=str(web_port),
               STREAMER_WINDOW_SECONDS="10", STREAMER_APP_ID="makerun")
    log = open(workdir / f"run-{web_port}.log", "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "streamer.cli.run_all"], cwd=workdir, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def test_make_run_stops_everything_and_a_second_run_counts_at_once(tmp_path: Path) -> None:
    broker_port, web_port = free_port(), free_port()
    for attempt, stop_signal in enumerate((signal.SIGTERM, signal.SIGHUP)):  # the second run finds the first's data dir
        process = run_all(tmp_path, broker_port, web_port)
        try:
            wait_until(lambda: total_events(web_port) > 0, 150, f"run {attempt + 1}: demo events counted")
        finally:
            process.send_signal(stop_signal)
            process.wait(90)
        wait_until(lambda: not listening(broker_port) and not listening(web_port), 30,
                   "the broker and the worker to be gone")
        assert processes_in(tmp_path) == []
    log = (tmp_path / f"run-{web_port}.log").read_text()
    assert "state of an earlier run's broker" in log
