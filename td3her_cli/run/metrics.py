"""metrics.jsonl: one JSON object per cycle and per epoch; the only input of `plot`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from td3her_cli import strict_json

METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    """Appends rows to a metrics.jsonl file, each flushed and fsynced as a whole line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows = len(read_metrics(self.path)[0]) if self.path.exists() else 0
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, row: dict) -> None:
        """Append one row; an OSError (a full disk) names the file."""
        try:
            self._file.write(strict_json.dumps(row, sort_keys=True) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror or str(exc), str(self.path)) from None
        self.rows += 1

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_metrics(path: Path) -> tuple[list[dict], list[str]]:
    """All whole rows of a metrics file, and warnings about lines that could not be read."""
    numbered, warnings = read_numbered_metrics(path)
    return [row for _, row in numbered], warnings


def read_numbered_metrics(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """Each whole row of a metrics file with its 1-based line number, and warnings.

    A line that is not whole JSON (a run killed mid-write, bytes that are not UTF-8) or not a
    JSON object is skipped with a warning naming the file and the line. Old files hold NaN
    where new ones hold null; json.loads reads both.
    """
    rows, warnings = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                warnings.append(f"{path}: line {number} is not whole JSON and was skipped")
                continue
            if isinstance(row, dict):
                rows.append((number, row))
            else:
                warnings.append(f"{path}: line {number} is not a JSON object and was skipped")
    return rows, warnings


def truncate_metrics(path: Path, keep_rows: int) -> None:
    """Keep only the first `keep_rows` whole rows (atomically): drops rows written after a
    checkpoint, and any half-written last line, before a resumed run appends."""
    path = Path(path)
    rows, _ = read_metrics(path) if path.exists() else ([], [])
    temporary = path.with_suffix(".jsonl.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for row in rows[:keep_rows]:
            handle.write(strict_json.dumps(row, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write a small text (str) or binary (bytes) file via a temporary sibling and os.replace."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:  # e.g. a full disk: no temporary file stays behind
        temporary.unlink(missing_ok=True)
        raise
