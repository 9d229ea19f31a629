"""Events per second through one real worker process, on the embedded broker.

Each scenario gets its own application id and topics. The backlog is produced first, then one
worker starts and drains it; the rate is taken from the worker's own ``streamer_rows_accepted_total``
between the first accepted row and the last, so start-up and group joins are not counted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer

from streamer.broker import free_port, start_broker, wait_for_port

T0 = 1735689600.0


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    rows_per_message: int
    features: int
    models: int


def messages(s: Scenario, seed: int = 0) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(s.rows, s.features)).round(4)
    names = [f"f{i}" for i in range(s.features)]
    out = []
    for start in range(0, s.rows, s.rows_per_message):
        model = f"model-{(start // s.rows_per_message) % s.models}"
        # Event times advance 0.01 s a row, so windows close on event time as in a replay.
        rows = [{"timestamp": T0 + (start + i) * 0.01, "features": dict(zip(names, values[start + i].tolist(), strict=True)),
                 "prediction": int(values[start + i, 0] > 0)} for i in range(min(s.rows_per_message, s.rows - start))]
        body: dict[str, Any] = {"model": model, **rows[0]} if s.rows_per_message == 1 else {"model": model, "rows": rows}
        out.append((model.encode(), orjson.dumps(body)))
    return out


async def produce(port: int, topic: str, batch: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", linger_ms=50, max_batch_size=1 << 20,
                                max_request_size=16 << 20)
    await producer.start()
    try:
        for key, value in batch:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def accepted(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("streamer_rows_accepted_total "):
                    return int(float(line.split()[1]))
    except OSError:
        pass
    return -1


def run_scenario(port: int, workdir: str, s: Scenario) -> dict[str, Any]:
    app = f"bench{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMER_")}
    env.update(STREAMER_BROKER=f"kafka://127.0.0.1:{port}", STREAMER_APP_ID=app, STREAMER_PARTITIONS="8",
               STREAMER_TOPIC_PREDICTIONS=f"{app}-predictions", STREAMER_WINDOW_SECONDS="60",
               STREAMER_IDLE_CLOSE_SECONDS="600")
    subprocess.run([sys.executable, "-c", "import asyncio; from streamer.config import load_settings; "
                    "from streamer.kafka.topics import ensure_topics; asyncio.run(ensure_topics(load_settings()))"],
                   env=env, check=True)
    batch = messages(s)
    asyncio.run(produce(port, f"{app}-predictions", batch))
    web_port = free_port()
    log = open(os.path.join(workdir, f"{app}.log"), "wb")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "streamer.cli.main", "worker", "--web-port", str(web_port),
                               "--data-dir", os.path.join(workdir, app), "--loglevel", "warning"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{web_port}"
    try:
        wait_for_port(web_port, timeout_s=120)
        first_count, first_time = 0, 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            count = accepted(url)
            now = time.monotonic()
            if count > 0 and not first_count:
                first_count, first_time = count, now
            if count >= s.rows:
                elapsed = now - first_time
                rate = (s.rows - first_count) / elapsed if elapsed > 0 else float("nan")
                return {"scenario": s.name, "rows": s.rows, "rows_per_s": rate, "seconds": elapsed}
            time.sleep(0.05)
        raise RuntimeError(f"{s.name}: the worker did not drain its backlog in time; see {log.name}")
    finally:
        worker.terminate()
        worker.wait(30)


SCENARIOS = [
    Scenario("single events, 10 features, 1 model", 40_000, 1, 10, 1),
    Scenario("batches of 100 rows, 10 features, 1 model", 300_000, 100, 10, 1),
]


def run(out: dict[str, Any], scenarios: list[Scenario] = SCENARIOS) -> str:
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        try:
            results = [run_scenario(port, workdir, s) for s in scenarios]
        finally:
            broker.terminate()
            broker.wait(10)
    out["throughput"] = results
    lines = ["Throughput: one worker draining a backlog (rows/s)", f"{'scenario':48} {'rows':>9} {'rows/s':>10}"]
    lines += [f"{r['scenario']:48} {r['rows']:>9} {r['rows_per_s']:>10.0f}" for r in results]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
