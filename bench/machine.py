"""What the benchmarks ran on: CPU, cores, load, library versions and the date."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from td3her_cli.run.host import cpu_model, simd_flags

PACKAGES = (
    ("TensorFlow", ("tensorflow-cpu", "tensorflow")),
    ("NumPy", ("numpy",)),
    ("Gymnasium", ("gymnasium",)),
    ("panda-gym", ("panda-gym",)),
    ("PyBullet", ("pybullet",)),
)


def memory_total() -> str:
    """MemTotal from /proc/meminfo, in GiB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    """1/5/15-minute load averages (a busy machine makes every figure noisier)."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def package_version(candidates: tuple[str, ...]) -> str:
    """Installed version of the first distribution found among `candidates`."""
    for name in candidates:
        try:
            return f"{metadata.version(name)} ({name})"
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def machine_info() -> list[tuple[str, str]]:
    """(fact, value) pairs for the report's machine table, read without importing TF."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = [
        ("Date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", cpu_model()),
        ("Cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("SIMD", simd_flags()),
        ("Memory", memory_total()),
        ("Load average at start (1/5/15 min)", load_average()),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
    ]
    info += [(label, package_version(names)) for label, names in PACKAGES]
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", "default (all cores)")
    info.append(("TF intra-op threads", threads))
    return info
