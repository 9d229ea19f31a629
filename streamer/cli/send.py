"""`streamer send`: replay a data file as prediction events (and label events)."""

from __future__ import annotations

import asyncio
import heapq
import math
import time
import uuid
from typing import Any

import click
import orjson
from tqdm import tqdm

from streamer.cli.files import ColumnRoles, column_values, read_table
from streamer.cli.producer import producer_for
from streamer.config import Settings, load_settings
from streamer.events.timestamps import format_timestamp, parse_timestamp

ROWS_PER_MESSAGE = 500


def _plain(value: Any) -> Any:
    """JSON-ready value: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def file_rows(path: str, roles: ColumnRoles) -> list[dict[str, Any]]:
    table = read_table(path)
    roles.check(table, path)
    names = roles.features(table)
    columns = {name: column_values(table, name) for name in names}
    n = table.num_rows
    extra = {field: column_values(table, col) for field, col in (
        ("prediction", roles.prediction), ("prediction_proba", roles.proba), ("timestamp", roles.timestamp),
        ("latency_ms", roles.latency), ("request_id", roles.id), ("label", roles.label)) if col}
    batch_id = uuid.uuid4().hex[:8]
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"features": {name: _plain(columns[name][i]) for name in names}}
        for field, values in extra.items():
            row[field] = _plain(values[i])
        if roles.label and "request_id" not in row:
            row["request_id"] = f"{batch_id}-{i}"
        rows.append(row)
    return rows


class LabelSchedule:
    """Labels held back until the stream's event time passes their prediction's event time plus ``delay_s``,
    then released in the order they became known, each stamped with that time (CONTRACT 4.2: a label's
    ``timestamp`` is when the truth became known).

    >>> schedule = LabelSchedule(60.0)
    >>> schedule.add(100.0, "a", 1); schedule.add(130.0, "b", 0)
    >>> schedule.due(150.0)
    []
    >>> [(r["request_id"], r["timestamp"]) for r in schedule.due(160.0)]
    [('a', '1970-01-01T00:02:40.000Z')]
    >>> [r["request_id"] for r in schedule.rest()]
    ['b']
    """

    def __init__(self, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError("the label delay must be >= 0 seconds")
        self.delay_s = delay_s
        self._heap: list[tuple[float, int, str, Any]] = []
        self._added = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, event_time_s: float, request_id: str, label: Any) -> None:
        heapq.heappush(self._heap, (event_time_s + self.delay_s, self._added, request_id, label))
        self._added += 1

    def due(self, event_time_s: float) -> list[dict[str, Any]]:
        out = []
        while self._heap and self._heap[0][0] <= event_time_s:
            known_s, _, request_id, label = heapq.heappop(self._heap)
            out.append({"request_id": request_id, "label": label, "timestamp": format_timestamp(known_s)})
        return out

    def rest(self) -> list[dict[str, Any]]:
        return self.due(float("inf"))


def _event_time_s(row: dict[str, Any], default_s: float) -> float:
    try:
        return parse_timestamp(row["timestamp"])
    except ValueError:  # the worker dead-letters the row; its label is released with the stream's time
        return default_s


async def _send_labels(producer: Any, settings: Settings, model: str, version: str | None,
                       labels: list[dict[str, Any]]) -> None:
    for row in labels:
        message = {"model": model, **row}
        if version is not None:
            message["version"] = version
        await producer.send(settings.topic_labels, orjson.dumps(message), key=model.encode())


async def send_rows(settings: Settings, model: str, version: str | None, rows: list[dict[str, Any]],
                    rate: float | None, progress: bool = True, label_delay_s: float | None = None) -> None:
    """Send ``rows``; with ``label_delay_s``, each label follows its prediction by that much event time."""
    key = model.encode()
    schedule = LabelSchedule(label_delay_s) if label_delay_s is not None else None
    started = time.monotonic()
    step = ROWS_PER_MESSAGE if rate is None else max(1, min(ROWS_PER_MESSAGE, int(rate / 10) or 1))
    with tqdm(total=len(rows), unit="row", disable=not progress, desc=f"sending {model}") as bar:
        async with producer_for(settings) as producer:
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                labelled = [(r, r.pop("label")) for r in chunk if "label" in r]
                if schedule is not None:
                    now_s = time.time()
                    for row in chunk:  # the event time must be known to delay the label by it
                        if row.get("timestamp") is None:
                            row["timestamp"] = now_s
                    for row, label in labelled:
                        if label is not None:
                            schedule.add(_event_time_s(row, now_s), str(row["request_id"]), label)
                    labelled = []
                labels = [(r.get("request_id"), label) for r, label in labelled]
                message = {"model": model, "rows": chunk}
                if version is not None:
                    message["version"] = version
                await producer.send(settings.topic_predictions, orjson.dumps(message), key=key)
                for request_id, label in labels:
                    if label is not None:
                        label_msg = {"model": model, "request_id": request_id, "label": label}
                        if version is not None:
                            label_msg["version"] = version
                        await producer.send(settings.topic_labels, orjson.dumps(label_msg), key=key)
                if schedule is not None:
                    latest_s = max(_event_time_s(r, now_s) for r in chunk)
                    await _send_labels(producer, settings, model, version, schedule.due(latest_s))
                bar.update(len(chunk))
                if rate:
                    ahead = (start + len(chunk)) / rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            if schedule is not None:
                await _send_labels(producer, settings, model, version, schedule.rest())
            await producer.flush()


@click.command("send")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", required=True, help="Model name.")
@click.option("--version", default=None, help="Model version (default: 'default').")
@click.option("--prediction", default=None, help="Column holding the prediction.")
@click.option("--proba", default=None, help="Column holding the positive-class score.")
@click.option("--label", default=None, help="Label column: also sends label events.")
@click.option("--id", "id_", default=None, help="Request id column.")
@click.option("--timestamp", default=None, help="Event time column (RFC 3339 or epoch seconds), kept as is.")
@click.option("--latency", default=None, help="Latency column, in milliseconds.")
@click.option("--exclude", multiple=True, help="Column that is not a feature (repeatable).")
@click.option("--rate", type=click.FloatRange(min=0.001), default=None, help="Rows per second (default: as fast as possible).")
@click.option("--label-delay", type=click.FloatRange(min=0.0), default=None, metavar="SECONDS",
              help="Send each label this much event time after its prediction, in order (rehearses late ground truth).")
def send(data: str, model: str, version: str | None, prediction: str | None, proba: str | None,
         label: str | None, id_: str | None, timestamp: str | None, latency: str | None,
         exclude: tuple[str, ...], rate: float | None, label_delay: float | None) -> None:
    """Replay DATA (CSV, Parquet or JSON lines) as prediction events for MODEL."""
    if label_delay is not None and not label:
        raise click.UsageError("--label-delay needs --label")
    rows = file_rows(data, ColumnRoles(prediction, proba, label, id_, timestamp, latency, exclude))
    asyncio.run(send_rows(load_settings(), model, version, rows, rate, label_delay_s=label_delay))
    click.echo(f"sent {len(rows)} rows for {model}")
