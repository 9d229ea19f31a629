"""`streamer send`: replay a data file as prediction events (and label events)."""

from __future__ import annotations

import asyncio
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


async def send_rows(settings: Settings, model: str, version: str | None, rows: list[dict[str, Any]],
                    rate: float | None, progress: bool = True) -> None:
    key = model.encode()
    started = time.monotonic()
    step = ROWS_PER_MESSAGE if rate is None else max(1, min(ROWS_PER_MESSAGE, int(rate / 10) or 1))
    with tqdm(total=len(rows), unit="row", disable=not progress, desc=f"sending {model}") as bar:
        async with producer_for(settings) as producer:
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                labels = [(r.get("request_id"), r.pop("label")) for r in chunk if "label" in r]
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
                bar.update(len(chunk))
                if rate:
                    ahead = (start + len(chunk)) / rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
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
def send(data: str, model: str, version: str | None, prediction: str | None, proba: str | None,
         label: str | None, id_: str | None, timestamp: str | None, latency: str | None,
         exclude: tuple[str, ...], rate: float | None) -> None:
    """Replay DATA (CSV, Parquet or JSON lines) as prediction events for MODEL."""
    rows = file_rows(data, ColumnRoles(prediction, proba, label, id_, timestamp, latency, exclude))
    asyncio.run(send_rows(load_settings(), model, version, rows, rate))
    click.echo(f"sent {len(rows)} rows for {model}")
