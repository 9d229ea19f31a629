"""Hot models: rows/s of one model's backlog on two replicas, unsharded and sharded (``hot_models``).

Unsharded, one model lives on one partition, so one replica folds all its rows however many replicas
run. Sharded over 8 partitions, its home partition passes records on undecoded (by offset) and the
shards on both replicas decode and fold them; partials are merged at each window close. Both runs
drain the same backlog (produced once both replicas are ready) and are timed from the first record
sent until the replicas' ``streamer_rows_accepted_total`` add up to every row. Each replica's CPU time
(user + system, from /proc) over the drain is read too: on a machine whose cores are all busy the
wall-clock rate cannot gain from a second replica, but the busiest replica's CPU time per row says
what one replica pays, which is what bounds the rate when each replica has its own cores.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

from bench.replicas import Replicas
from bench.throughput import Bench, Scenario, embedded_bench, messages, metric, produce

# (label, shards, whether the producer keys by model); unkeyed, records land on any partition, and
# with as many shards as partitions each is folded where it lands (no hop through the home partition).
SCENARIOS = ((Scenario("1 model, 100-row messages", 300_000, 100, 10, 1),
              (("unsharded", 1, True), ("sharded x2", 2, True), ("sharded x8", 8, True), ("x8 unkeyed", 8, False))),
             (Scenario("1 model, single events", 60_000, 1, 10, 1),
              (("unsharded", 1, True), ("sharded x8", 8, True), ("x8 unkeyed", 8, False))))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(bench: Bench, s: Scenario, keyed: bool = True, **settings: str) -> dict[str, float]:
    app = f"h{uuid.uuid4().hex[:6]}"
    topic = f"{app}-predictions"
    bench.create_topics(app, topic)
    replicas = Replicas(bench, app, topic, **settings)
    batch = [(key if keyed else None, value) for key, value in messages(s)]
    try:
        urls = [replicas.start() for _ in range(2)]
        replicas.all_ready()
        cpu_before = [cpu_seconds(worker.pid) for worker, _ in replicas.running]
        started = time.monotonic()
        asyncio.run(produce(bench.port, topic, batch))  # type: ignore[arg-type]  # aiokafka takes a None key
        deadline = started + 900
        while time.monotonic() < deadline:
            per_replica = [max(metric(url, "streamer_rows_accepted_total"), 0.0) for url in urls]
            if sum(per_replica) >= s.rows:
                elapsed = time.monotonic() - started
                cpu = [cpu_seconds(worker.pid) - before for (worker, _), before in zip(replicas.running, cpu_before,
                                                                                       strict=True)]
                return {"rows_per_s": s.rows / elapsed, "seconds": elapsed,
                        "busiest_replica_share": max(per_replica) / sum(per_replica),
                        "cpu_us_per_row_total": 1e6 * sum(cpu) / s.rows,
                        "cpu_us_per_row_busiest": 1e6 * max(cpu) / s.rows}
            time.sleep(0.05)
        raise RuntimeError(f"{app}: the replicas did not drain {s.rows} rows")
    finally:
        replicas.stop_all()


def run(out: dict[str, Any]) -> str:
    results: dict[str, dict[str, dict[str, float]]] = {}
    with embedded_bench() as bench:
        for s, variants in SCENARIOS:
            results[s.name] = {label: drain(bench, s, keyed, **({"STREAMER_HOT_MODELS": f"model-0:{n}"} if n > 1 else {}))
                               for label, n, keyed in variants}
    out["hot_models"] = results
    lines = ["Hot models (2 replicas, 8 partitions, one model's backlog): rows/s; share of rows folded on the busiest",
             "replica; CPU us per row on the busiest replica and on both; ratios against unsharded"]
    for name, runs in results.items():
        plain = runs["unsharded"]
        for label, r in runs.items():
            lines.append(
                f"  {name:27} {label:10} {r['rows_per_s']:8.0f} rows/s (x{r['rows_per_s'] / plain['rows_per_s']:.2f})"
                f"  busiest {r['busiest_replica_share']:4.0%}  CPU/row busiest {r['cpu_us_per_row_busiest']:6.1f} us"
                f" (x{r['cpu_us_per_row_busiest'] / plain['cpu_us_per_row_busiest']:.2f})"
                f"  both {r['cpu_us_per_row_total']:6.1f} us")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
