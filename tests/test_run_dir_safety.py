"""Data loss: --force removes only td3her's files, one writer per run directory, and a run
that cannot start leaves no half-made directory behind."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from td3her_cli.errors import RunInUseError
from td3her_cli.run.rundir import LOCK_FILE, check_new_run_dir, run_lock

from .test_interruption import start_training

ONE_CYCLE = [
    "--epochs", "1", "--cycles", "1", "--episodes-per-cycle", "1", "--optimization-steps", "1",
    "--eval-episodes", "1", "--best-eval-episodes", "0", "--hidden", "8", "--batch-size", "8",
    "--no-xla", "--no-tensorboard",
]  # fmt: skip


def snapshot(directory: Path) -> dict:
    return {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_force_refuses_a_directory_that_is_not_a_td3her_run(tmp_path, run_cli):
    out = tmp_path / "mine"
    for name in ("checkpoints/model.pt", "tb/events.out.tfevents.1", "metrics.jsonl"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("the user's own data")
    before = snapshot(out)
    code, _, err = run_cli(["train", "--out", str(out), "--force", *ONE_CYCLE])
    assert code == 2, err
    assert "--force replaces only a td3her run" in err and "no td3her config.json" in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot(out) == before, "nothing of the user's is touched"


def test_force_replaces_a_run_but_keeps_the_users_files(tiny_run, tmp_path, run_cli):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    mine = [
        out / "notes.txt",
        out / "checkpoints" / "my-notes.txt",
        out / "checkpoints" / "epoch_summary.csv",  # named like td3her's, but not a checkpoint
        out / "checkpoints" / "epoch_002_backup" / "meta.json",
        out / "tb" / "mine.csv",
    ]
    for path in mine:
        path.parent.mkdir(exist_ok=True)
        path.write_text("keep me")
    code, _, err = run_cli(["train", "--out", str(out), "--force", *ONE_CYCLE])
    assert code == 0, err
    kept = sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir())
    assert kept == ["epoch_001", "epoch_002_backup"], "the old epoch_002 must not survive --force"
    assert all(path.read_text() == "keep me" for path in mine)
    assert not list((out / "tb").glob("events.out.tfevents.*")), "old curves are gone"


def test_a_held_run_directory_refuses_a_second_writer(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with run_lock(run_dir):
        with pytest.raises(RunInUseError, match=rf"in use by td3her train \(pid {os.getpid()} "):
            with run_lock(run_dir, "second"):
                pass
    with run_lock(run_dir):  # released at the end of the block
        pass


def test_a_sweep_trial_refuses_a_run_directory_in_use(tmp_path):
    from td3her_cli.config import TrainConfig
    from td3her_cli.sweep.trials import FAILED, Trial, run_trial

    trial = Trial("base", {}, 0, TrainConfig(), tmp_path / "t")
    trial.run_dir.mkdir()
    with run_lock(trial.run_dir):
        outcome = run_trial(trial)
    assert outcome.status == FAILED and "is in use by td3her train" in outcome.error


def test_a_killed_holder_never_blocks_the_run(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import time
                from td3her_cli.run.rundir import run_lock
                with run_lock({str(run_dir)!r}):
                    print("locked", flush=True)
                    time.sleep(60)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=f"pid {holder.pid} "):
            with run_lock(run_dir):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert (run_dir / LOCK_FILE).exists(), "the killed holder left its lock file behind"
    with run_lock(run_dir):  # ...which does not block: the kernel released the lock
        pass


def test_two_concurrent_trains_never_share_a_run_directory(tmp_path, run_cli):
    out = tmp_path / "run"
    first = start_training(out, 100)
    try:
        deadline = time.monotonic() + 60
        while not (out / "config.json").exists() or not (out / LOCK_FILE).read_text():
            assert first.poll() is None and time.monotonic() < deadline, "first train never locked"
            time.sleep(0.1)
        before = (out / "config.json").read_bytes()
        code, _, err = run_cli(["train", "--out", str(out), "--force", *ONE_CYCLE])
        assert code == 2 and f"is in use by td3her train (pid {first.pid} " in err, err
        code, _, err = run_cli(["train", "--resume", str(out)])
        assert code == 2 and "is in use by" in err and "--out" not in err, err  # resuming it
        assert (out / "config.json").read_bytes() == before
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_second_train_on_a_live_run_names_its_holder_not_force(force, tmp_path, run_cli):
    out = tmp_path / "run"
    out.mkdir()
    with run_lock(out):  # as a `td3her train` writing it holds it
        code, _, err = run_cli(["train", "--out", str(out), *force, *ONE_CYCLE])
    assert code == 2 and err.count("\n") == 1, err
    assert f"run directory {out} is in use by td3her train (pid {os.getpid()} " in err
    assert err.rstrip().endswith("wait for it to end or choose another --out"), err
    assert "not empty" not in err and "pass --force" not in err
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]


def test_a_run_directory_that_cannot_be_written_is_not_left_behind(tmp_path, run_cli, monkeypatch):
    real_write_text = Path.write_text

    def disk_full(self, *args, **kwargs):
        if self.name.startswith(".write-test"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full)
    out = tmp_path / "new" / "run"
    code, _, err = run_cli(["train", "--out", str(out), *ONE_CYCLE])
    assert code == 2 and f"cannot write to run directory {out}" in err
    assert "No space left on device" in err
    assert not (tmp_path / "new").exists(), "the folders it made are removed again"


@pytest.mark.parametrize(
    ("fault", "before"),
    [
        ("the probe", "nothing"),
        ("the probe", "an empty directory"),
        ("config.json", "an empty directory"),
        ("config.json", "a run, replaced with --force"),
    ],
)
def test_a_start_on_a_full_disk_leaves_nothing_that_blocks_its_retry(
    fault, before, tiny_run, tmp_path, run_cli, monkeypatch
):
    out = tmp_path / "run"
    if before == "an empty directory":
        out.mkdir()
    elif before != "nothing":
        shutil.copytree(tiny_run, out)
    kept = snapshot(out) if out.exists() else {}
    if fault == "the probe":  # a full disk makes the file, then refuses its bytes
        real_write_text = Path.write_text

        def disk_full(self, *args, **kwargs):
            if self.name.startswith(".write-test"):
                self.touch()
                raise OSError(errno.ENOSPC, "No space left on device", str(self))
            return real_write_text(self, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", disk_full)
    else:  # the probe fits; config.json does not

        def disk_full(descriptor):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", disk_full)
    force = ["--force"] if "--force" in before else []
    code, _, err = run_cli(["train", "--out", str(out), *force, *ONE_CYCLE])
    assert code == 2 and "No space left on device" in err and str(out) in err, err
    monkeypatch.undo()
    if before == "nothing":
        assert not out.exists()
    else:
        left = snapshot(out)
        left.pop(out / LOCK_FILE, None)  # the lock file of a replaced run stays, as it does
        assert left == kept, "as it was before the failed start"
    check_new_run_dir(out, force=bool(force))  # the same command would not be refused


def test_pruning_keeps_folders_td3her_did_not_write(tiny_run, tmp_path):
    from td3her_cli.run.checkpoint import _prune

    root = tmp_path / "run" / "checkpoints"
    shutil.copytree(tiny_run / "checkpoints", root)
    (root / "best.json").unlink()
    shutil.copytree(root / "epoch_001", root / "epoch_001_mybackup")
    (root / "epoch_photos").mkdir()
    _prune(root, keep=1)
    kept = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert kept == ["epoch_001_mybackup", "epoch_002", "epoch_photos"]


@pytest.mark.parametrize("fault", ["metrics.jsonl is a folder", "config.json is a link"])
def test_force_refuses_entries_td3her_cannot_have_written(fault, tiny_run, tmp_path, run_cli):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    if fault == "metrics.jsonl is a folder":
        (out / "metrics.jsonl").unlink()
        (out / "metrics.jsonl").mkdir()
        (out / "metrics.jsonl" / "keep.txt").write_text("mine")
    else:
        (tmp_path / "my-config.json").write_bytes((out / "config.json").read_bytes())
        (out / "config.json").unlink()
        (out / "config.json").symlink_to(tmp_path / "my-config.json")
    before = snapshot(out)
    code, _, err = run_cli(["train", "--out", str(out), "--force", *ONE_CYCLE])
    assert code == 2 and "so td3her did not write it" in err, err
    assert snapshot(out) == before and (out / "config.json").exists()


def test_plot_never_writes_through_a_link(tiny_run, tmp_path, run_cli):
    precious = tmp_path / "precious.png"
    precious.write_text("precious")
    out = tmp_path / "plots"
    out.mkdir()
    (out / "score.png").symlink_to(precious)
    code, _, err = run_cli(["plot", str(tiny_run), "--out", str(out)])
    assert code == 2 and "is a symbolic link" in err, err
    assert precious.read_text() == "precious"
