"""Compact, versioned byte form shared by every sketch: a small JSON header plus raw blobs.

Not pickle: stored state must stay readable across versions and safe to load.

>>> blob = pack("demo", 1, {"n": 3}, [b"abc", b""])
>>> unpack(blob, "demo", 1)
({'n': 3}, [b'abc', b''])
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from streamer.errors import StateFormatError

_LENGTH = struct.Struct("<I")


def pack(kind: str, version: int, header: dict[str, Any], blobs: list[bytes] | tuple[bytes, ...] = ()) -> bytes:
    head = orjson.dumps({"kind": kind, "v": version, "h": header, "b": [len(b) for b in blobs]},
                        option=orjson.OPT_SERIALIZE_NUMPY)
    return b"".join([_LENGTH.pack(len(head)), head, *blobs])


def unpack(data: bytes, kind: str, version: int) -> tuple[dict[str, Any], list[bytes]]:
    try:
        (head_length,) = _LENGTH.unpack_from(data, 0)
        head = orjson.loads(data[4 : 4 + head_length])
    except (struct.error, orjson.JSONDecodeError) as exc:
        raise StateFormatError(f"not a stored {kind}") from exc
    if not isinstance(head, dict) or not isinstance(head.get("b"), list) or not isinstance(head.get("h"), dict):
        raise StateFormatError(f"not a stored {kind}")
    if head.get("kind") != kind or head.get("v") != version:
        raise StateFormatError(f"stored {head.get('kind')} v{head.get('v')}, expected {kind} v{version}")
    lengths = head["b"]
    if not all(type(n) is int and n >= 0 for n in lengths) or 4 + head_length + sum(lengths) != len(data):
        raise StateFormatError(f"stored {kind} is truncated or has trailing bytes")
    blobs, offset = [], 4 + head_length
    for length in head["b"]:
        blobs.append(bytes(data[offset : offset + length]))
        offset += length
    return head["h"], blobs
