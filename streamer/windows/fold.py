"""The rows of one model's records in a micro-batch that its state has not applied yet.

A model's records of one partition arrive in offset order. Each record whose offset is past the
state's position (and, for a hot model's shard, whose origin is past the shard's origin position)
is new; its offset becomes the state's position. Only the last new record's
:class:`~streamer.windows.model_state.RecordMark` is kept (it identifies the record at the stored
offset, see :mod:`streamer.windows.positions`), so it is computed once per model and batch rather
than once per record.

>>> from streamer.batch import Inbound
>>> from streamer.windows.model_state import ModelState
>>> def single(offset: int, x: float) -> tuple[Inbound, PredictionRows]:
...     rows = PredictionRows.empty("fraud", "1"); rows.append_row(timestamp_s=float(offset), features={"x": x})
...     return Inbound("predictions", 3, offset, b"fraud", b'{"x": %d}' % x, 1000.0 + offset), rows
>>> state = ModelState("fraud", "1")
>>> state.mark_applied(3, 10)
>>> fresh, duplicates = unapplied_rows(state, 3, [single(9, 1.0), single(10, 2.0), single(11, 3.0), single(12, 4.0)])
>>> fresh.timestamps_s, duplicates, state.position(3) == (12, RecordMark.of(b'{"x": 4}', 1012.0))
([11.0, 12.0], 2, True)
"""

from __future__ import annotations

from collections.abc import Sequence

from streamer.batch import Inbound
from streamer.events.rows import PredictionRows
from streamer.windows.model_state import ModelState, RecordMark
from streamer.windows.shards import origin_applied


def unapplied_rows(state: ModelState, partition: int,
                   items: Sequence[tuple[Inbound, PredictionRows]]) -> tuple[PredictionRows, int]:
    """The new rows of ``items`` (one model's records of ``partition``, in offset order), marked applied in
    ``state``; and how many rows were already applied (redelivered)."""
    first = items[0][1]
    parts: list[PredictionRows] = []
    duplicates = 0
    last: Inbound | None = None
    is_applied, mark_applied = state.is_applied, state.mark_applied
    for record, rows in items:
        if is_applied(partition, record.offset) or origin_applied(state, record):
            duplicates += len(rows)
            continue
        parts.append(rows)
        mark_applied(partition, record.offset)  # the mark: once, for the last one (below)
        last = record
    if last is not None:
        state.applied_marks[partition] = RecordMark.of(last.value, last.timestamp_s)
    return PredictionRows.concat(first.model, first.version, parts), duplicates
