"""Faults outside td3her's control become one `td3her: error:` line and the right exit code:
a full disk, an env module or env that raises, sizes no machine can hold, divergence."""

import contextlib
import errno
import json
import os
import shutil
import subprocess
import uuid

import numpy as np
import pytest

from td3her_cli.checkpoint import resolve_checkpoint

from .conftest import tiny_cli_args


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("td3her: error: "), err
    return lines[0]


@contextlib.contextmanager
def small_filesystem(path, size="256m"):
    """A real tmpfs of `size` at `path` (root only), or None where mounting is not allowed."""
    path.mkdir()
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount")
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", f"td3her-{uuid.uuid4().hex[:6]}", path],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", path], check=False)


def test_disk_full_while_checkpointing_keeps_the_last_checkpoint(
    tiny_run, tmp_path, run_cli, monkeypatch
):
    with small_filesystem(tmp_path / "disk") as disk:
        run_dir = (disk or tmp_path) / "run"
        shutil.copytree(tiny_run, run_dir)  # 2 epochs done; latest = epoch_002
        filler = run_dir.parent / "filler"
        if disk is not None:  # a real full disk: leave 64 KiB, less than a checkpoint
            stats = os.statvfs(disk)
            with open(filler, "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, stats.f_bavail * stats.f_frsize - 65536)
        else:  # no tmpfs here: the buffer write fails as on a full disk

            def disk_full(*args, **kwargs):
                raise OSError(errno.ENOSPC, "No space left on device")

            monkeypatch.setattr(np, "savez", disk_full)
        code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3"])
        line = one_error_line(err)
        assert code == 1
        assert "cannot write checkpoint" in line and "epoch_003" in line
        assert "latest still names" in line and "epoch_002" in line
        root = run_dir / "checkpoints"
        assert json.loads((root / "latest.json").read_text())["checkpoint"] == "epoch_002"
        assert not list(root.glob(".tmp-*")) and not (root / "epoch_003").exists()
        assert resolve_checkpoint(run_dir, latest=True).path.name == "epoch_002"

        filler.unlink(missing_ok=True)
        monkeypatch.undo()
        code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3"])
        assert code == 0, err
        assert resolve_checkpoint(run_dir, latest=True).path.name == "epoch_003"
        saved = json.loads((run_dir / "config.json").read_text())
        assert saved["epochs"] == 3, "config.json records the resumed run's --epochs"


@pytest.mark.parametrize(
    ("command", "body", "message"),
    [
        ("train", "raise RuntimeError('no licence')", "raised RuntimeError: no licence while"),
        ("envs", "raise RuntimeError('no licence')", "raised RuntimeError: no licence while"),
        ("envs", "import sys; sys.exit(3)", "called sys.exit(3) while being imported"),
    ],
)
def test_an_env_module_that_raises_on_import_is_named(
    command, body, message, tmp_path, run_cli, monkeypatch
):
    (tmp_path / "broken_envs.py").write_text(body + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli([command, "--env-module", "broken_envs"])
    line = one_error_line(err)
    assert code == 2 and f"env module 'broken_envs' {message}" in line


def test_an_env_that_fails_to_construct_is_named(tmp_path, run_cli):
    code, _, err = run_cli(
        ["train", "--env-module", "tests.crashing_goal_env", "--env", "PointGoalBroken-v0"]
    )
    line = one_error_line(err)
    assert code == 2
    assert "cannot create env 'PointGoalBroken-v0': FileNotFoundError: injected" in line


def test_an_env_that_crashes_mid_episode_is_named(tmp_path, run_cli):
    out = tmp_path / "run"
    args = ["--env-module", "tests.crashing_goal_env", "--env", "PointGoalCrash-v0"]
    code, _, err = run_cli(["train", *args, *tiny_cli_args(), "--out", str(out)])
    line = one_error_line(err)
    assert code == 1
    assert "env PointGoalCrash-v0 crashed in step(): RuntimeError: injected failure" in line
    assert not out.exists(), "a run that crashed before its first row leaves no directory"


@pytest.mark.parametrize(
    ("option", "value", "needed"),
    [("--buffer-size", "10000000000000", "882.2 TiB"), ("--hidden", "99999999999", "59.7 TiB")],
)
def test_sizes_no_machine_holds_are_refused_with_the_figure(
    option, value, needed, tmp_path, run_cli
):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", option, value, "--out", str(out)])
    line = one_error_line(err)
    assert code == 2
    assert f"this run needs {needed}" in line and "but this machine has" in line
    assert not out.exists()
