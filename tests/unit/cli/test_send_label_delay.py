"""`streamer send --label-delay`: labels follow their predictions by the delay in event time, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from streamer.cli import send as send_module
from streamer.cli.files import ColumnRoles
from streamer.cli.send import send
from streamer.config import Settings
from streamer.events.parse import parse_label_message
from streamer.events.timestamps import parse_timestamp


class MemoryProducer:
    """An in-memory stand-in for the Kafka producer: records (topic, value) in send order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, orjson.loads(value)))

    async def flush(self) -> None:
        pass


def _send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delay_s: float) -> list[tuple[str, dict[str, Any]]]:
    producer = MemoryProducer()

    @asynccontextmanager
    async def memory_producer(settings: Settings) -> AsyncIterator[MemoryProducer]:
        yield producer

    monkeypatch.setattr(send_module, "producer_for", memory_producer)
    data = tmp_path / "rows.csv"
    data.write_text("x,y,ts\n" + "".join(f"{i},{i % 2},{1_800_000_000 + i}\n" for i in range(1200)))
    rows = send_module.file_rows(str(data), ColumnRoles(label="y", timestamp="ts"))
    asyncio.run(send_module.send_rows(Settings(), "m", None, rows, None, progress=False, label_delay_s=delay_s))
    return producer.sent


def test_labels_follow_predictions_by_the_delay_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _send(tmp_path, monkeypatch, delay_s=300.0)
    labels = [parse_label_message(orjson.dumps(m), 0.0) for t, m in sent if t == "labels"]
    assert len(labels) == 1200 and len({label.request_id for label in labels}) == 1200
    times = [label.timestamp_s for label in labels]
    assert times == sorted(times) and times[0] == 1_800_000_300.0
    predicted_at: dict[str, float] = {}
    seen_prediction_time = 0.0
    for topic, message in sent:
        if topic == "predictions":
            for row in message["rows"]:
                predicted_at[row["request_id"]] = parse_timestamp(row["timestamp"])
                seen_prediction_time = max(seen_prediction_time, predicted_at[row["request_id"]])
        else:
            known_s = parse_timestamp(message["timestamp"])
            assert known_s == predicted_at[message["request_id"]] + 300.0
            # sent once the stream's event time reached it, or at the end of the file
            assert known_s <= seen_prediction_time or seen_prediction_time == 1_800_001_199.0


def test_label_delay_needs_label() -> None:
    result = CliRunner().invoke(send, ["x.csv", "--model", "m", "--label-delay", "5"])
    assert result.exit_code == 2 and "--label-delay needs --label" in result.output
