"""Presets: named bundles of option values from the packaged presets.toml."""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

from td3her_cli.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_PRESET = "original"


def load_presets() -> dict[str, dict[str, Any]]:
    """Every preset: name -> {"description": ..., option values...}."""
    text = resources.files("td3her_cli").joinpath("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset_values(name: str) -> dict[str, Any]:
    """The TrainConfig values of one preset (description removed)."""
    presets = load_presets()
    if name not in presets:
        raise UsageError(f"unknown --preset {name!r}; choose one of {', '.join(sorted(presets))}")
    values = {k: v for k, v in presets[name].items() if k != "description"}
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    return values
