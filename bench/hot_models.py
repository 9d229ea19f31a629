"""Hot models: rows/s of one model's backlog on two replicas, unsharded and sharded (``hot_models``).

Unsharded, one model lives on one partition, so one replica folds all its rows however many replicas
run. Sharded over 8 partitions, its home partition passes records on undecoded (by offset) and the
shards on both replicas decode and fold them; partials are merged at each window close. Both runs
drain the same backlog (produced once both replicas are ready) and are timed from the first record
sent until the replicas' ``streamer_rows_accepted_total`` add up to every row.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from typing import Any

from bench.replicas import Replicas
from bench.throughput import Bench, Scenario, messages, metric, produce
from streamer.broker import free_port, start_broker

SCENARIOS = (Scenario("1 model, 100-row messages", 300_000, 100, 10, 1),
             Scenario("1 model, single events", 60_000, 1, 10, 1))
SHARDS = 8


def drain(bench: Bench, s: Scenario, **settings: str) -> dict[str, float]:
    app = f"h{uuid.uuid4().hex[:6]}"
    topic = f"{app}-predictions"
    bench.create_topics(app, topic)
    replicas = Replicas(bench, app, topic, **settings)
    batch = messages(s)
    try:
        urls = [replicas.start() for _ in range(2)]
        replicas.all_ready()
        started = time.monotonic()
        asyncio.run(produce(bench.port, topic, batch))
        deadline = started + 900
        while time.monotonic() < deadline:
            per_replica = [max(metric(url, "streamer_rows_accepted_total"), 0.0) for url in urls]
            if sum(per_replica) >= s.rows:
                elapsed = time.monotonic() - started
                return {"rows_per_s": s.rows / elapsed, "seconds": elapsed,
                        "busiest_replica_share": max(per_replica) / sum(per_replica)}
            time.sleep(0.05)
        raise RuntimeError(f"{app}: the replicas did not drain {s.rows} rows")
    finally:
        replicas.stop_all()


def run(out: dict[str, Any]) -> str:
    port = free_port()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        bench = Bench(port, workdir)
        try:
            for s in SCENARIOS:
                results[s.name] = {"unsharded": drain(bench, s),
                                   f"sharded x{SHARDS}": drain(bench, s, STREAMER_HOT_MODELS=f"model-0:{SHARDS}")}
        finally:
            broker.terminate()
            broker.wait(10)
    out["hot_models"] = results
    lines = ["Hot models (2 replicas, 8 partitions, one model's backlog; rows/s, share of rows on the busiest replica)"]
    for name, runs in results.items():
        plain, sharded = runs["unsharded"], runs[f"sharded x{SHARDS}"]
        lines.append(f"  {name:28} unsharded {plain['rows_per_s']:9.0f} rows/s ({plain['busiest_replica_share']:.0%})"
                     f"   sharded x{SHARDS} {sharded['rows_per_s']:9.0f} rows/s ({sharded['busiest_replica_share']:.0%})"
                     f"   gain x{sharded['rows_per_s'] / plain['rows_per_s']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
