"""Dead-letter records (CONTRACT 4.5): a rejected message, why it was rejected and where it came from.

>>> record = dead_letter("model is missing", "predictions", 3, 42, b'{"x": 1}', 1795687200.5)
>>> orjson.loads(record)["received_at"], orjson.loads(record)["payload"]
('2026-11-26T10:00:00.500Z', '{"x": 1}')

Payloads that are not UTF-8 keep their readable parts; long payloads are cut to 64 KiB and marked:

>>> orjson.loads(dead_letter("payload is not UTF-8", "predictions", 0, 7, b"ab\\xffc", 0.0))["payload"]
'ab\\ufffdc'
>>> cut = orjson.loads(dead_letter("too big", "predictions", 0, 8, b"x" * 100_000, 0.0))
>>> len(cut["payload"]), cut["payload_truncated"]
(65536, True)
"""

from __future__ import annotations

import codecs

import orjson

from streamer.events.timestamps import format_timestamp

#: The most of a payload a dead-letter record quotes.
PAYLOAD_LIMIT_BYTES = 64 * 1024


#: Bounded labels for dead-letter counts (``streamer_dead_letters_by_reason_total``): the first rule whose
#: words the reason starts with or contains names it; anything else is ``invalid_field``.
_REASON_RULES = (
    ("empty", ("payload is empty",), ()),
    ("too_large", ("payload of",), ()),
    ("not_utf8", ("payload is not UTF-8",), ()),
    ("not_json", ("payload is not valid JSON", "payload is a JSON"), ()),
    ("too_many_models", ("too many models",), ()),
    ("too_many_features", (), ("features, more than the limit",)),
    ("too_many_rows", (), ("rows, more than the limit",)),
    ("model", ("model ", "model is", "model must"), ()),
    ("timestamp", (), ("timestamp", "when ")),
)
DEAD_LETTER_REASONS = tuple(label for label, _, _ in _REASON_RULES) + ("invalid_field",)


def dead_letter_reason(reason: str) -> str:
    """The bounded label of a dead-letter reason.

    >>> dead_letter_reason("payload is not valid JSON: x"), dead_letter_reason("features.a must be a number")
    ('not_json', 'invalid_field')
    """
    for label, prefixes, words in _REASON_RULES:
        if reason.startswith(prefixes) or any(word in reason for word in words):
            return label
    return "invalid_field"


def dead_letter(reason: str, topic: str, partition: int, offset: int, payload: bytes | None,
                received_at_s: float) -> bytes:
    """The JSON dead-letter record for the message at ``topic``/``partition``/``offset``."""
    payload = payload or b""
    truncated = len(payload) > PAYLOAD_LIMIT_BYTES
    # An incremental decoder holds back a character cut in half at the limit instead of replacing it.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(bytes(payload[:PAYLOAD_LIMIT_BYTES]), final=not truncated)
    record = {
        "error": reason.encode("utf-8", "replace").decode("utf-8"),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "payload": text,
        "received_at": format_timestamp(received_at_s),
    }
    if truncated:
        record["payload_truncated"] = True
    return orjson.dumps(record)
