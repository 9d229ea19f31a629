"""Single-event messages over 100 models: streamer against a plain Faust agent and the raw consumer.

One backlog of one-event messages spread over 100 models is drained, on one embedded broker and side
by side, by:

- ``streamer``: one worker draining its agent's queue in bulk (``streamer.kafka.bulk_stream``);
- ``streamer_take_events``: one worker on Faust's ``stream.take_events()`` (``STREAMER_STREAM_DRAIN=take_events``),
  the path before bulk draining;
- ``faust``: a plain Faust agent that only decodes each message (Faust's per-event ceiling);
- ``raw``: a plain aiokafka consumer doing streamer's parsing and sketch updates (no Faust).

Ratios are streamer / other, from the same run. The machine is shared and its load moves within a
run, so streamer and the plain Faust agent are measured ``ROUNDS`` times, alternating, and the best
rate of each is compared (every sample is kept in the JSON).
"""

from __future__ import annotations

import sys
from typing import Any

from bench.throughput import Scenario, embedded_bench

SCENARIO = Scenario("single events, 10 features, 100 models", 40_000, 1, 10, 100)
ROUNDS = 2


def run(out: dict[str, Any], scenario: Scenario = SCENARIO) -> str:
    with embedded_bench() as bench:
        topic = bench.backlog(scenario)
        row: dict[str, Any] = {"scenario": scenario.name, "rows": scenario.rows, "models": scenario.models,
                               "features": scenario.features}
        samples: dict[str, list[dict[str, Any]]] = {"streamer": [], "faust": []}
        for _ in range(ROUNDS):
            samples["streamer"].append(bench.streamer(scenario, topic))
            samples["faust"].append(bench.faust("stateless", scenario, topic))
        for name, found in samples.items():
            row[name] = {**max(found, key=lambda r: r["rows_per_s"]),
                         "samples_rows_per_s": [r["rows_per_s"] for r in found]}
        row["streamer_take_events"] = bench.streamer(scenario, topic, STREAMER_STREAM_DRAIN="take_events")
        row["raw"] = bench.raw(scenario, topic)
        print(f"  measured: {row}", file=sys.stderr, flush=True)
    rates = {name: row[name]["rows_per_s"] for name in ("streamer", "streamer_take_events", "faust", "raw")}
    row["ratios"] = {"streamer_x_faust": rates["streamer"] / rates["faust"],
                     "streamer_x_raw": rates["streamer"] / rates["raw"],
                     "take_events_x_faust": rates["streamer_take_events"] / rates["faust"],
                     "streamer_x_take_events": rates["streamer"] / rates["streamer_take_events"]}
    out["single_events"] = row
    return render(row)


def render(row: dict[str, Any]) -> str:
    r = row["ratios"]
    names = ("streamer", "streamer_take_events", "faust", "raw")
    lines = [f"Single events ({row['scenario']}, {row['rows']} messages; events/s, one worker draining a backlog)",
             "  " + "  ".join(f"{name} {row[name]['rows_per_s']:.0f}" for name in names),
             "  samples (best kept): " + "  ".join(
                 f"{name} {', '.join(f'{r:.0f}' for r in row[name]['samples_rows_per_s'])}" for name in ("streamer", "faust")),
             f"  streamer x faust {r['streamer_x_faust']:.2f}   streamer x raw {r['streamer_x_raw']:.2f}   "
             f"take_events x faust {r['take_events_x_faust']:.2f}   streamer x take_events {r['streamer_x_take_events']:.2f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run({}))
