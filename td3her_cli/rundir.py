"""Run directories: what a td3her run consists of, making and replacing one safely, and one
writer at a time.

A run directory is a td3her run when its config.json is a td3her config. `--force` removes
only the files and folders td3her writes there (RUN_FILES, and td3her-named entries of
RUN_FOLDERS); anything else stays. While `train` or a sweep trial writes a run, it holds an
advisory lock (flock) on RUN/.td3her.lock: the kernel drops it when the process ends, however
it ends, so a killed run never blocks its own resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from td3her_cli.errors import RunInUseError, UsageError

CONFIG_FILE = "config.json"
RUN_CONFIG_KEYS = {"env_id", "epochs", "cycles", "episodes_per_cycle", "her_strategy"}
LOCK_FILE = ".td3her.lock"
RUN_FILES = (
    CONFIG_FILE,
    f".{CONFIG_FILE}.tmp",
    "metrics.jsonl",
    "metrics.jsonl.tmp",
    "error.txt",
    "held_out.json",  # a sweep trial's held-out evaluation (sweep.HELD_OUT_FILE)
    LOCK_FILE,
)
RUN_FOLDERS = ("checkpoints", "tb", "plots")
CHECKPOINT_NAME = re.compile(r"epoch_\d{3,}(-cycle_\d{3,})?")  # epoch_003, epoch_004-cycle_017
STAGING_NAME = re.compile(r"\.tmp-epoch_\d{3,}(-cycle_\d{3,})?-\d+")  # a checkpoint being written
POINTER_FILES = ("latest.json", "best.json", ".latest.json.tmp", ".best.json.tmp")
PLOT_FILES = ("score.png", "actor.png", "critics.png")


def is_checkpoint_dir(path: Path) -> bool:
    """Whether `path` is a checkpoint td3her wrote: named epoch_NNN[-cycle_NNN], a real
    folder, holding meta.json (anything else in checkpoints/ is the user's)."""
    return (
        CHECKPOINT_NAME.fullmatch(path.name) is not None
        and path.is_dir()
        and not path.is_symlink()
        and (path / "meta.json").is_file()
    )


def is_run_entry(folder: str, entry: Path) -> bool:
    """Whether `entry`, inside the run's `folder`, is something td3her writes there."""
    if entry.is_symlink():
        return False
    if folder == "checkpoints":
        staging = STAGING_NAME.fullmatch(entry.name) is not None and entry.is_dir()
        pointer = entry.name in POINTER_FILES and entry.is_file()
        return is_checkpoint_dir(entry) or staging or pointer
    if folder == "tb":
        return entry.name.startswith("events.out.tfevents.") and entry.is_file()
    return folder == "plots" and entry.name in PLOT_FILES and entry.is_file()


def is_run_dir(path: Path) -> bool:
    """Whether `path` holds a td3her run: a config.json with td3her's keys (any td3her
    version's, so an older or newer run can still be replaced with --force)."""
    try:
        config = json.loads((Path(path) / CONFIG_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and RUN_CONFIG_KEYS <= config.keys()


def check_new_run_dir(path: Path, force: bool) -> None:
    """Raise UsageError unless a fresh run may be written at `path` (nothing is changed).

    An existing non-empty directory needs `force`, and `force` applies only to a td3her run.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a directory; choose another path")
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    if not force:
        raise UsageError(
            f"run directory {path} already exists and is not empty; "
            "choose another --out or pass --force"
        )
    if not is_run_dir(path):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise UsageError(
            f"--force replaces only a td3her run, and {path} is not one (no td3her "
            f"config.json; it holds {shown}); choose another --out"
        )
    for name in RUN_FILES:  # what --force would delete must be td3her's own files
        entry = path / name
        if entry.is_symlink() or (entry.exists() and not entry.is_file()):
            what = "a symbolic link" if entry.is_symlink() else "not a regular file"
            raise UsageError(
                f"--force: {entry} is {what}, so td3her did not write it; move it away or "
                "choose another --out"
            )
    for name in RUN_FOLDERS:
        if (path / name).exists() and not (path / name).is_dir():
            raise UsageError(
                f"--force: {path / name} is not a folder, so td3her did not write it; move it "
                "away or choose another --out"
            )


def create_run_dir(path: Path) -> list[Path]:
    """Create `path` (and missing parents) and check it is writable; the folders created.

    On failure (read-only, disk full, ...) whatever was created is removed again.
    """
    created = [p for p in [path, *path.parents] if not p.exists()][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe_writable(path)
    except OSError as exc:
        remove_created(created)
        raise UsageError(
            f"cannot write to run directory {path} ({exc.strerror or exc}); choose another --out"
        ) from None
    return created


def probe_writable(directory: Path) -> None:
    """Create and delete a small file in `directory`; raises OSError where that fails."""
    probe = Path(directory) / f".write-test-{os.getpid()}"
    probe.write_text("td3her")
    probe.unlink()


def remove_created(created: list[Path]) -> None:
    """Undo create_run_dir: remove the run's td3her files, then each created folder if empty."""
    for depth, folder in enumerate(reversed(created)):
        with contextlib.suppress(OSError):
            if depth == 0:  # the run directory itself
                remove_run_files(folder)
                (folder / LOCK_FILE).unlink(missing_ok=True)
            folder.rmdir()


def remove_run_files(path: Path) -> list[str]:
    """Delete what a td3her run consists of in `path`; the names of entries left alone."""
    for name in RUN_FILES:
        if name != LOCK_FILE:  # the lock is held by whoever is replacing the run
            (path / name).unlink(missing_ok=True)
    for folder in RUN_FOLDERS:
        root = path / folder  # may be a link to a folder elsewhere: only td3her's entries go
        if not root.is_dir():
            continue
        for entry in list(root.iterdir()):
            if not is_run_entry(folder, entry):
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # kept if the user put files of their own there
            root.rmdir()
    return sorted(p.name for p in path.iterdir() if p.name not in (LOCK_FILE, *RUN_FOLDERS))


@contextlib.contextmanager
def run_lock(path: Path, command: str = "td3her train") -> Iterator[None]:
    """Hold RUN/.td3her.lock for the block; RunInUseError (exit 2) if another process holds it."""
    lock_path = Path(path) / LOCK_FILE
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunInUseError(
                f"run directory {path} is in use by {holder}; wait for it to end or choose "
                "another --out"
            ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{command} (pid {os.getpid()} on {socket.gethostname()}, since {started})")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock; the file stays (unlinking it would race)
