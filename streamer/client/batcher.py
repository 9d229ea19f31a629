"""Bounded, thread-safe buffer of rows grouped per model and version.

>>> batcher = RowBatcher(max_rows=2, max_delay_s=60.0, max_buffered_rows=10)
>>> batcher.add(("fraud", "1"), {"features": {"x": 1}}, now_s=0.0)
>>> batcher.add(("fraud", "1"), {"features": {"x": 2}}, now_s=0.0)
>>> [(key, len(rows)) for key, rows in batcher.take_ready(now_s=0.0)]
[(('fraud', '1'), 2)]
>>> batcher.buffered
0
"""

from __future__ import annotations

import threading
from typing import Any

Key = tuple[str, str]


class RowBatcher:
    def __init__(self, max_rows: int, max_delay_s: float, max_buffered_rows: int) -> None:
        if max_rows < 1 or max_delay_s <= 0 or max_buffered_rows < max_rows:
            raise ValueError("need max_rows >= 1, max_delay_s > 0 and max_buffered_rows >= max_rows")
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.max_buffered_rows = max_buffered_rows
        self.buffered = 0
        self._rows: dict[Key, list[Any]] = {}
        self._oldest_s: dict[Key, float] = {}
        self.lock = threading.Condition()

    @property
    def full(self) -> bool:
        return self.buffered >= self.max_buffered_rows

    def add(self, key: Key, row: Any, now_s: float) -> None:
        """Add one row; callers check :attr:`full` first (under :attr:`lock`) for back-pressure."""
        with self.lock:
            rows = self._rows.get(key)
            if rows is None:
                rows = self._rows[key] = []
                self._oldest_s[key] = now_s
            rows.append(row)
            self.buffered += 1

    def take_ready(self, now_s: float, everything: bool = False) -> list[tuple[Key, list[Any]]]:
        """Remove and return the batches due: full ones, old ones, or all of them."""
        ready = []
        with self.lock:
            for key in list(self._rows):
                rows = self._rows[key]
                if everything or len(rows) >= self.max_rows or now_s - self._oldest_s[key] >= self.max_delay_s:
                    del self._rows[key], self._oldest_s[key]
                    for start in range(0, len(rows), self.max_rows):
                        ready.append((key, rows[start : start + self.max_rows]))
                    self.buffered -= len(rows)
            if ready:
                self.lock.notify_all()
        return ready
