"""Mergeable, bounded counts of one categorical column: the top categories plus "other".

At most ``max_categories`` categories are counted by name; the rest are counted together in
:attr:`other`. Categories named up front (``known``, from the reference profile) are never folded
into ``other``, so comparisons with the reference stay exact.

>>> sketch = CategoricalSketch(max_categories=2)
>>> sketch.update(["DE", "FR", "DE", None, "US"])
>>> sketch.counts, sketch.other, sketch.missing, sketch.count
({'DE': 2, 'FR': 1}, 1, 1, 4)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from streamer.errors import SketchMismatchError
from streamer.sketches.codec import pack, unpack


def category_of(value: object) -> str | None:
    """The category name of a raw value; ``None`` for a missing value.

    >>> category_of(True), category_of(3), category_of(3.0), category_of(float("nan")), category_of("x")
    ('true', '3', '3', None, 'x')
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


class CategoricalSketch:
    def __init__(self, max_categories: int = 64, known: Iterable[str] = ()) -> None:
        self.max_categories = max_categories
        self.known = frozenset(known)
        self.counts: dict[str, int] = {}
        self.other = 0
        self.missing = 0

    @property
    def count(self) -> int:
        """Non-missing values."""
        return sum(self.counts.values()) + self.other

    def update(self, values: Iterable[object]) -> None:
        tally = Counter(category_of(value) for value in values)
        self.missing += tally.pop(None, 0)
        self._add(tally)  # type: ignore[arg-type]  # None was popped

    def _add(self, tally: dict[str, int]) -> None:
        for category, n in tally.items():
            if category in self.counts:
                self.counts[category] += n
            elif category in self.known or len(self.counts) < self.max_categories:
                self.counts[category] = n
            else:
                self.other += n

    def merge(self, other: CategoricalSketch) -> None:
        if other.max_categories != self.max_categories or other.known != self.known:
            raise SketchMismatchError("cannot merge categorical sketches with different limits")
        self.missing += other.missing
        self.other += other.other
        # Add the larger counts first so the categories kept by name are the most frequent ones.
        self._add(dict(sorted(other.counts.items(), key=lambda item: -item[1])))

    def share(self) -> dict[str, float]:
        total = self.count
        return {k: v / total for k, v in self.counts.items()} if total else {}

    def to_bytes(self) -> bytes:
        header = {"max": self.max_categories, "known": sorted(self.known), "counts": self.counts,
                  "other": self.other, "missing": self.missing}
        return pack("categorical", 1, header)

    @classmethod
    def from_bytes(cls, data: bytes) -> CategoricalSketch:
        header, _ = unpack(data, "categorical", 1)
        sketch = cls(header["max"], header["known"])
        sketch.counts, sketch.other, sketch.missing = header["counts"], header["other"], header["missing"]
        return sketch

    def __repr__(self) -> str:
        return f"CategoricalSketch(count={self.count}, categories={len(self.counts)}, other={self.other})"
