"""SIGTERM stops a worker within 30 s in every state (CONTRACT 7): idle, busy, rebalancing, broker gone.

One private broker (the last case stops it) and one scenario, so the suite pays few group joins.
The exit times are printed (``pytest -s``); the assertion is the contract's bound, not a benchmark.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from streamer.broker import free_port, start_broker
from tests.integration.conftest import Broker, new_deployment, wait_until
from tests.integration.test_recovery import models

pytestmark = pytest.mark.integration

STOP_BOUND_S = 30.0
T0 = 1735689600.0


def batches(model: str, n_messages: int, rows_per_message: int, start_s: float) -> list[tuple[bytes, bytes]]:
    out = []
    for m in range(n_messages):
        rows = [{"timestamp": start_s + (m * rows_per_message + i) * 0.01, "features": {"x": float(i % 7)}}
                for i in range(rows_per_message)]
        out.append((model.encode(), json.dumps({"model": model, "rows": rows}).encode()))
    return out


def sigterm(process: subprocess.Popen[bytes]) -> float:
    """Send SIGTERM and return how long the process took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_BOUND_S + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return time.monotonic() - started


def test_sigterm_stops_a_worker_in_every_state(tmp_path: Path) -> None:
    port = free_port()
    broker_process = start_broker(port, str(tmp_path / "broker.log"))
    dep = new_deployment(Broker(port, broker_process), tmp_path)
    exit_s: dict[str, float] = {}
    try:
        url = dep.start_worker("disk-a", "replica-a")
        process, _ = dep.workers[-1]
        exit_s["idle"] = sigterm(process)
        assert process.returncode == 0

        url = dep.start_worker("disk-a", "replica-a")
        busy = batches("busy", 400, 100, T0)  # 40,000 rows
        producer = threading.Thread(target=dep.produce, args=("STREAMER_TOPIC_PREDICTIONS", busy))
        producer.start()
        wait_until(lambda: models(url).get("busy", {}).get("events_total", 0) > 0, 60, "the worker to be busy")
        process, _ = dep.workers[-1]
        exit_s["busy"] = sigterm(process)
        producer.join()

        url = dep.start_worker("disk-a", "replica-a")  # what it committed stays; the rest is read again, counted once
        wait_until(lambda: models(url).get("busy", {}).get("events_total") == 40_000, 120,
                   "every busy row counted once after the restart")

        process, _ = dep.workers[-1]
        second, _ = dep.launch_worker("disk-b", "replica-b")  # its join starts a rebalance
        time.sleep(3.0)
        exit_s["rebalancing"] = sigterm(process)

        broker_process.terminate()
        broker_process.wait(10)
        time.sleep(1.0)
        exit_s["broker gone"] = sigterm(second)
        print("SIGTERM exit times:", {k: round(v, 1) for k, v in exit_s.items()})
        assert all(v < STOP_BOUND_S for v in exit_s.values()), exit_s
    finally:
        dep.stop_all()
        if broker_process.poll() is None:
            broker_process.terminate()
