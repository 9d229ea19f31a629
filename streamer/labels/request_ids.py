"""Request ids as 64-bit hashes, and the join shard a request id belongs to (``streamer.labels.join``).

>>> shard_of("r1", 16) == shard_of("r1", 16) and 0 <= shard_of("r1", 16) < 16
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_PRIME = np.uint64(0x9E3779B97F4A7C15)
_MIX_1, _MIX_2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)


def request_hashes(request_ids: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each request id, computed column-wise with numpy (a Python hash per row cost more
    than the rest of keeping a pending prediction): the UTF-8 bytes in 8-byte words, each folded in by
    xor and multiply, then MurmurHash3's 64-bit finaliser. Stable across processes (``hash()`` of a str
    is salted). Not keyed: ids crafted to collide could join a label to another prediction of the same
    model, never across models.

    >>> h = request_hashes(["r1", "r2", "r1"])
    >>> bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    """
    if not len(request_ids):
        return np.zeros(0, dtype="<u8")
    words = _id_words(request_ids)
    h = np.full(len(request_ids), np.uint64(words.shape[1] * 8), dtype="<u8")
    with np.errstate(over="ignore"):
        for column in words.T:
            h = (h ^ column) * _PRIME
            h ^= h >> np.uint64(29)
        h ^= h >> np.uint64(33)
        h *= _MIX_1
        h ^= h >> np.uint64(33)
        h *= _MIX_2
        h ^= h >> np.uint64(33)
    return h


def _id_words(request_ids: Sequence[str]) -> np.ndarray:
    """Each id's UTF-8 bytes, zero-padded to a whole number of 8-byte words (the width of the longest),
    as one row of words each. ASCII ids (the usual case) are encoded in one call and placed with numpy
    rather than encoded one by one; the bytes are the same.

    >>> ids = ["r-1", "", "r-00000000012", "é"]
    >>> bool((_id_words(ids) == _id_words_each(ids)).all()), _id_words(ids).shape
    (True, (4, 2))
    >>> bool((_id_words(ids[:3]) == _id_words_each(ids[:3])).all())
    True
    """
    text = "".join(request_ids)
    data = text.encode()
    if len(data) != len(text):  # not ASCII: a character's bytes are not one each
        return _id_words_each(request_ids)
    lengths = np.fromiter(map(len, request_ids), dtype=np.int64, count=len(request_ids))
    width = -(-max(int(lengths.max()), 1) // 8) * 8
    n = len(request_ids)
    padded = np.zeros(n * width, dtype=np.uint8)
    if (lengths == lengths[0]).all():
        padded.reshape(n, width)[:, : int(lengths[0])] = np.frombuffer(data, dtype=np.uint8).reshape(n, int(lengths[0]))
    else:
        starts = np.cumsum(lengths) - lengths
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        padded[rows * width + np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)] = np.frombuffer(
            data, dtype=np.uint8)
    return padded.view("<u8").reshape(n, width // 8)


def _id_words_each(request_ids: Sequence[str]) -> np.ndarray:
    encoded = np.array([r.encode() for r in request_ids], dtype=bytes)
    width = -(-max(encoded.dtype.itemsize, 1) // 8) * 8
    return np.frombuffer(encoded.astype(f"S{width}").tobytes(), dtype="<u8").reshape(len(request_ids), width // 8)


def request_hash(request_id: str) -> int:
    return int(request_hashes([request_id])[0])


def shard_of(request_id: str, shards: int) -> int:
    """The shard of a request id (its hash modulo the shard count)."""
    return request_hash(request_id) % shards
