"""Dead-letter records (CONTRACT 4.5)."""

from __future__ import annotations

import orjson

from streamer.events.dead_letters import PAYLOAD_LIMIT_BYTES, dead_letter


def test_record_fields():
    record = orjson.loads(dead_letter("model is missing", "predictions", 2, 42, b'{"prediction": 1}', 1795687200.123))
    assert record == {"error": "model is missing", "topic": "predictions", "partition": 2, "offset": 42,
                      "payload": '{"prediction": 1}', "received_at": "2026-11-26T10:00:00.123Z"}


def test_invalid_utf8_is_replaced():
    record = orjson.loads(dead_letter("payload is not UTF-8", "labels", 0, 1, b"K\xf6ln", 0.0))
    assert record["payload"] == "K\ufffdln"
    assert "payload_truncated" not in record


def test_long_payload_is_truncated_on_a_character_boundary():
    payload = b"a" * (PAYLOAD_LIMIT_BYTES - 1) + "é".encode() * 10  # "é" straddles the limit
    record = orjson.loads(dead_letter("too big", "predictions", 0, 1, payload, 0.0))
    assert record["payload_truncated"] is True
    assert record["payload"] == "a" * (PAYLOAD_LIMIT_BYTES - 1)


def test_payload_at_the_limit_is_kept_whole():
    record = orjson.loads(dead_letter("r", "t", 0, 1, b"x" * PAYLOAD_LIMIT_BYTES, 0.0))
    assert len(record["payload"]) == PAYLOAD_LIMIT_BYTES and "payload_truncated" not in record


def test_missing_payload():
    assert orjson.loads(dead_letter("payload is empty", "predictions", 0, 1, None, 0.0))["payload"] == ""
