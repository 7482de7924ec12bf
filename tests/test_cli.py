"""The CLI turns every user mistake into one line on stderr and a non-zero exit, writing nothing."""

import subprocess
import sys

import pytest


def snapshot(directory):
    return {p: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be > 0"),
        (["--epochs", "ten"], "Invalid value for '--epochs'"),
        (["--actor-lr", "0"], "--actor-lr must be > 0"),
        (["--critic-lr", "-1"], "--critic-lr must be > 0"),
        (["--gamma", "1.5"], "--gamma must be in (0, 1]"),
        (["--gamma", "0"], "--gamma must be in (0, 1]"),
        (["--tau", "0"], "--tau must be in (0, 1]"),
        (["--tau", "2"], "--tau must be in (0, 1]"),
        (["--batch-size", "512", "--buffer-size", "100"], "is larger than --buffer-size"),
        (["--her-strategy", "past"], "--her-strategy must be one of"),
        (["--noise", "pink"], "--noise must be one of"),
        (["--hidden", "64,x"], "--hidden must be comma-separated integers"),
        (["--eval-episodes", "-3"], "--eval-episodes must be > 0"),
        (["--grasp-start", "1.5"], "--grasp-start must be in [0, 1]"),
        (
            ["--grasp-start", "0.5"],
            "--grasp-start needs a panda-gym task whose goal is its objects' positions",
        ),
        (["--no-such-option"], "No such option"),
        (["--env", "NoSuchEnv-v9"], "unknown env 'NoSuchEnv-v9'"),
        (["--env", "CartPole-v1"], "CartPole-v1 is not a goal-conditioned env"),
    ],
)
def test_bad_train_input_is_one_line_and_exit_2(args, message, run_cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", *args, "--out", str(out)])
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("td3her: error:")
    assert "Traceback" not in err
    assert not out.exists(), "a rejected run must not create its directory"


def test_existing_run_dir_is_refused_and_untouched(run_cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"kind": "epoch"}\n')
    before = snapshot(out)
    code, _, err = run_cli(["train", "--out", str(out)])
    assert code == 2 and "already exists and is not empty" in err and "--force" in err
    assert snapshot(out) == before


def test_unwritable_out_is_refused(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run_cli(["train", "--out", str(blocker / "run")])
    assert code == 2 and "cannot write to run directory" in err
    assert blocker.read_text() == "not a directory"


def test_debug_shows_the_traceback(run_cli, tmp_path):
    code, _, err = run_cli(["--debug", "train", "--gamma", "3"])
    assert code == 2 and "Traceback" in err and "--gamma must be in (0, 1]" in err


def test_help_lists_option_groups():
    result = subprocess.run(
        [sys.executable, "-m", "td3her_cli", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "120", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    for group in ("Environment", "Loop units", "TD3", "HER", "Exploration", "Output"):
        assert group in result.stdout
    assert "--episodes-per-cycle" in result.stdout and "(default: 16)" in result.stdout


def test_buffer_smaller_than_an_episode_is_a_usage_error(run_cli, tmp_path):
    code, _, err = run_cli(
        ["train", "--buffer-size", "10", "--batch-size", "8", "--out", str(tmp_path / "run")]
    )
    assert code == 2 and "cannot hold one PandaReach-v3 episode" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists(), "a run that failed while setting up leaves nothing"
