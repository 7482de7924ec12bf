"""Strict JSON: every file td3her writes parses with any JSON reader (no NaN or Infinity)."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(data: Any) -> Any:
    """`data` with every non-finite float (NaN, +-inf) replaced by None, recursively.

    A missing value (no update ran, so no loss) is `null` in JSON, not Python's `NaN` token.
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite_or_none(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(value) for value in data]
    return data


def dumps(data: Any, **kwargs: Any) -> str:
    """json.dumps of finite_or_none(data); raises ValueError if anything non-finite remains."""
    return json.dumps(finite_or_none(data), allow_nan=False, **kwargs)


def none_to_nan(value: float | None) -> float:
    """The float a JSON number-or-null stands for (null: NaN, i.e. missing)."""
    return float("nan") if value is None else float(value)
