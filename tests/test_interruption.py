"""Real training subprocesses: SIGKILL inside a checkpoint write, SIGINT/SIGTERM between cycles."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from .conftest import tiny_cli_args

pytestmark = pytest.mark.slow

# All but --epochs, which each test sets (TINY runs without XLA).
TINY_ARGS = tiny_cli_args(epochs=1)[2:]


def start_training(out, epochs, extra_env=None, extra_args=(), new_session=False):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(extra_env or {})}
    command = [
        sys.executable,
        "-m",
        "td3her_cli",
        "train",
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        *TINY_ARGS,
        *extra_args,
    ]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def evaluate(run_cli, path):
    """`td3her evaluate PATH --episodes 2 --json` on what a killed or stopped run left; in this
    process, as no signal is involved (a new process would import TensorFlow again)."""
    code, out, err = run_cli(["evaluate", str(path), "--episodes", "2", "--json"])
    assert code == 0, err
    return json.loads(out)


def test_sigkill_while_writing_a_checkpoint_leaves_the_previous_one_whole(tmp_path, run_cli):
    out, marker = tmp_path / "run", tmp_path / "paused"
    process = start_training(out, 3, {"TD3HER_TEST_PAUSE_IN_CHECKPOINT": f"2:{marker}"})
    try:
        wait_for(lambda: marker.exists() or process.poll() is not None)
        assert marker.exists(), process.communicate()[1]
        staging = marker.read_text()
        assert os.path.isdir(staging), "the kill lands while the new checkpoint is half written"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    root = out / "checkpoints"
    assert json.loads((root / "latest.json").read_text())["checkpoint"] == "epoch_001"
    assert not (root / "epoch_002").exists()
    assert evaluate(run_cli, out)["episodes"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert rows and rows[-1]["epoch"] == 2  # metrics of the epoch being saved are whole rows

    # and the run resumes from epoch 1, dropping rows written after that checkpoint
    code, stdout, err = run_cli(["train", "--resume", str(out), "--epochs", "2"])
    assert code == 0, err
    assert "with its replay buffer" in stdout
    rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert [(r["kind"], r["epoch"]) for r in rows] == [("cycle", 1)] * 2 + [("epoch", 1)] + [
        ("cycle", 2)
    ] * 2 + [("epoch", 2)]
    assert not list(root.glob(".tmp-*"))


# SIGINT once: test_a_signal_to_the_process_group_with_worker_envs; twice: the last test.
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143)])
def test_signal_stops_at_a_safe_point_with_a_resumable_checkpoint(tmp_path, run_cli, signum, code):
    out = tmp_path / "run"
    process = start_training(out, 50, extra_args=["--cycles", "50"])
    metrics = out / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 3)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and "stopping after this cycle" in stderr
    assert f"td3her train --resume {out}" in stderr, "the stop message goes to stderr"
    latest = json.loads((out / "checkpoints" / "latest.json").read_text())["checkpoint"]
    assert "-cycle_" in latest, "stopped mid-epoch: a checkpoint of the last whole cycle"
    meta = json.loads((out / "checkpoints" / latest / "meta.json").read_text())
    rows = [json.loads(line) for line in metrics.open()]
    assert meta["metrics_rows"] == len(rows) and rows[-1]["cycle"] == meta["cycle"]
    assert evaluate(run_cli, out / "checkpoints" / latest)["episodes"] == 2


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_process_group_with_worker_envs(tmp_path, run_cli, signum, code):
    """A terminal's Ctrl-C, or a SIGTERM to the whole group (a batch system), reaches the
    workers too; they must not die before the checkpoint."""
    out = tmp_path / "run"
    process = start_training(
        out, 50, extra_args=["--cycles", "50", "--num-envs", "2"], new_session=True
    )
    metrics = out / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 3)
    os.killpg(process.pid, signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and "resume with" in stderr
    latest = json.loads((out / "checkpoints" / "latest.json").read_text())["checkpoint"]
    assert evaluate(run_cli, out / "checkpoints" / latest)["episodes"] == 2


def test_a_second_ctrl_c_stops_at_once_and_says_so(tmp_path):
    out = tmp_path / "run"
    latest, slow = out / "checkpoints" / "latest.json", tmp_path / "slow-steps-started"
    # Once epoch 1 is saved (latest.json exists), every env step takes 50 ms (a cycle of 40
    # episodes of 20 steps: 40 s). The first signal goes once the first slow step was taken,
    # so both land in epoch 2's first cycle on any machine, however loaded: a signal between
    # the epoch's save and its first step could stop the run before the second one came.
    process = start_training(
        out,
        50,
        extra_env={"SLOW_GOAL_ENV_MARKER": str(latest), "SLOW_GOAL_ENV_STARTED": str(slow)},
        extra_args=[
            "--env-module",
            "tests.slow_goal_env",
            "--env",
            "SlowPointGoal-v0",
            "--episodes-per-cycle",
            "40",
        ],
    )
    wait_for(lambda: slow.exists() or process.poll() is not None)  # in epoch 2's collection
    lines = []  # stderr's lines as they come

    def read_stderr():
        for line in process.stderr:
            lines.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    process.send_signal(signal.SIGINT)
    # The second Ctrl-C once the first is taken: two signals that reach Python during one
    # long native call arrive as one, which a busy machine makes likely after a fixed delay.
    wait_for(lambda: any("signal 2: stopping" in line for line in lines) or process.poll())
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    reader.join(timeout=10)
    stderr = "".join(lines)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted again: stopped at once without saving the cycle under way" in stderr
    assert f"td3her train --resume {out}" in stderr
    checkpoint = json.loads(latest.read_text())["checkpoint"]
    assert (out / "checkpoints" / checkpoint / "meta.json").exists(), "latest is whole"
    assert not list((out / "checkpoints").glob(".tmp-*")), "no half-written checkpoint stays"
