import asyncio

import faust
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streamer.kafka.raw_events import RawSchema


def message(key: bytes | None, value: bytes | None) -> ConsumerMessage:
    return ConsumerMessage("predictions", 3, 17, 1795687200.0, 0, [("h", b"1")], key, value, None,
                           tp=TP("predictions", 3))


def test_raw_schema_makes_the_same_events_as_faust_raw_decoding() -> None:
    app = faust.App("raw-events-test", broker="kafka://127.0.0.1:1")
    ours = RawSchema().compile(app)
    fausts = faust.Schema(key_serializer="raw", value_serializer="raw").compile(app)
    for key, value in ((b"fraud", b'{"model": "fraud"}'), (None, b"{}"), (b"k", b"\x00\xff not json"), (b"k", None)):
        mine, theirs = asyncio.run(ours(message(key, value))), asyncio.run(fausts(message(key, value)))
        assert (mine.key, mine.value) == (theirs.key, theirs.value) == (key, value)
        assert mine.headers == theirs.headers and type(mine) is type(theirs)
        assert mine.message.offset == 17 and mine.message.tp == TP("predictions", 3)
