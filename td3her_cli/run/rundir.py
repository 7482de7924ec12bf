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
    check_out_folder(path)
    if not path.exists():
        return
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    holder = lock_holder(path)
    if holder is not None:  # a live run: neither "not empty" nor --force is the way on
        raise RunInUseError(
            in_use_message(path, holder, "wait for it to end or choose another --out")
        )
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


def not_a_folder(path: Path) -> str | None:
    """Why `path` is no folder to read from ("does not exist", "is not a directory"), or None."""
    if path.is_dir():
        return None
    return "does not exist" if not path.exists() else "is not a directory"


def folder_problem(path: Path) -> str | None:
    """Why `path` cannot be a folder to write into though it is there: a file, or a symbolic
    link to nothing (mkdir would say only "File exists"); None for a folder or nothing."""
    if path.is_symlink() and not path.exists():
        return f"is a symbolic link to {os.readlink(path)}, which does not exist"
    if path.exists() and not path.is_dir():
        return "is a file, not a folder"
    return None


def check_out_folder(path: Path, option: str = "--out") -> None:
    """Raise UsageError when `option` names a folder to write into that is a file or a
    dangling symbolic link."""
    problem = folder_problem(path)
    if problem is not None:
        raise UsageError(f"{option} {path} {problem}; choose another {option}")


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
    """Create and delete a small file in `directory`; raises OSError where that fails.

    The probe goes even when writing it fails (a full disk creates the file, then refuses its
    bytes): left behind, it would make the directory "not empty" for the next attempt.
    """
    probe = Path(directory) / f".write-test-{os.getpid()}"
    try:
        probe.write_text("td3her")
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def remove_created(created: list[Path], run_dir: Path | None = None) -> None:
    """Undo a start that failed: remove the run's td3her files (and its lock) from `run_dir`
    (default: the last created folder), then each created folder if it is empty."""
    run_dir = run_dir if run_dir is not None else (created[-1] if created else None)
    if run_dir is not None and run_dir.is_dir():
        with contextlib.suppress(OSError):
            remove_run_files(run_dir)
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def remove_run_files(path: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Delete what a td3her run consists of in `path` (but the RUN_FILES named in `keep`);
    the names of entries left alone."""
    for name in RUN_FILES:
        if name != LOCK_FILE and name not in keep:  # the lock is held by whoever replaces the run
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


def lock_holder(path: Path) -> str | None:
    """Who holds RUN/.td3her.lock now (as it names itself, e.g. "td3her train (pid 123 on
    host, since ...)"), or None when no process does."""
    try:
        handle = open(Path(path) / LOCK_FILE, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        except OSError:
            return None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def in_use_message(path: Path, holder: str, way_on: str = "wait for it to end") -> str:
    """RunInUseError's line: who holds the run directory, and the way on."""
    return f"run directory {path} is in use by {holder}; {way_on}"


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
            raise RunInUseError(in_use_message(path, holder)) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{command} (pid {os.getpid()} on {socket.gethostname()}, since {started})")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock; the file stays (unlinking it would race)
