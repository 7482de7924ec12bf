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


def _same_kind(a: dict, b: dict) -> bool:
    return all(a.get(key) == b.get(key) for key in ("cpu", "simd"))


def machines_trained_on(meta: dict) -> list[dict]:
    """Every kind of CPU a checkpoint's run trained on up to it, in order of first use (one
    entry for checkpoints that record only the machine they were written on; none before)."""
    return list(meta.get("machines") or ([meta["machine"]] if meta.get("machine") else []))


def with_this_machine(earlier: list[dict]) -> list[dict]:
    """`earlier` plus this machine, unless a CPU of its kind is already in it."""
    here = machine()
    return earlier if any(_same_kind(seen, here) for seen in earlier) else [*earlier, here]


def other_cpu_note(earlier: list[dict]) -> str | None:
    """A line for resuming a run that trained on another kind of CPU than this one (`earlier`:
    machines_trained_on its checkpoint), else None (also for checkpoints that record none)."""
    here = machine()
    others = [seen for seen in earlier if not _same_kind(seen, here)]
    if not others:
        return None
    listed = "; ".join(f"{seen.get('cpu')}: {seen.get('simd')}" for seen in others)
    return (
        f"this run has trained on another CPU ({listed}), this is {here['cpu']} "
        f"({here['simd']}): training goes on, but floating-point results depend on the CPU, "
        "so it may not retrace a run made on one machine step for step"
    )
