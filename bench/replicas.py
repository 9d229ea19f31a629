"""Replicas on one embedded broker: how long membership changes, recovery and a thousand models cost.

- joins: time from starting the 1st, 2nd and 3rd replica to all running replicas ready again;
- stop: time from SIGTERM (or SIGKILL) of one of three replicas until the two left are ready again;
- recovery: time to ready of a replica on an empty data dir, for an app whose changelog holds about
  100,000 records, beside the same for an app with an empty changelog (the group join alone);
- memory: a worker's RSS with 1,000 models of 20 features (and what it was idle);
- part ``membership``: for 1, 2 and 3 replicas, with and without a stable ``STREAMER_INSTANCE_ID``
  per replica, SIGTERM one replica and restart it at once on the same disk.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import orjson

from bench.throughput import T0, Bench, Scenario, embedded_bench, metric, produce, ready
from streamer.broker import free_port, start_broker

CHANGELOG_RECORDS = 100_000
RECOVERY_MODELS = 1000


class Replicas:
    """Worker processes of one app id on the bench broker."""

    def __init__(self, bench: Bench, app: str, topic: str, **settings: str) -> None:
        self.bench, self.app, self.topic, self.settings = bench, app, topic, settings
        self.running: list[tuple[subprocess.Popen[bytes], str]] = []

    def start(self, name: str = "", **extra: str) -> str:
        """Start a replica; the same ``name`` again reuses its data dir (a restart on the same disk)."""
        web_port = free_port()
        log = open(os.path.join(self.bench.workdir, f"{self.app}-{web_port}.log"), "wb")  # noqa: SIM115
        data_dir = os.path.join(self.bench.workdir, f"{self.app}-{name or uuid.uuid4().hex[:4]}")
        worker = subprocess.Popen(
            [sys.executable, "-m", "streamer.cli.main", "worker", "--web-port", str(web_port), "--data-dir",
             data_dir, "--loglevel", "warning"],
            env=self.bench.env(self.app, self.topic, **self.settings, **extra), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{web_port}"
        self.running.append((worker, url))
        return url

    def all_ready(self, timeout_s: float = 300) -> float:
        """Seconds until every running replica answers /ready (after a short settling look)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if all(ready(url) for _, url in self.running):
                time.sleep(1.0)  # a rebalance may just be starting: ready twice, a second apart
                if all(ready(url) for _, url in self.running):
                    return time.monotonic() - started - 1.0
            time.sleep(0.2)
        raise RuntimeError(f"{self.app}: replicas not ready after {timeout_s:.0f} s")

    def after_change(self, changed_at: float, notice_s: float = 90) -> float:
        """Seconds from ``changed_at`` until the replicas rebalanced: one went not ready, then all ready."""
        while time.monotonic() - changed_at < notice_s and all(ready(url) for _, url in self.running):
            time.sleep(0.1)
        self.all_ready()
        return time.monotonic() - changed_at - 1.0

    def stop(self, how: int) -> None:
        worker, _ = self.running.pop()
        worker.send_signal(how)
        worker.wait(60)

    def stop_all(self) -> None:
        while self.running:
            self.stop(signal.SIGTERM)


def membership(bench: Bench) -> dict[str, float]:
    app = f"r{uuid.uuid4().hex[:6]}"
    replicas = Replicas(bench, app, bench.backlog(Scenario("empty", 0, 1, 1, 1)))
    found: dict[str, float] = {}
    try:
        for n in (1, 2, 3):
            replicas.start()
            found[f"join {n}"] = replicas.all_ready()
        stopped_at = time.monotonic()
        replicas.stop(signal.SIGTERM)
        found["SIGTERM 1 of 3"] = replicas.after_change(stopped_at)
        replicas.start()
        replicas.all_ready()
        killed_at = time.monotonic()
        replicas.stop(signal.SIGKILL)
        found["SIGKILL 1 of 3"] = replicas.after_change(killed_at)
    finally:
        replicas.stop_all()
    return found


def restart(bench: Bench, n: int, static: bool, timeout_s: float = 150) -> tuple[float, bool]:
    """SIGTERM the last of ``n`` replicas and restart it at once on the same disk (and the same
    ``STREAMER_INSTANCE_ID`` when ``static``): seconds until every replica is ready again, and whether
    another replica went not ready meanwhile (a rebalance reached it)."""
    replicas = Replicas(bench, f"s{uuid.uuid4().hex[:6]}", bench.backlog(Scenario("empty", 0, 1, 1, 1)))
    ids = {i: ({"STREAMER_INSTANCE_ID": f"replica-{i}"} if static else {}) for i in range(n)}
    try:
        for i in range(n):
            replicas.start(f"r{i}", **ids[i])
        replicas.all_ready()
        time.sleep(3.0)  # let the group settle after the last join
        stopped_at = time.monotonic()
        replicas.stop(signal.SIGTERM)
        replicas.start(f"r{n - 1}", **ids[n - 1])
        others = [url for _, url in replicas.running[:-1]]
        dipped, seen_ready_at = False, 0.0
        while time.monotonic() - stopped_at < timeout_s:
            states = [ready(url) for _, url in replicas.running]
            dipped = dipped or not all(states[:len(others)])
            if all(states):
                seen_ready_at = seen_ready_at or time.monotonic()
                if time.monotonic() - seen_ready_at >= 1.0:  # ready for a second: not a rebalance starting
                    return seen_ready_at - stopped_at, dipped
            else:
                seen_ready_at = 0.0
            time.sleep(0.2)
        return float("nan"), dipped
    finally:
        replicas.stop_all()


def static_membership(bench: Bench) -> dict[str, dict[str, float | bool]]:
    found: dict[str, dict[str, float | bool]] = {}
    for n in (1, 2, 3):
        for static in (False, True):
            seconds, dipped = restart(bench, n, static)
            found[f"{n} replicas, {'static' if static else 'dynamic'}"] = {"ready_s": seconds, "others_dipped": dipped}
    return found


def run_membership(out: dict[str, Any]) -> str:
    """Part ``membership``: SIGTERM and an immediate restart on the same disk, with and without static membership."""
    with embedded_bench() as bench:
        result = static_membership(bench)
    out["membership"] = result
    lines = ["Membership (embedded broker; SIGTERM of one replica, restarted at once on the same disk;",
             "seconds until every replica is ready again, and whether another replica went not ready)"]
    lines += [f"  {name:24} {r['ready_s']:6.1f} s   others dipped: {'yes' if r['others_dipped'] else 'no'}"
              for name, r in result.items()]
    return "\n".join(lines)


def changelog_backlog(bench: Bench, topic: str, app: str) -> int:
    """Fill ``app``'s model_state changelog: single events round-robin over many models, one write per model a batch."""
    batch = [(f"m{i % RECOVERY_MODELS}".encode(),
              orjson.dumps({"model": f"m{i % RECOVERY_MODELS}", "timestamp": T0 + i * 0.0001, "features": {"x": i % 5}}))
             for i in range(2 * CHANGELOG_RECORDS)]
    asyncio.run(produce(bench.port, topic, batch))
    replicas = Replicas(bench, app, topic)
    try:
        url = replicas.start()
        replicas.all_ready()
        while metric(url, "streamer_rows_accepted_total") < len(batch):
            time.sleep(0.5)
        time.sleep(3.0)
    finally:
        replicas.stop_all()
    return changelog_size(bench, f"{app}-model_state-changelog")


def changelog_size(bench: Bench, topic: str) -> int:
    async def count() -> int:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{bench.port}", group_id=None)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            total, idle = 0, 0
            while idle < 3:
                batches = await consumer.getmany(timeout_ms=500, max_records=10000)
                idle = 0 if batches else idle + 1
                total += sum(len(records) for records in batches.values())
            return total
        finally:
            await consumer.stop()
    return asyncio.run(count())


def recovery(bench: Bench) -> dict[str, float]:
    found: dict[str, float] = {}
    for label, fill in (("empty changelog", False), ("changelog", True)):
        app = f"c{uuid.uuid4().hex[:6]}"
        topic = bench.backlog(Scenario("empty", 0, 1, 1, 1))
        if fill:
            found["changelog records"] = changelog_backlog(bench, topic, app)
        replicas = Replicas(bench, app, topic)  # a fresh data dir: everything comes from the changelog
        try:
            replicas.start()
            found[f"ready on an empty disk, {label}"] = replicas.all_ready(timeout_s=900)
        finally:
            replicas.stop_all()
    return found


def memory(bench: Bench) -> dict[str, float]:
    s = Scenario("1000 models x 20 features", 200_000, 100, 20, 1000, ("streamer",))
    result = bench.streamer(s, bench.backlog(s))
    return {"rss_mib": result["rss_bytes"] / 2**20, "idle_rss_mib": result["idle_rss_bytes"] / 2**20,
            "rocksdb_mib": result["rocksdb_bytes"] / 2**20}


def run(out: dict[str, Any]) -> str:
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        bench = Bench(port, workdir)
        try:
            result = {"membership_s": membership(bench), "recovery": recovery(bench), "memory": memory(bench)}
        finally:
            broker.terminate()
            broker.wait(10)
    out["replicas"] = result
    lines = ["Replicas (embedded broker; seconds until every running replica is ready again)"]
    lines += [f"  {name:40} {seconds:6.1f} s" for name, seconds in result["membership_s"].items()]
    rec = result["recovery"]
    lines += [f"  {name:40} {value:6.1f} s" if "ready" in name else f"  {name:40} {value:8.0f}"
              for name, value in rec.items()]
    mem = result["memory"]
    lines.append(f"  worker with 1,000 models x 20 features: RSS {mem['rss_mib']:.0f} MiB "
                 f"(idle {mem['idle_rss_mib']:.0f} MiB), RocksDB {mem['rocksdb_mib']:.0f} MiB")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
