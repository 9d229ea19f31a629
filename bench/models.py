"""Cost per model: one worker, 1, 100 and 1,000 models sharing a replay, the burst of closes, memory per model.

Every scenario replays the same rows (batch-form messages of 100 rows, 10 features) over the same
event time: six 60 s windows per model, of which five close during the replay (each model's first
rows of window 6 push its watermark past window 5's end plus the lateness). So 1 model and 1,000
models close the same number of windows per model; only the number of models differs, and the
ratio of their rows/s is the cost of many models.

The burst: after the 1,000-model replay, each model sends one row past its last window's end plus
the lateness, all together (as live models do at an epoch-aligned window boundary). The last
window's rows are shifted, so every close also raises drift alerts. The burst time runs from the
moment the first closing row is produced to the Kafka timestamp of the last window summary or
alert the worker produced.

Memory: 1,000 and 10,000 models of 20 features, each sending two windows of rows then falling
silent; RSS and RocksDB size are read once the rows are in, and again once every window has closed
by idleness (``cached_models`` is how many models' states the worker still holds in Python).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer

from bench.throughput import T0, Bench, dir_bytes, embedded_bench, produce, ready, rss_bytes
from streamer.broker import free_port, wait_for_port

WINDOW_S = 60.0
LATENESS_S = 10.0


@dataclass(frozen=True)
class Replay:
    models: int
    rows: int = 600_000
    rows_per_message: int = 100
    features: int = 10
    windows: int = 6  # per model; all but the last close during the replay
    shift_last: float = 1.0  # the last window's rows are shifted: its close raises drift alerts

    @property
    def messages_per_model(self) -> int:
        return self.rows // self.rows_per_message // self.models


def replay_messages(r: Replay, seed: int = 0) -> Iterator[tuple[bytes, bytes]]:
    """Messages in log order: models take turns, each walking through its windows."""
    if r.messages_per_model < r.windows:
        raise ValueError("each model needs at least one message per window")
    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(r.features)]
    per_window = r.messages_per_model / r.windows
    for j in range(r.messages_per_model):
        window = int(j // per_window)
        first_in_window = j - int(np.ceil(window * per_window))
        in_window = int(np.ceil((window + 1) * per_window)) - int(np.ceil(window * per_window))
        for m in range(r.models):
            values = rng.normal(r.shift_last if window == r.windows - 1 else 0.0, 1.0,
                                size=(r.rows_per_message, r.features)).round(4)
            # Rows spread over [lateness, window end) of their window, in order.
            offsets = LATENESS_S + (WINDOW_S - LATENESS_S - 1) * (
                first_in_window + np.arange(r.rows_per_message) / r.rows_per_message) / in_window
            rows = [{"timestamp": T0 + window * WINDOW_S + float(o), "features": dict(zip(names, v, strict=True)),
                     "prediction": int(v[0] > 0)} for o, v in zip(offsets.tolist(), values.tolist(), strict=True)]
            model = f"model-{m}"
            yield model.encode(), orjson.dumps({"model": model, "rows": rows})


def closing_messages(r: Replay) -> list[tuple[bytes, bytes]]:
    """One row per model, past its last window's end plus the lateness: every model's last window closes."""
    t = T0 + r.windows * WINDOW_S + LATENESS_S + 1
    names = [f"f{i}" for i in range(r.features)]
    return [(f"model-{m}".encode(), orjson.dumps({"model": f"model-{m}", "timestamp": t,
                                                  "features": dict.fromkeys(names, 0.0)})) for m in range(r.models)]


def worker_report(url: str, timeout_s: float = 60) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/v1/worker", timeout=timeout_s) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


class Worker:
    """One streamer worker process on a fresh app id, whose topics exist before anything is produced."""

    def __init__(self, bench: Bench, **settings: str) -> None:
        self.bench = bench
        self.app = f"m{uuid.uuid4().hex[:6]}"
        self.topic = f"{self.app}-predictions"
        self.env = {**bench.env(self.app, self.topic), **settings}
        subprocess.run([sys.executable, "-c", "import asyncio; from streamer.config import load_settings; "
                        "from streamer.kafka.topics import ensure_topics; asyncio.run(ensure_topics(load_settings()))"],
                       env=self.env, check=True)
        self.data_dir = os.path.join(bench.workdir, self.app)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        web_port = free_port()
        self.url = f"http://127.0.0.1:{web_port}"
        log = open(os.path.join(self.bench.workdir, f"{self.app}.log"), "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamer.cli.main", "worker", "--web-port", str(web_port),
             "--data-dir", self.data_dir, "--loglevel", "warning"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(web_port, timeout_s=120)
        while not ready(self.url):
            time.sleep(0.02)

    def counter(self, name: str) -> float:
        """A pipeline counter, from /api/v1/worker (cheap: /metrics renders every model's families)."""
        try:
            return float(worker_report(self.url, timeout_s=5)["counters"][name])
        except OSError:
            return -1.0

    def wait_for(self, name: str, at_least: float, timeout_s: float = 1200) -> float:
        """Seconds until the counter reaches ``at_least``."""
        started = time.monotonic()
        while self.counter(name) < at_least:
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"{self.app}: {name} stayed below {at_least}")
            time.sleep(0.05)
        return time.monotonic() - started

    def stage_seconds(self) -> dict[str, float]:
        """Seconds the worker spent per micro-batch stage (plan, settle, apply, send), from /metrics."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=60) as response:
            text = response.read().decode()
        found = {}
        for line in text.splitlines():
            if line.startswith("streamer_batch_stage_seconds_total{"):
                found[line.split('stage="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
        return found

    def memory(self) -> dict[str, Any]:
        assert self.process is not None
        return {"rss_bytes": rss_bytes(self.process.pid), "rocksdb_bytes": dir_bytes(self.data_dir),
                "cached_models": worker_report(self.url).get("models_cached")}

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)


def replay_rate(bench: Bench, r: Replay, burst: bool) -> dict[str, Any]:
    worker = Worker(bench)
    asyncio.run(produce(bench.port, worker.topic, list(replay_messages(r))))
    try:
        worker.start()
        elapsed_s = worker.wait_for("rows_accepted", r.rows)
        closed = worker.counter("windows_closed")
        row: dict[str, Any] = {"models": r.models, "rows": r.rows, "rows_per_s": r.rows / elapsed_s,
                               "windows_closed": closed, "windows_closed_per_model": closed / r.models}
        if burst:
            time.sleep(2)
            row["burst"] = asyncio.run(close_burst(bench.port, worker, r))
        return row
    finally:
        worker.stop()


async def close_burst(port: int, worker: Worker, r: Replay) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(f"{worker.app}-windows", f"{worker.app}-alerts", bootstrap_servers=f"127.0.0.1:{port}",
                                group_id=None, auto_offset_reset="latest", fetch_max_wait_ms=50)
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=500)  # positions at the end before the burst
        closing = closing_messages(r)
        stages_before = worker.stage_seconds()
        sent_s = time.time()
        await produce(port, worker.topic, closing)
        summaries, alerts, last_ms = 0, 0, 0
        deadline = time.monotonic() + 300
        while summaries < r.models and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    if tp.topic.endswith("-windows"):
                        summaries += orjson.loads(record.value)["window_start"] is not None
                    else:
                        alerts += 1
                    last_ms = max(last_ms, record.timestamp)
        # Alerts are produced after their window's summary in the same batch: read what is left.
        for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
            for record in records:
                alerts += not tp.topic.endswith("-windows")
                last_ms = max(last_ms, record.timestamp)
        stages = {k: v - stages_before.get(k, 0.0) for k, v in worker.stage_seconds().items()}
        return {"models": r.models, "summaries": summaries, "alerts": alerts, "seconds": last_ms / 1000 - sent_s,
                "stage_seconds": stages}
    finally:
        await consumer.stop()


def memory_per_model(bench: Bench, models: int, features: int = 20) -> dict[str, Any]:
    r = Replay(models=models, rows=models * 2 * 10, rows_per_message=10, features=features, windows=2, shift_last=0.0)
    # Room for every model (STREAMER_MAX_MODELS splits evenly over partitions; hashing does not).
    worker = Worker(bench, STREAMER_IDLE_CLOSE_SECONDS="30", STREAMER_MAX_MODELS=str(2 * models))
    asyncio.run(produce(bench.port, worker.topic, list(replay_messages(r))))
    try:
        worker.start()
        idle_rss = rss_bytes(worker.process.pid)  # type: ignore[union-attr]
        worker.wait_for("rows_accepted", r.rows)
        time.sleep(2)
        with_open = worker.memory()
        worker.wait_for("windows_closed", 2 * models, timeout_s=300)
        time.sleep(2)
        return {"models": models, "features": features, "idle_rss_bytes": idle_rss, "open": with_open,
                "closed": worker.memory()}
    finally:
        worker.stop()


def run(out: dict[str, Any], model_counts: tuple[int, ...] = (1, 100, 1000),
        memory_counts: tuple[int, ...] | None = None) -> str:
    """``memory_counts`` defaults to ``BENCH_MEMORY_MODELS`` (comma-separated; 1000,10000): 10,000 models take long."""
    if memory_counts is None:
        memory_counts = tuple(int(n) for n in os.environ.get("BENCH_MEMORY_MODELS", "1000,10000").split(",") if n)
    with embedded_bench() as bench:
        rates = []
        for n in model_counts:
            rates.append(replay_rate(bench, Replay(models=n), burst=n == max(model_counts) and n > 1))
            print(f"  measured: {rates[-1]}", file=sys.stderr, flush=True)
        memory = []
        for n in memory_counts:
            memory.append(memory_per_model(bench, n))
            print(f"  measured: {memory[-1]}", file=sys.stderr, flush=True)
    one = rates[0]["rows_per_s"] if rates else math.nan
    for row in rates:
        row["ratio_to_one_model"] = row["rows_per_s"] / one
    out["models"] = {"replay": rates, "burst": next((r["burst"] for r in rates if "burst" in r), None),
                     "memory": memory}
    return render(out["models"])


def render(result: dict[str, Any]) -> str:
    lines = ["Cost per model (one worker; replay of 600,000 rows in 100-row messages, 10 features, "
             "5 windows closed per model)",
             f"{'models':>8} {'rows/s':>9} {'x 1 model':>10} {'windows closed/model':>21}"]
    for row in result["replay"]:
        lines.append(f"{row['models']:>8} {row['rows_per_s']:>9.0f} {row['ratio_to_one_model']:>10.2f} "
                     f"{row['windows_closed_per_model']:>21.1f}")
    burst = result["burst"]
    if burst:
        lines.append(f"Burst: {burst['models']} models' windows closing together: {burst['summaries']} summaries and "
                     f"{burst['alerts']} alerts out {burst['seconds']:.2f} s after the first closing row was produced")
        stages = burst.get("stage_seconds") or {}
        lines.append("       the worker's micro-batches meanwhile: " + ", ".join(
            f"{stage} {seconds:.2f} s" for stage, seconds in stages.items()))
    lines += ["", "Memory per model (20 features, two windows each, then silent)"]
    for row in result["memory"]:
        n = row["models"]
        for phase in ("open", "closed"):
            m = row[phase]
            lines.append(f"{n:>6} models, {phase + ' windows:':14} RSS {m['rss_bytes'] / 2**20:7.1f} MiB "
                         f"({(m['rss_bytes'] - row['idle_rss_bytes']) / n / 1024:6.1f} KiB/model over idle), "
                         f"RocksDB {m['rocksdb_bytes'] / 2**20:7.1f} MiB ({m['rocksdb_bytes'] / n / 1024:6.1f} KiB/model), "
                         f"models cached in Python: {m['cached_models']}")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.models")
    parser.add_argument("--models", type=int, nargs="*", default=[1, 100, 1000])
    parser.add_argument("--memory", type=int, nargs="*", default=[1000, 10_000])
    args = parser.parse_args()
    print(run({}, tuple(args.models), tuple(args.memory)))
