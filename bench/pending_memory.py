"""Memory held for pending predictions: 200,000 pending across 10 models, in process.

:class:`streamer.pipeline.Pipeline` over an in-memory table store (as in ``pending_cost``), each model
with a labelled reference and 10 numeric features, 20,000 rows with request ids each and no labels
yet, in messages of 500 rows and micro-batches of 10 messages. Reported: the Python heap the pipeline's
ground-truth stage holds between micro-batches (``tracemalloc``: bytes allocated while feeding that are
still referenced by the stage, the table store excluded), and the table bytes of the pending rows.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import numpy as np
import orjson

from bench.pending_cost import FEATURES, SETTINGS, T0, _registry
from streamer.batch import Inbound
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import Pipeline
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry

MODELS = 10
ROWS_PER_MODEL = 20_000
ROWS_PER_MESSAGE = 500


def _batches(rng: np.random.Generator) -> list[list[Inbound]]:
    names = [f"f{i}" for i in range(FEATURES)]
    records: list[Inbound] = []
    offsets: dict[int, int] = {}
    for start in range(0, ROWS_PER_MODEL, ROWS_PER_MESSAGE):
        for m in range(MODELS):
            model = f"bench-{m}"
            x = rng.normal(size=(ROWS_PER_MESSAGE, FEATURES)).round(4)
            p = 1 / (1 + np.exp(-x[:, 0]))
            rows: list[dict[str, Any]] = [
                {"timestamp": T0 + (start + i) * 0.01, "features": dict(zip(names, x[i].tolist(), strict=True)),
                 "prediction": int(p[i] >= 0.5), "prediction_proba": round(float(p[i]), 4),
                 "request_id": f"{model}-{start + i:08d}"} for i in range(ROWS_PER_MESSAGE)]
            partition = partition_for_key(model.encode(), SETTINGS.partitions)
            offsets[partition] = offsets.get(partition, -1) + 1
            records.append(Inbound(SETTINGS.topic_predictions, partition, offsets[partition], model.encode(),
                                   orjson.dumps({"model": model, "rows": rows}), T0))
    return [records[i : i + 10] for i in range(0, len(records), 10)]


def _registry_of_models(rng: np.random.Generator) -> ReferenceRegistry:
    registry = ReferenceRegistry()
    for m in range(MODELS):
        document = orjson.loads(next(iter(_registry(True, rng).documents.values())))
        document["model"] = f"bench-{m}"
        profile = ReferenceProfile.from_json(orjson.dumps(document))
        registry.handle_record(profile.key.encode(), profile.to_json(), 0.0)
    return registry


def measure() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    registry = _registry_of_models(rng)
    batches = _batches(rng)
    store: dict[tuple[str, bytes], bytes] = {}
    pipeline = Pipeline(SETTINGS, registry, load=lambda table, key: store.get((table, key)), clock=lambda: T0 + 3600)
    gc.collect()
    tracemalloc.start()
    for batch in batches:
        for write in pipeline.process(batch).writes:
            store[(write.table, write.key)] = write.value
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    stage_files = ("streamer/labels/",)
    held = sum(s.size for s in snapshot.statistics("filename") if any(f in s.traceback[0].filename for f in stage_files))
    pending = sum(pipeline.ground_truth._joins[f"bench-{m}"].pending()[0] for m in range(MODELS))
    table = sum(len(v) for (t, k), v in store.items() if t == "ground_truth" and (b"\x1fs\x1f" in k or b"\x1fb\x1f" in k))
    return {"pending_predictions": pending, "stage_heap_bytes": held, "table_bytes": table}


def run(out: dict) -> str:
    result = measure()
    out["pending_memory"] = result
    n = max(1, result["pending_predictions"])
    return (f"Pending predictions held ({MODELS} models x {ROWS_PER_MODEL:,} rows, no labels yet)\n"
            f"pending {result['pending_predictions']:,}; Python heap held by the label stage "
            f"{result['stage_heap_bytes'] / 1e6:.2f} MB ({result['stage_heap_bytes'] / n:.1f} B a row); "
            f"table {result['table_bytes'] / 1e6:.2f} MB ({result['table_bytes'] / n:.1f} B a row)")


if __name__ == "__main__":
    print(run({}))
