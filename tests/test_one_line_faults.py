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

from td3her_cli.run.checkpoint import resolve_checkpoint

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


def test_disk_full_mid_run_names_the_file_the_checkpoint_and_the_resume(
    tiny_run, tmp_path, run_cli, monkeypatch
):
    from td3her_cli.run.metrics import METRICS_FILE

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)  # 2 epochs done; latest = epoch_002
    real_fsync = os.fsync

    def disk_full(descriptor):  # only the appended metrics.jsonl: the first cycle's row
        if os.readlink(f"/proc/self/fd/{descriptor}").endswith(METRICS_FILE):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", disk_full)
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3"])
    line = one_error_line(err)
    assert code == 1
    assert f"cannot write {run_dir / METRICS_FILE} (No space left on device)" in line
    assert (
        f"the last complete checkpoint, {run_dir / 'checkpoints' / 'epoch_002'}, is intact" in line
    )
    assert line.endswith(f"resume with: td3her train --resume {run_dir}")


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
    [
        ("--buffer-size", "10000000000000", "882.2 TiB"),
        ("--buffer-size", "1e13", "882.2 TiB"),  # as people write it (and errors.md does)
        ("--hidden", "99999999999", "59.7 TiB"),
    ],
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


@pytest.mark.parametrize(
    ("options", "named", "lower"),
    [
        ({"buffer_size": 10**11}, "--buffer-size 100,000,000,000", "lower --buffer-size"),
        (
            {"hidden": (10**5, 10**5)},
            "--critics 2 critics of --hidden 100000,100000",
            "lower --hidden",
        ),
        (
            {"critics": 10**6},
            "--critics 1000000 critics of --hidden 256,256,256",
            "lower --critics",
        ),
    ],
)
def test_the_memory_check_names_the_option_that_takes_the_most(options, named, lower, small_spec):
    from td3her_cli.config import TrainConfig
    from td3her_cli.errors import UsageError
    from td3her_cli.run.memory import check_memory

    with pytest.raises(UsageError) as error:
        check_memory(TrainConfig(**options), small_spec, total=2**30)
    message = str(error.value)
    assert named in message and f"; {lower}" in message, message
    others = {"lower --buffer-size", "lower --hidden", "lower --critics"} - {lower}
    assert not any(other in message for other in others), message


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("command", ["plot", "export", "render"])
def test_a_full_disk_while_writing_output_exits_1_naming_the_file(
    command, tiny_run, tmp_path, run_cli, monkeypatch
):
    """The codes docs/errors.md gives: 2 if --out cannot be written at all (the start check),
    1 once the write itself fails; the earlier file stays."""
    if command == "plot":
        from tests.test_plotting import write_run

        monkeypatch.setattr("td3her_cli.run.metrics.os.fsync", _no_space)  # after the write
        out, target = tmp_path / "plots", tmp_path / "plots" / "score.png"
        out.mkdir()
        args = ["plot", str(write_run(tmp_path / "run", [0.5], cycles=2)), "--out", str(out)]
    elif command == "export":
        monkeypatch.setattr("td3her_cli.report.export.write_atomically", _no_space)
        target = tmp_path / "policy.onnx"
        args = ["export", str(tiny_run), "--out", str(target)]
    else:  # the frames are made in a child process: write_animation is checked on its own
        from td3her_cli.errors import Td3HerError
        from td3her_cli.report.gif import write_animation

        monkeypatch.setattr("td3her_cli.report.gif._write_gif", _no_space)
        target = tmp_path / "reach.gif"
        target.write_bytes(b"earlier")
        with pytest.raises(Td3HerError) as error:
            write_animation([np.zeros((16, 16, 3), np.uint8)], target, fps=25)
        assert error.value.exit_code == 1
        assert str(error.value).startswith(f"cannot write {target} (No space left on device)")
        assert target.read_bytes() == b"earlier" and list(tmp_path.iterdir()) == [target]
        return
    target.write_bytes(b"earlier")
    code, _, err = run_cli(args)
    line = one_error_line(err)
    assert code == 1 and line.startswith(f"td3her: error: cannot write {target} (No space left")
    assert target.read_bytes() == b"earlier", "the earlier file stays"
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
