"""Notifications: the delay from a window's close to the webhook's receipt, and the worker's event
rate while drift alerts go to a healthy receiver, to a receiver that hangs, or nowhere.

The backlog has 20 models whose inputs shift every other 2-second window, so roughly half the windows
raise ``data_drift_detected``; the route has no cooldown, so every alert is a delivery. The hanging
receiver answers after 120 s and the channel times out after 30 s: every delivery waits, retries and
queues while the worker drains its backlog.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer

from bench.throughput import T0, Bench, Scenario, produce
from streamer.broker import free_port, start_broker
from tests.integration.receivers import HttpReceiver

SCENARIO = Scenario("batches of 100 rows, 10 features, 20 models", 200_000, 100, 10, 20)
WINDOW_SECONDS = "2"
CONFIG = """
channels:
  hook: {{type: webhook, url: "{url}", timeout_seconds: 30, max_attempts: 3}}
alerting:
  routes: [{{kinds: [data_drift_detected], channels: [hook], cooldown_seconds: 0}}]
"""


def drifting_messages(s: Scenario, seed: int = 0) -> list[tuple[bytes, bytes]]:
    """Like the throughput backlog, with every feature shifted by 2 in every other window."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(s.rows, s.features)).round(4)
    names = [f"f{i}" for i in range(s.features)]
    out = []
    for start in range(0, s.rows, s.rows_per_message):
        model = f"model-{(start // s.rows_per_message) % s.models}"
        rows = []
        for i in range(start, min(start + s.rows_per_message, s.rows)):
            ts = T0 + i * 0.001
            shift = 2.0 if int((ts - T0) // float(WINDOW_SECONDS)) % 2 else 0.0
            rows.append({"timestamp": ts, "features": dict(zip(names, (values[i] + shift).tolist(), strict=True))})
        out.append((model.encode(), orjson.dumps({"model": model, "rows": rows})))
    return out


def config_file(workdir: str, url: str) -> str:
    path = os.path.join(workdir, f"notify-{uuid.uuid4().hex[:6]}.yaml")
    with open(path, "w") as file:
        file.write(CONFIG.format(url=url))
    return path


def throughput(bench: Bench, receiver: HttpReceiver) -> list[dict[str, Any]]:
    results = []
    for name, url in (("no notifier", None), ("healthy receiver", f"{receiver.url}/ok"),
                      ("receiver hanging 120 s", f"{receiver.url}/hang")):
        app = f"n{uuid.uuid4().hex[:6]}"
        topic = f"{app}-predictions"
        bench.create_topics(app, topic)
        asyncio.run(produce(bench.port, topic, drifting_messages(SCENARIO)))
        before = len(receiver.requests)
        extra = {"STREAMER_WINDOW_SECONDS": WINDOW_SECONDS}
        if url:
            extra["STREAMER_CONFIG"] = config_file(bench.workdir, url)
        measured = bench.streamer(SCENARIO, topic, **extra)
        results.append({"channel": name, "rows_per_s": measured["rows_per_s"],
                        "requests_received": len(receiver.requests) - before})
        print(f"  measured: {results[-1]}", file=sys.stderr, flush=True)
    return results


def delivery_delay(bench: Bench, receiver: HttpReceiver, windows: int = 30) -> dict[str, float]:
    """Seconds from the event that closes a drifted window to the webhook's receipt."""
    app = f"d{uuid.uuid4().hex[:6]}"
    topic = f"{app}-predictions"
    env = bench.env(app, topic, STREAMER_WINDOW_SECONDS="2", STREAMER_ALLOWED_LATENESS_SECONDS="0",
                    STREAMER_CONFIG=config_file(bench.workdir, f"{receiver.url}/delay"))

    async def run() -> list[float]:
        producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{bench.port}", linger_ms=0)
        await producer.start()
        rng = np.random.default_rng(3)
        delays = []
        try:
            for w in range(windows + 1):
                shift = 0.0 if w == 0 else 3.0  # window 0 is the baseline; then every window drifts
                for i in range(200):
                    body = {"model": "m", "timestamp": T0 + 2 * w + 2 * i / 200,
                            "features": {"x": float(rng.normal(shift, 1))}}
                    await producer.send(topic, orjson.dumps(body), key=b"m")
                await producer.flush()
                closing = {"model": "m", "timestamp": T0 + 2 * (w + 1), "features": {"x": float(rng.normal(0, 1))}}
                seen = len(receiver.on("/delay"))
                sent = time.time()
                await producer.send_and_wait(topic, orjson.dumps(closing), key=b"m")
                if w == 0:
                    await asyncio.sleep(2)
                    continue
                deadline = sent + 30
                while time.time() < deadline and len(receiver.on("/delay")) == seen:
                    await asyncio.sleep(0.005)
                if len(receiver.on("/delay")) > seen:
                    delays.append(receiver.on("/delay")[seen].at_s - sent)
            return delays
        finally:
            await producer.stop()

    return bench.delays_with_worker(app, env, run)


def run(out: dict[str, Any]) -> str:
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        receiver = HttpReceiver(hang_seconds=120).start()
        bench = Bench(port, workdir)
        try:
            delay = delivery_delay(bench, receiver)
            rates = throughput(bench, receiver)
        finally:
            broker.terminate()
            broker.wait(10)
    out["notifications"] = {"delay": delay, "throughput": rates}
    lines = [f"Notifications: window close to webhook receipt: median {delay['median_s'] * 1000:.0f} ms, "
             f"p99 {delay['p99_s'] * 1000:.0f} ms over {delay['windows']} windows",
             f"Event rate while drift alerts are delivered ({SCENARIO.name}, {SCENARIO.rows} rows, "
             f"{WINDOW_SECONDS} s windows, half of them drifted)"]
    for row in rates:
        lines.append(f"  {row['channel']:28} {row['rows_per_s']:>9.0f} rows/s   "
                     f"{row['requests_received']:>5} webhook requests received while draining")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
