"""Faust events whose key and value are the record's bytes, made without Faust's serializer registry.

The worker's source topics are read as raw bytes (streamer decodes JSON itself, a batch at a time).
Faust's own decode still runs every record's key and value through its serializer registry (codec
lookup, the ``raw`` codec, a check for a Faust model's namespace in the payload) and back out as the
same bytes, and looks the event class up in the app's settings: a few microseconds a record, a share
of a worker reading single-event messages.
:class:`RawSchema` hands Faust a decode function that makes the event from the record directly.
The result is the same: the raw codec returns the bytes it is given, a null key or value stays null.

``Schema.compile`` is part of faust-streaming's public ``Schema`` class; its signature is that of
the version pinned in :mod:`streamer.kafka.bulk_stream`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust


class RawSchema(faust.Schema):
    """Key and value as bytes, exactly as the broker holds them (``None`` stays ``None``)."""

    def __init__(self) -> None:
        super().__init__(key_serializer="raw", value_serializer="raw")

    def compile(self, app: Any, *, on_key_decode_error: Any = None, on_value_decode_error: Any = None,
                default_propagate: bool = False) -> Callable[..., Awaitable[Any]]:
        event_type = app.conf.Event  # what ``app.create_event`` makes, looked up once instead of per record

        async def decode(message: Any, *, propagate: bool = default_propagate) -> Any:
            # Nothing to decode, so nothing fails: the error callbacks are never needed.
            return event_type(app, message.key, message.value, message.headers, message)

        return decode
