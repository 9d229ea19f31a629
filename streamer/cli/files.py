"""Reading the data files that `reference build` and `send` take: CSV, Parquet or JSON lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from streamer.errors import InputFileError

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl"}


def read_table(path: str) -> pa.Table:
    file = Path(path)
    fmt = FORMATS.get(file.suffix.lower())
    if fmt is None:
        raise InputFileError(f"{path}: unknown file type {file.suffix!r}; use .csv, .parquet or .jsonl")
    if not file.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        if fmt == "csv":
            return pacsv.read_csv(file)
        if fmt == "parquet":
            return pq.read_table(file)
        return pajson.read_json(file)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InputFileError(f"{path}: cannot read as {fmt}: {exc}") from exc


def column_values(table: pa.Table, name: str) -> np.ndarray | list[Any]:
    """A numeric column as float64 (NaN for nulls); anything else as Python values."""
    column = table.column(name)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.int64()).to_numpy(zero_copy_only=False) / _unit_divisor(column.type)
    return column.to_pylist()


def _unit_divisor(kind: pa.DataType) -> float:
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[kind.unit]


@dataclass(frozen=True)
class ColumnRoles:
    """Which file columns are what; every other column not excluded is a feature."""

    prediction: str | None = None
    proba: str | None = None
    label: str | None = None
    id: str | None = None
    timestamp: str | None = None
    latency: str | None = None
    exclude: tuple[str, ...] = ()

    def check(self, table: pa.Table, path: str) -> None:
        named = [c for c in (self.prediction, self.proba, self.label, self.id, self.timestamp, self.latency) if c]
        missing = [c for c in named if c not in table.column_names]
        if missing:
            raise InputFileError(f"{path}: no column {', '.join(map(repr, missing))}; "
                                 f"columns are {', '.join(table.column_names)}")

    def features(self, table: pa.Table) -> list[str]:
        taken = {self.prediction, self.proba, self.label, self.id, self.timestamp, self.latency, *self.exclude}
        return [c for c in table.column_names if c not in taken]
