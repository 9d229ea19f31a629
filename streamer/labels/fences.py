"""Applied-offset fences: what makes each stored record of the label join idempotent on its own.

After a SIGKILL, the table records of one micro-batch may reach the changelog in part: a join block
without the window it fed, the model's state without the block, and so on; the records after the last
committed offset are then delivered again. Rather than needing the records of a batch to be written
together, every record keeps, per source ``topic:partition``, the largest offset it has taken in, and a
redelivered record is applied to it only if past that fence.

A join block takes a record past its fence (:meth:`Fences.admits`). A joined pair (a prediction and its
label, from two sources, joined by whichever came second) is applied to a window or to the concept
monitor unless *both* its prediction and its label are within that record's fences
(:meth:`Fences.admits_pair`): records of one source are handled in offset order, so two rows at or below
the fences were both handled before that record was written, hence joined, hence counted in it, however
the two topics interleave on the way back. For that argument a block must never be ahead of the windows
it fed: the stage writes windows and monitor before the blocks, on the same changelog partition, so a
block that survived implies the windows written before it in its micro-batch did too.

An offset below 0 means "no source" (unit tests, benchmarks): always applied, never fenced.

>>> fences = Fences()
>>> fences.advance("predictions:0", 7)
>>> fences.admits("predictions:0", 7), fences.admits("predictions:0", 8)
(False, True)
>>> fences.advance("labels:0", 4)
>>> fences.admits_pair("predictions:0", 5, "labels:0", 3)   # a pair joined before: both within
False
>>> fences.admits_pair("predictions:0", 5, "labels:0", 6)   # its label is new: the pair is new
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class Fences:
    def __init__(self, offsets: Mapping[str, int] | None = None) -> None:
        self.offsets: dict[str, int] = {str(k): int(v) for k, v in (offsets or {}).items()}

    def admits(self, source: str, offset: int) -> bool:
        """Whether a record of ``source`` at ``offset`` is new to this stored record."""
        return offset < 0 or offset > self.offsets.get(source, -1)

    def admits_pair(self, prediction_source: str, prediction_offset: int, label_source: str, label_offset: int) -> bool:
        """Whether a joined pair is new to this stored record (not both sides within its fences)."""
        return self.admits(prediction_source, prediction_offset) or self.admits(label_source, label_offset)

    def admit_pairs(self, pairs: Sequence[tuple[str, int, str, int]]) -> list[bool]:
        """:meth:`admits_pair` for each pair against the fences as stored, then the fences advanced past
        the admitted ones (all pairs are judged first: pairs of one micro-batch do not fence each other)."""
        get = self.offsets.get  # inlined admits_pair: this runs once per joined row
        keep = [po < 0 or po > get(ps, -1) or lo < 0 or lo > get(ls, -1) for ps, po, ls, lo in pairs]
        highest: dict[str, int] = {}
        for (ps, po, ls, lo), admitted in zip(pairs, keep, strict=True):
            if admitted:
                if po > highest.get(ps, -1):
                    highest[ps] = po
                if lo > highest.get(ls, -1):
                    highest[ls] = lo
        for source, offset in highest.items():
            self.advance(source, offset)
        return keep

    def advance(self, source: str, offset: int) -> None:
        if offset >= 0 and offset > self.offsets.get(source, -1):
            self.offsets[source] = offset

    def to_json(self) -> dict[str, int]:
        return dict(self.offsets)

    def __repr__(self) -> str:
        return f"Fences({self.offsets})"
