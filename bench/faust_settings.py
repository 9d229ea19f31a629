"""What each Faust consumer setting changes for single-event messages (one worker, same backlog).

``python -m bench.faust_settings`` drains one backlog of single events once per setting below,
changing one setting at a time from streamer's defaults, beside a plain stateless Faust agent.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from bench.throughput import Bench, Scenario
from streamer.broker import free_port, start_broker

SCENARIO = Scenario("single events, 10 features", 30_000, 1, 10, 1)
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("defaults (poll 2000, buffer 8192, batch 2000 / 50 ms)", {}),
    ("max_poll_records 500", {"STREAMER_MAX_POLL_RECORDS": "500"}),
    ("max_poll_records 10000", {"STREAMER_MAX_POLL_RECORDS": "10000"}),
    ("stream_buffer_maxsize 4096 (Faust default)", {"STREAMER_STREAM_BUFFER_MAXSIZE": "4096"}),
    ("stream_buffer_maxsize 32768", {"STREAMER_STREAM_BUFFER_MAXSIZE": "32768"}),
    ("batch 500 events", {"STREAMER_BATCH_MAX_EVENTS": "500"}),
    ("batch 10000 events / 200 ms", {"STREAMER_BATCH_MAX_EVENTS": "10000", "STREAMER_BATCH_WITHIN_SECONDS": "0.2"}),
]


def run(out: dict[str, Any]) -> str:
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        broker = start_broker(port, os.path.join(workdir, "broker.log"))
        try:
            bench = Bench(port, workdir)
            topic = bench.backlog(SCENARIO)
            stateless = bench.faust("stateless", SCENARIO, topic)["rows_per_s"]
            for name, settings in VARIANTS:
                rows.append((name, bench.streamer(SCENARIO, topic, **settings)["rows_per_s"]))
        finally:
            broker.terminate()
            broker.wait(10)
    out["faust_settings"] = {"stateless_faust": stateless, "variants": dict(rows)}
    lines = [f"Faust settings, single events ({SCENARIO.rows} rows); plain stateless Faust agent: {stateless:.0f}/s",
             f"{'setting':56} {'rows/s':>8} {'x faust':>8}"]
    lines += [f"{name:56} {rate:>8.0f} {rate / stateless:>8.2f}" for name, rate in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
