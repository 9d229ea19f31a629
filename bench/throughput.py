"""Throughput and cost of one worker, measured side by side on one embedded broker.

Every scenario gets its own topic and application id. Its backlog is produced first; then the
consumer under test starts and drains it. The rate is taken from the moment the consumer can work
(streamer: ``/ready``; the others: their first row) to its last row, so start-up and consumer-group
joins are not counted. Consumers compared on the same backlog:

- ``streamer``: one real worker process, up to the window summaries being in its tables;
- ``raw``: a plain aiokafka consumer doing the same parsing and sketch updates (the ceiling);
- ``faust``: a plain Faust agent that only decodes (Faust's per-event ceiling);
- ``naive``: a plain Faust agent updating a Faust windowed table per event.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import raw_consumer
from streamer.broker import free_port, start_broker, wait_for_port

T0 = 1735689600.0


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    rows_per_message: int
    features: int
    models: int
    consumers: tuple[str, ...] = ("streamer", "raw")


def messages(s: Scenario, seed: int = 0) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(s.rows, s.features)).round(4)
    names = [f"f{i}" for i in range(s.features)]
    out = []
    for start in range(0, s.rows, s.rows_per_message):
        model = f"model-{(start // s.rows_per_message) % s.models}"
        # Event times advance 1 ms a row, so windows close on event time as in a replay.
        rows = [{"timestamp": T0 + (start + i) * 0.001, "features": dict(zip(names, values[start + i].tolist(), strict=True)),
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


def metric(url: str, name: str) -> float:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return -1.0


def rows_accepted(url: str) -> float:
    """The worker's accepted rows, from its small counters answer (rendering ``/metrics`` twenty times a
    second would take a share of the worker under test); -1 when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/api/v1/worker", timeout=2) as response:
            return float(orjson.loads(response.read())["counters"]["rows_accepted"])
    except OSError:
        return -1.0


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1)) * 1024  # type: ignore[union-attr]


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)



@contextmanager
def embedded_bench() -> Iterator[Bench]:
    """A :class:`Bench` on a fresh embedded broker (free loopback port, own work dir), stopped after."""
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        try:
            yield Bench(port, workdir)
        finally:
            broker.terminate()
            broker.wait(10)

class Bench:
    def __init__(self, port: int, workdir: str) -> None:
        self.port = port
        self.workdir = workdir

    def env(self, app: str, topic: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMER_")}
        env.update(STREAMER_BROKER=f"kafka://127.0.0.1:{self.port}", STREAMER_APP_ID=app, STREAMER_PARTITIONS="8",
                   STREAMER_TOPIC_PREDICTIONS=topic, STREAMER_TOPIC_ALERTS=f"{app}-alerts",
                   STREAMER_TOPIC_REFERENCES=f"{app}-references", STREAMER_TOPIC_DEAD_LETTERS=f"{app}-dead-letters",
                   STREAMER_TOPIC_LABELS=f"{app}-labels", STREAMER_IDLE_CLOSE_SECONDS="600", **extra)
        return env

    def create_topics(self, app: str, topic: str) -> None:
        """The app's topics, as a worker creates them (before anything is produced to them)."""
        subprocess.run([sys.executable, "-c", "import asyncio; from streamer.config import load_settings; "
                        "from streamer.kafka.topics import ensure_topics; asyncio.run(ensure_topics(load_settings()))"],
                       env=self.env(app, topic), check=True)

    def backlog(self, s: Scenario) -> str:
        app = f"b{uuid.uuid4().hex[:6]}"
        topic = f"{app}-predictions"
        self.create_topics(app, topic)
        asyncio.run(produce(self.port, topic, messages(s)))
        return topic

    def ready_worker(self, app: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """A worker process of ``app``, once it answers ``/ready``."""
        web_port = free_port()
        log = open(os.path.join(self.workdir, f"{app}.log"), "wb")  # noqa: SIM115
        worker = subprocess.Popen([sys.executable, "-m", "streamer.cli.main", "worker", "--web-port", str(web_port),
                                   "--data-dir", os.path.join(self.workdir, app), "--loglevel", "warning"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(web_port, timeout_s=120)
        while not ready(f"http://127.0.0.1:{web_port}"):
            time.sleep(0.5)
        return worker

    def delays_with_worker(self, app: str, env: dict[str, str],
                           measure: Callable[[], Coroutine[Any, Any, list[float]]]) -> dict[str, float]:
        """Run ``measure`` (a coroutine returning delays in seconds) against a ready worker; their summary."""
        worker = self.ready_worker(app, env)
        try:
            delays = asyncio.run(measure())
        finally:
            worker.terminate()
            worker.wait(30)
        return delay_summary(delays)

    def streamer(self, s: Scenario, topic: str, **settings: str) -> dict[str, Any]:
        app = f"w{uuid.uuid4().hex[:6]}"
        web_port = free_port()
        data_dir = os.path.join(self.workdir, app)
        log = open(os.path.join(self.workdir, f"{app}.log"), "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "streamer.cli.main", "worker", "--web-port", str(web_port), "--data-dir", data_dir,
             "--loglevel", "warning"], env=self.env(app, topic, **settings), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{web_port}"
        try:
            wait_for_port(web_port, timeout_s=120)
            idle_rss = rss_bytes(worker.pid)
            # Timed from readiness (partitions assigned, tables recovered): the agent starts right then.
            # (Polling the first accepted row instead would miss a whole batch: the HTTP server shares
            # the agent's event loop and answers between batches.)
            while not ready(url):
                time.sleep(0.02)
            started = time.monotonic()
            deadline = started + 900
            while time.monotonic() < deadline:
                count = rows_accepted(url)
                now = time.monotonic()
                if count >= s.rows:
                    rate = s.rows / (now - started)
                    time.sleep(2)  # let the last batch's table writes land before measuring
                    return {"rows_per_s": rate, "rss_bytes": rss_bytes(worker.pid), "idle_rss_bytes": idle_rss,
                            "rocksdb_bytes": dir_bytes(data_dir)}
                time.sleep(0.05)
            raise RuntimeError(f"{s.name}: the worker did not drain its backlog; see {log.name}")
        finally:
            worker.terminate()
            worker.wait(30)

    def faust(self, mode: str, s: Scenario, topic: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "bench.faust_baseline", "--broker", f"kafka://127.0.0.1:{self.port}", "--topic", topic,
             "--mode", mode, "--expect", str(s.rows), "--data-dir", os.path.join(self.workdir, f"f{uuid.uuid4().hex[:6]}"),
             "--web-port", str(free_port())], capture_output=True, text=True, timeout=1800)
        # Faust's worker routes print() through its logger, so the line may be on either stream.
        found = re.search(r"rate ([\d.]+)", out.stdout + out.stderr)
        if not found:
            raise RuntimeError(f"faust {mode} baseline failed: {out.stderr[-2000:]}")
        return {"rows_per_s": float(found.group(1))}

    def raw(self, s: Scenario, topic: str) -> dict[str, Any]:
        return {"rows_per_s": asyncio.run(raw_consumer.drain(self.port, topic, s.rows))}


SCENARIOS = [
    Scenario("single events, 10 features", 40_000, 1, 10, 1, ("streamer", "raw", "faust", "naive")),
    Scenario("batches of 100 rows, 10 features", 300_000, 100, 10, 1, ("streamer", "raw", "faust", "naive")),
    Scenario("single events, 100 features", 15_000, 1, 100, 1),
    Scenario("batches of 100 rows, 100 features", 60_000, 100, 100, 1),
    Scenario("batches of 100 rows, 10 features, 100 models", 300_000, 100, 10, 100, ("streamer",)),
    Scenario("batches of 100 rows, 10 features, 1000 models", 300_000, 100, 10, 1000, ("streamer",)),
]


def close_to_alert_delay(bench: Bench, windows: int = 40) -> dict[str, float]:
    """Seconds from the event that closes a window (watermark past end + lateness) to its alert."""
    app = f"d{uuid.uuid4().hex[:6]}"
    topic = f"{app}-predictions"
    env = bench.env(app, topic, STREAMER_WINDOW_SECONDS="2", STREAMER_ALLOWED_LATENESS_SECONDS="0",
                    STREAMER_BASELINE_WINDOWS="1")

    async def run() -> list[float]:
        producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{bench.port}", linger_ms=0)
        # A short fetch wait, so the delay measured is the worker's, not this consumer's long poll.
        consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{bench.port}", group_id=None, fetch_max_wait_ms=10)
        await producer.start()
        await consumer.start()
        rng = np.random.default_rng(3)
        try:
            alerts = f"{app}-alerts"
            for _ in range(100):
                if consumer.partitions_for_topic(alerts):
                    break
                await asyncio.sleep(0.2)
            partitions = [TopicPartition(alerts, p) for p in sorted(consumer.partitions_for_topic(alerts))]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            delays = []
            for w in range(windows + 1):
                shift = 0.0 if w == 0 else 3.0 * (w % 2 + 1)  # window 0 is the baseline; then alternating shifts
                for i in range(200):
                    body = {"model": "m", "timestamp": T0 + 2 * w + 2 * i / 200,
                            "features": {"x": float(rng.normal(shift, 1))}}
                    await producer.send(topic, orjson.dumps(body), key=b"m")
                await producer.flush()
                closing = {"model": "m", "timestamp": T0 + 2 * (w + 1), "features": {"x": float(rng.normal(0, 1))}}
                sent = time.monotonic()
                await producer.send_and_wait(topic, orjson.dumps(closing), key=b"m")
                if w == 0:
                    await asyncio.sleep(2)
                    continue
                deadline = sent + 30
                got = False
                while time.monotonic() < deadline and not got:
                    batch = await consumer.getmany(timeout_ms=100)
                    got = any(orjson.loads(r.value)["window_start"] for records in batch.values() for r in records)
                if got:
                    delays.append(time.monotonic() - sent)
            return delays
        finally:
            await producer.stop()
            await consumer.stop()

    return bench.delays_with_worker(app, env, run)


def delay_summary(delays: list[float]) -> dict[str, float]:
    array = np.array(delays or [float("nan")])
    return {"windows": len(delays), "median_s": float(np.median(array)), "p99_s": float(np.quantile(array, 0.99))}


def run(out: dict[str, Any], scenarios: list[Scenario] = SCENARIOS) -> str:
    port = free_port()
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        bench = Bench(port, workdir)
        try:
            for s in scenarios:
                topic = bench.backlog(s)
                row: dict[str, Any] = {"scenario": s.name, "rows": s.rows, "features": s.features, "models": s.models}
                for consumer in s.consumers:
                    if consumer == "streamer":
                        row["streamer"] = bench.streamer(s, topic)
                    elif consumer == "raw":
                        row["raw"] = bench.raw(s, topic)
                    else:
                        row[consumer] = bench.faust("stateless" if consumer == "faust" else "windowed", s, topic)
                results.append(row)
                print(f"  measured: {row}", file=sys.stderr, flush=True)
            delay = close_to_alert_delay(bench)
        finally:
            broker.terminate()
            broker.wait(10)
    out["throughput"] = results
    out["close_to_alert"] = delay
    return render(results, delay)


def render(results: list[dict[str, Any]], delay: dict[str, float]) -> str:
    def rate(row: dict[str, Any], name: str) -> str:
        return f"{row[name]['rows_per_s']:>9.0f}" if name in row else f"{'-':>9}"

    def ratio(row: dict[str, Any], name: str) -> str:
        if name not in row:
            return f"{'-':>7}"
        return f"{row['streamer']['rows_per_s'] / row[name]['rows_per_s']:>7.2f}"

    lines = ["Throughput (rows/s, one worker draining a backlog; ratios are streamer / other)",
             f"{'scenario':48} {'streamer':>9} {'raw':>9} {'faust':>9} {'naive':>9} {'x raw':>7} {'x faust':>7} {'x naive':>7}"]
    for row in results:
        lines.append(f"{row['scenario']:48} {rate(row, 'streamer')} {rate(row, 'raw')} {rate(row, 'faust')} "
                     f"{rate(row, 'naive')} {ratio(row, 'raw')} {ratio(row, 'faust')} {ratio(row, 'naive')}")
    lines += ["", "Cost per model x feature (after draining; RSS growth over the idle worker, RocksDB files)"]
    for row in results:
        cells = row["models"] * row["features"]
        worker = row["streamer"]
        lines.append(f"{row['scenario']:48} memory {(worker['rss_bytes'] - worker['idle_rss_bytes']) / cells / 1024:8.1f} KiB"
                     f"   rocksdb {worker['rocksdb_bytes'] / cells / 1024:8.1f} KiB")
    lines += ["", f"Window close to alert on the alerts topic: median {delay['median_s'] * 1000:.0f} ms, "
                  f"p99 {delay['p99_s'] * 1000:.0f} ms over {delay['windows']} windows"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
