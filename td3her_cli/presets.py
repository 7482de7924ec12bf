"""Presets: named bundles of option values from the packaged presets.toml."""

from __future__ import annotations

import fnmatch
import sys
from importlib import resources
from typing import Any

from td3her_cli.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_PRESET = "original"
NOT_OPTIONS = ("description", "default_for")  # preset keys that are not TrainConfig fields


def load_presets() -> dict[str, dict[str, Any]]:
    """Every preset: name -> {"description": ..., option values...}."""
    text = resources.files("td3her_cli").joinpath("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset_values(name: str) -> dict[str, Any]:
    """The TrainConfig values of one preset (description removed)."""
    presets = load_presets()
    if name not in presets:
        raise UsageError(f"unknown --preset {name!r}; choose one of {', '.join(sorted(presets))}")
    values = {k: v for k, v in presets[name].items() if k not in NOT_OPTIONS}
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    return values


def default_preset(env_id: str | None) -> str:
    """The preset for env_id when no --preset is given: the first whose `default_for`
    patterns match it, else `original`."""
    if env_id:
        for name, values in load_presets().items():
            if any(fnmatch.fnmatchcase(env_id, p) for p in values.get("default_for", ())):
                return name
    return DEFAULT_PRESET


def choose_preset(preset: str | None, env_id: str | None) -> tuple[str, bool]:
    """(preset name, whether it was picked for the env rather than given by --preset)."""
    if preset is not None:
        return preset, False
    return default_preset(env_id), True
