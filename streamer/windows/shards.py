"""Hot models: one model's windows kept in several shards on several partitions, merged at close.

A model whose traffic exceeds what one worker folds per second (``hot_models`` in the config file,
``STREAMER_HOT_MODELS="fraud:4,ads:8"``) has ``n`` shards. Shard ``i`` lives on partition
``(home + i) % partitions``, where ``home`` is the partition Kafka's partitioner gives the model's
name (the partition an unsharded model lives on). The home partition spreads the model's records
over the shards by offset, without decoding them; each shard keeps ordinary window state under its
own state key; when a shard closes a window it sends the window's mergeable sketches (a
:class:`Partial`) to the internal partials topic, on the home partition, where
``streamer.windows.merge`` waits for every shard and closes the merged window as one model.

>>> hot = HotModels(parse_hot_models("fraud:4"), partitions=8)
>>> home = hot.home("fraud")
>>> [hot.shard_at("fraud", (home + i) % 8) for i in range(5)]
[0, 1, 2, 3, None]
>>> hot.shard_at("ads", 3) is None and hot.count("ads") == 1
True
>>> key = hot.state_key("fraud", "1", 2)
>>> split_key(key), split_key(state_key("fraud", "1"))
(('fraud', '1', 2), ('fraud', '1', None))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from streamer.batch import Inbound, Outbound, state_key
from streamer.errors import ConfigError
from streamer.kafka.topics import partition_for_key
from streamer.sketches.codec import pack, unpack
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.model_state import ModelState

SHARD_MARK = "\x1e"  # between a model's state key and its shard number


def parse_hot_models(text: str) -> dict[str, int]:
    """``"fraud:4,ads:8"`` as {model: shard count}; an empty text is no hot model.

    >>> parse_hot_models(" fraud:4, ads:8 ")
    {'fraud': 4, 'ads': 8}
    >>> parse_hot_models("fraud")
    Traceback (most recent call last):
    ...
    streamer.errors.ConfigError: STREAMER_HOT_MODELS: expected model:shards, got 'fraud'
    """
    found: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        model, _, count = item.rpartition(":")
        if not model or not count.strip().isdigit() or int(count) < 1:
            raise ConfigError(f"STREAMER_HOT_MODELS: expected model:shards, got {item!r}")
        found[model.strip()] = int(count)
    return found


def split_key(key: bytes) -> tuple[str, str, int | None]:
    """A state key's model, version and shard (None for a model's own state)."""
    text = key.decode()
    base, mark, shard = text.partition(SHARD_MARK)
    model, _, version = base.partition("\x1f")
    return model, version, int(shard) if mark else None


def is_shard_key(key: bytes) -> bool:
    return SHARD_MARK.encode() in key


class HotModels:
    """Where the shards of each hot model live; a model not listed has one shard: itself."""

    def __init__(self, shards: Mapping[str, int], partitions: int) -> None:
        self.partitions = partitions
        # More shards than partitions would put two shards on one partition: no gain.
        self.shards = {model: min(n, partitions) for model, n in shards.items() if min(n, partitions) > 1}
        self._homes = {model.encode(): partition_for_key(model.encode(), partitions) for model in self.shards}

    def __bool__(self) -> bool:
        return bool(self.shards)

    def count(self, model: str) -> int:
        return self.shards.get(model, 1)

    def home(self, model: str) -> int:
        return self._homes.get(model.encode()) or partition_for_key(model.encode(), self.partitions)

    def shard_at(self, model: str, partition: int) -> int | None:
        """The shard of ``model`` that ``partition`` hosts, or None (also for a model that is not hot)."""
        n = self.shards.get(model)
        if n is None:
            return None
        shard = (partition - self.home(model)) % self.partitions
        return shard if shard < n else None

    def state_key(self, model: str, version: str, shard: int | None) -> bytes:
        base = state_key(model, version)
        return base if shard is None else base + f"{SHARD_MARK}{shard}".encode()

    def spread(self, record: Inbound) -> int | None:
        """The partition a hot model's record at its home partition goes on to, or None to keep it here.

        Decided from the record's key (producers key by model) and offset alone, so the home partition
        does not decode the records it passes on; a redelivered record goes to the same shard.
        """
        if record.key is None or record.key not in self._homes or self._homes[record.key] != record.partition:
            return None
        shard = record.offset % self.shards[record.key.decode()]
        return None if shard == 0 else (record.partition + shard) % self.partitions


ORIGIN_HEADER = "streamer-origin"  # "partition:offset" of a spread record at its model's home partition


def origin_headers(record: Inbound) -> list[tuple[str, bytes]]:
    return [(ORIGIN_HEADER, f"{record.partition}:{record.offset}".encode())]


def origin_of(headers: object) -> tuple[int, int] | None:
    """The (partition, offset) a spread record came from, from its Kafka headers (a list of pairs or a dict).

    >>> origin_of([("streamer-origin", b"3:1200")]), origin_of(None), origin_of({"other": b"x"})
    ((3, 1200), None, None)
    """
    pairs = headers.items() if isinstance(headers, dict) else headers or ()
    for name, value in pairs:  # type: ignore[attr-defined]
        if name == ORIGIN_HEADER and value:
            partition, _, offset = bytes(value).decode().partition(":")
            return int(partition), int(offset)
    return None


def origin_applied(state: ModelState, record: Inbound) -> bool:
    """True if a shard already applied this spread record (the home partition sent it again after a crash).

    A shard remembers the last origin offset it applied per home partition, beside its own offsets,
    under a negative partition number. A shard state without a position in its own partition is new,
    or its log was replaced (``windows.positions``): then origin offsets start again too.
    """
    if record.origin is None:
        return False
    if state.position(record.partition) is None:
        for slot in [p for p in state.applied_offsets if p < 0]:
            state.rebase(slot)
    slot = -1 - record.origin[0]
    if state.is_applied(slot, record.origin[1]):
        return True
    state.mark_applied(slot, record.origin[1])
    return False


@dataclass
class Partial:
    """One shard's closed window, on its way to the model's merge stage.

    ``watermark_s`` and ``last_seen_wall_s`` are the shard's at close; ``late_events`` its running count.

    >>> window = WindowAccumulator(60.0, 120.0)
    >>> back = Partial.from_bytes(Partial("fraud", "1", 2, 4, window, 130.0, 1000.0, 3).to_bytes())
    >>> (back.model, back.shard, back.shards, back.window.start_s, back.watermark_s, back.late_events)
    ('fraud', 2, 4, 60.0, 130.0, 3)
    """

    model: str
    version: str
    shard: int
    shards: int
    window: WindowAccumulator
    watermark_s: float
    last_seen_wall_s: float
    late_events: int

    def to_bytes(self) -> bytes:
        header = {"model": self.model, "version": self.version, "shard": self.shard, "shards": self.shards,
                  "watermark": _finite(self.watermark_s), "last_seen": _finite(self.last_seen_wall_s),
                  "late": self.late_events}
        return pack("shard_partial", 1, header, [self.window.to_bytes()])

    @classmethod
    def from_bytes(cls, data: bytes) -> Partial:
        header, blobs = unpack(data, "shard_partial", 1)
        return cls(header["model"], header["version"], header["shard"], header["shards"],
                   WindowAccumulator.from_bytes(blobs[0]), _number(header["watermark"]),
                   _number(header["last_seen"]), header["late"])


def partial_messages(hot: HotModels, topic: str, key: bytes, state: ModelState,
                     closed: list[WindowAccumulator]) -> list[Outbound]:
    """A shard's closed windows as partials, sent to the model's home partition keyed by the model."""
    _, _, shard = split_key(key)
    n, home = hot.count(state.model), hot.home(state.model)
    return [Outbound(topic, state.model.encode(),
                     Partial(state.model, state.version, shard or 0, n, window, state.watermark_s,
                             state.last_seen_wall_s, state.late_events).to_bytes(), home)
            for window in closed]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _number(value: float | None) -> float:
    return -math.inf if value is None else value
