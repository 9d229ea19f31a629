"""Plain Faust agents over the same stream, for comparison (run as a separate worker process).

``stateless``: decode each event, nothing else (Faust's own per-event ceiling).
``windowed``: decode each event and update a Faust tumbling-window table per event, the naive way
(a changelog record per event).

Prints ``rate <rows/s>`` once ``--expect`` rows were seen, timed from the first row to the last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import faust
import orjson


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--mode", choices=["stateless", "windowed"], required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    args = parser.parse_args()
    app = faust.App(f"baseline-{args.mode}-{os.getpid()}", broker=args.broker, store="rocksdb://",
                    datadir=args.data_dir, web_port=args.web_port, web_bind="127.0.0.1", web_host="127.0.0.1",
                    consumer_auto_offset_reset="earliest", recovery_consistency_check=False,
                    topic_partitions=8)
    topic = app.topic(args.topic, value_serializer="raw", key_serializer="raw")
    table: Any = None
    if args.mode == "windowed":
        table = app.Table("counts", default=int, partitions=8,
                          options={"block_cache_size": 16 << 20, "write_buffer_size": 8 << 20}).tumbling(60, expires=3600)
    state = {"seen": 0, "first": 0.0}

    @app.agent(topic)
    async def consume(stream: Any) -> None:
        async for value in stream:
            event = orjson.loads(value)
            rows = len(event.get("rows", ())) or 1
            if table is not None:
                table[event["model"]] += rows
            if not state["seen"]:
                state["first"] = time.monotonic()
            state["seen"] += rows
            if state["seen"] >= args.expect:
                elapsed = time.monotonic() - state["first"]
                print(f"rate {state['seen'] / elapsed:.1f}", flush=True)
                os._exit(0)

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
