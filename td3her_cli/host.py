"""The machine a run ran on: CPU model, vector extensions and cores, read without TensorFlow.

TensorFlow's CPU kernels pick their code path from the CPU's vector extensions, so the same
seed, code and packages give the same run only on the same kind of CPU.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The extensions that change which float32 kernels TensorFlow and XLA run.
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")


def _cpuinfo_field(name: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def simd_flags() -> str:
    """The vector extensions among SIMD_FLAGS this CPU has, comma-separated."""
    flags = set((_cpuinfo_field("flags") or "").split())
    present = [flag for flag in SIMD_FLAGS if flag in flags]
    return ", ".join(present) if present else "none of " + ", ".join(SIMD_FLAGS)


def machine() -> dict[str, str | int | None]:
    """This machine as a checkpoint records it: cpu, simd and cores."""
    return {"cpu": cpu_model(), "simd": simd_flags(), "cores": os.cpu_count()}


def other_cpu_note(saved: dict | None) -> str | None:
    """A line for resuming a checkpoint written on a different kind of CPU (`saved`, its
    `machine` record), else None (also for checkpoints written before it was recorded)."""
    if not saved:
        return None
    here = machine()
    if all(saved.get(key) == here[key] for key in ("cpu", "simd")):
        return None
    return (
        f"the checkpoint was written on another CPU ({saved.get('cpu')}; {saved.get('simd')}), "
        f"this is {here['cpu']} ({here['simd']}): training goes on, but floating-point results "
        "depend on the CPU, so it may not retrace a run made on one machine step for step"
    )
