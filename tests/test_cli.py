"""The CLI turns every user mistake into one line on stderr and a non-zero exit, writing nothing."""

import signal
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
        (["--hidden", "64,x"], "--hidden must be integers like 256,256,256"),
        (["--buffer-size", "1.5e3x"], "--buffer-size must be a whole number like 1000000 or 1e6"),
        (["--buffer-size", "2.5"], "--buffer-size must be a whole number like 1000000 or 1e6"),
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


@pytest.mark.parametrize(
    ("command", "code", "wrong"),
    [
        (["train", "--resume"], 2, "no config.json there"),
        (["plot"], 1, "has no metrics.jsonl"),
        (["sweep-report"], 1, "has no sweep.json"),
    ],
)
def test_a_path_that_does_not_exist_is_said_to_not_exist(command, code, wrong, tmp_path, run_cli):
    missing = tmp_path / "no-such-run"
    got, out, err = run_cli([*command, str(missing)])
    assert got == code and out == "", err
    assert err.startswith("td3her: error: ") and err.count("\n") == 1, err
    assert f"{missing} does not exist; " in err and wrong not in err
    assert not missing.exists()


@pytest.mark.parametrize("what", ["a file", "a link to nothing"])
@pytest.mark.parametrize("command", ["train", "plot", "sweep-report"])
def test_out_that_is_a_file_or_a_dangling_link_is_named_as_such(what, command, tmp_path, run_cli):
    from tests.test_plotting import write_run

    out = tmp_path / "out"
    if what == "a file":
        out.write_text("mine")
    else:
        out.symlink_to(tmp_path / "gone")
    args = {
        "train": ["train", "--epochs", "1"],
        "plot": ["plot", str(write_run(tmp_path / "run", [0.5], cycles=2))],
        "sweep-report": ["sweep-report", str(tmp_path / "sweep")],
    }[command]
    code, _, err = run_cli([*args, "--out", str(out)])
    problem = (
        "is a file, not a folder"
        if what == "a file"
        else (f"is a symbolic link to {tmp_path / 'gone'}, which does not exist")
    )
    assert code == 2 and err == f"td3her: error: --out {out} {problem}; choose another --out\n"
    assert out.is_symlink() != (what == "a file") and not (tmp_path / "gone").exists()


def test_a_run_too_short_to_fill_one_batch_says_no_updates_ran(run_cli, tmp_path):
    from tests.conftest import tiny_cli_args

    out = tmp_path / "short"
    args = tiny_cli_args(epochs=1, cycles=1, episodes_per_cycle=1, batch_size=256)
    code, stdout, err = run_cli(["train", *args, "--best-eval-episodes", "0", "--out", str(out)])
    assert code == 0, err
    assert "no updates ran: the replay buffer never held --batch-size 256 transitions" in stdout
    code, stdout, err = run_cli(
        ["train", *args, "--optimization-steps", "0", "--out", str(tmp_path / "no-updates")]
    )
    assert code == 0, err
    assert "no updates ran" not in stdout, "0 updates asked for: no buffer to blame"


def test_a_ctrl_c_in_a_command_says_interrupted_and_exits_130(tmp_path, monkeypatch, run_cli):
    from td3her_cli.report import plotting

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plotting, "load_run", interrupted)  # Typer turns it into Exit(130)
    code, _, err = run_cli(["plot", str(tmp_path)])
    assert (code, err) == (130, "td3her: error: interrupted\n")


def test_a_ctrl_c_while_the_error_line_is_written_still_exits_130(monkeypatch):
    from td3her_cli.cli import app as cli
    from td3her_cli.errors import UsageError

    def app(**_):
        raise UsageError("bad input")

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(cli, "error_line", interrupted)
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        assert signal.getsignal(signal.SIGINT).__qualname__ == "exit_at_once.<locals>.handler"
    finally:
        signal.signal(signal.SIGINT, handler)
    assert exit_info.value.code == 130


def test_a_ctrl_c_once_the_exit_code_is_known_flushes_and_exits_with_it_at_once():
    script = (
        "import os, signal, time\n"
        "from td3her_cli.cli.app import exit_at_once\n"
        "signal.signal(signal.SIGINT, exit_at_once(3))\n"
        "print('the summary')\n"  # a pipe buffers it: only the handler's flush shows it
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(60)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "the summary\n", "")
