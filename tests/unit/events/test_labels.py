"""Label messages (CONTRACT 4.2)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from streamer.errors import InvalidEventError
from streamer.events.labels import LabelEvent
from streamer.events.parse import parse_label_message

RECORD_TS = 1795687200.0


def test_label_all_fields():
    label = parse_label_message(orjson.dumps({"model": "fraud", "version": 3, "request_id": "r-81731", "label": 0,
                                              "timestamp": "2026-11-26T10:00:05Z"}), RECORD_TS)
    assert label == LabelEvent(model="fraud", version="3", request_id="r-81731", label=0,
                               timestamp_s=RECORD_TS + 5)
    assert label.key == ("fraud", "3")


@pytest.mark.parametrize("value", [1, 0.5, "spam", True, False])
def test_label_values(value):
    label = parse_label_message(orjson.dumps({"model": "m", "request_id": 42, "label": value}), RECORD_TS)
    assert label.label == value and type(label.label) is type(value)
    assert label.request_id == "42" and label.version == "default" and label.timestamp_s == RECORD_TS


def test_label_is_frozen():
    label = LabelEvent(model="m", request_id="r", label=1, timestamp_s=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        label.label = 2  # type: ignore[misc]


@pytest.mark.parametrize(("message", "reason"), [
    (b"{", "not valid JSON"),
    (b"\xc3\x28", "not UTF-8"),
    ({"request_id": "r", "label": 1}, "model is missing"),
    ({"model": "a/b", "request_id": "r", "label": 1}, "characters other than"),
    ({"model": "m", "label": 1}, "request_id is missing"),
    ({"model": "m", "request_id": "", "label": 1}, "request_id is missing"),
    ({"model": "m", "request_id": {"a": 1}, "label": 1}, "request_id must be a string"),
    ({"model": "m", "request_id": "r"}, "label is missing"),
    ({"model": "m", "request_id": "r", "label": None}, "label is null"),
    ({"model": "m", "request_id": "r", "label": [1]}, "label must be a number, string or boolean, got array"),
    ({"model": "m", "request_id": "r", "label": 1, "timestamp": "later"}, "timestamp is not an RFC 3339"),
    ({"model": "m", "version": [], "request_id": "r", "label": 1}, "version must be a string or number"),
])
def test_label_rejections(message, reason):
    payload = message if isinstance(message, bytes) else orjson.dumps(message)
    with pytest.raises(InvalidEventError) as caught:
        parse_label_message(payload, RECORD_TS)
    assert reason in str(caught.value)


def test_label_oversized():
    with pytest.raises(InvalidEventError, match="larger than the limit of 10 bytes"):
        parse_label_message(b'{"model": "m", "request_id": "r", "label": 1}', RECORD_TS, max_bytes=10)
