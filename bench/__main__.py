"""Run every benchmark: ``python -m bench`` prints one report and writes it as JSON.

``--json PATH`` (default ``bench/results/latest.json``) sets where the results go, so runs can be
compared; ``--only NAME`` (repeatable) runs one part: detection, operations, throughput, faust-settings,
ground-truth, pending-cost, replicas, membership, hot-models, notify, web, single-events or models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from bench import (
    detection,
    faust_settings,
    ground_truth,
    hot_models,
    models,
    notify,
    operations,
    pending_cost,
    replicas,
    single_events,
    throughput,
    web_api,
)

PARTS = {"throughput": throughput.run, "detection": detection.run, "operations": operations.run,
         "faust-settings": faust_settings.run, "ground-truth": ground_truth.run, "pending-cost": pending_cost.run,
         "replicas": replicas.run, "membership": replicas.run_membership,
         "hot-models": hot_models.run, "notify": notify.run, "web": web_api.run,
         "single-events": single_events.run, "models": models.run}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--json", default="bench/results/latest.json", help="where to write the results")
    parser.add_argument("--only", choices=sorted(PARTS), action="append", help="run only this part (repeatable)")
    args = parser.parse_args()
    out: dict = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    for name in args.only or list(PARTS):
        print(PARTS[name](out), flush=True)
        print(flush=True)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as file:
        json.dump(out, file, indent=2)
    print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
