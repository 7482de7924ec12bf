"""`td3her render --out` and path errors: refused up front, one line, before TensorFlow.

No checkpoint is trained here: every output and path check runs before a checkpoint is read,
so a missing checkpoint path shows the order (an --out error wins), and the one test that needs
a policy in an env swaps `cli.policy_in_env` for a point env whose renderer fails.
"""

import contextlib
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from td3her_cli.cli import render as cli
from td3her_cli.envs.render_child import make_render_env
from td3her_cli.errors import EnvError, UsageError
from td3her_cli.report.gif import write_animation

REPO = Path(__file__).resolve().parents[1]


def one_error_line(err: str) -> str:
    """The single stderr line of a failed command (asserts there is exactly one)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("td3her: error:"), err
    assert "Traceback" not in err
    return lines[0]


def make_special(kind: str, tmp_path: Path) -> Path:
    """A path at which `render` must not write: a symlink, a FIFO, a directory or a device."""
    if kind == "device":
        return Path(os.devnull)
    path = tmp_path / "out.gif"
    if kind == "symlink":
        (tmp_path / "target.gif").write_text("keep me")
        path.symlink_to("target.gif")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "described"),
    [
        ("symlink", "a symbolic link (to target.gif)"),
        ("fifo", "a named pipe (FIFO)"),
        ("directory", "a directory"),
        ("device", "a character device"),
    ],
)
def test_out_that_is_not_a_regular_file_is_refused(kind, described, tmp_path, run_cli):
    out = make_special(kind, tmp_path)
    # The checkpoint path is missing too: the --out error must come first, before any reading.
    code, _, err = run_cli(["render", str(tmp_path / "missing"), "--out", str(out)])
    assert code == 2
    assert f"--out {out} is {described}" in one_error_line(err)
    if kind == "symlink":
        assert out.is_symlink() and (tmp_path / "target.gif").read_text() == "keep me"
    if kind == "device":
        assert out.is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    ("out", "flags", "fix"),
    [
        ("x.mp4", [], "add --mp4, or write {dir}/x.gif"),
        ("x.png", [], "e.g. --out {dir}/x.gif"),
        ("x", [], "e.g. --out {dir}/x.gif"),
        ("x.gif", ["--mp4"], "drop --mp4, or write {dir}/x.mp4"),
    ],
)
def test_out_with_the_wrong_extension_names_the_fix(out, flags, fix, tmp_path, run_cli):
    args = ["render", str(tmp_path / "missing"), "--out", str(tmp_path / out), *flags]
    code, _, err = run_cli(args)
    assert code == 2
    assert fix.format(dir=tmp_path) in one_error_line(err)


def test_a_default_output_in_the_way_is_named_as_the_default_not_as_out(
    tiny_run, tmp_path, run_cli, monkeypatch
):
    from td3her_cli.run.checkpoint import resolve_checkpoint

    monkeypatch.chdir(tmp_path)
    best = resolve_checkpoint(tiny_run).path.name
    name = f"{tiny_run.name}-{best}.gif"  # render's file name for the run's best checkpoint
    (tmp_path / name).mkdir()
    code, _, err = run_cli(["render", str(tiny_run), "--episodes", "1"])
    assert code == 2
    assert one_error_line(err) == (
        f"td3her: error: {name} (render's default output file) is a directory; render "
        "writes only regular files: choose another --out"
    )


def test_a_new_or_regular_gif_is_accepted(tmp_path):
    (tmp_path / "old.GIF").write_bytes(b"GIF89a")
    cli.check_render_out(tmp_path / "old.GIF", mp4=False)  # upper case, existing regular file
    cli.check_render_out(tmp_path / "new" / "x.gif", mp4=False)
    with pytest.raises(UsageError, match="does not end in .gif"):
        cli.check_render_out(tmp_path / "x.jpeg", mp4=False)


@pytest.mark.skipif(
    importlib.util.find_spec("imageio_ffmpeg") is not None, reason="imageio-ffmpeg is installed"
)
def test_mp4_writer_is_checked_before_the_checkpoint(tmp_path, run_cli):
    args = ["render", str(tmp_path / "missing"), "--mp4", "--out", str(tmp_path / "x.mp4")]
    code, _, err = run_cli(args)
    assert code == 1 and "pip install imageio-ffmpeg" in one_error_line(err)


def test_write_animation_never_replaces_a_symlink(tmp_path):
    (tmp_path / "target.gif").write_text("keep me")
    (tmp_path / "out.gif").symlink_to("target.gif")
    frames = [np.full((8, 8, 3), value, np.uint8) for value in (0, 255)]
    with pytest.raises(UsageError, match="symbolic link"):
        write_animation(frames, tmp_path / "out.gif", fps=25)
    assert (tmp_path / "out.gif").is_symlink()
    assert (tmp_path / "target.gif").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "target.gif"]  # no temp


# Each case runs cli.main() in one fresh interpreter and records (exit code, seconds,
# whether TensorFlow got imported); TensorFlow alone takes seconds to import.
PROBE = """
import json, sys, time
from td3her_cli.cli import app as cli
results = []
for args in json.loads(sys.argv[1]):
    sys.argv = ["td3her", *args]
    start = time.perf_counter()
    try:
        cli.main()
    except SystemExit as exc:
        results.append([exc.code, time.perf_counter() - start, "tensorflow" in sys.modules])
print(json.dumps(results))
"""


def test_path_errors_are_reported_before_tensorflow_is_imported(tmp_path):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "not_a_run").mkdir()
    out = ["--out", str(tmp_path / "x.gif")]
    cases = [
        (["evaluate", str(tmp_path / "missing")], "does not exist"),
        (["evaluate", str(tmp_path / "a_file")], "is not a directory"),
        (["evaluate", str(tmp_path / "not_a_run"), "--latest"], "is not a checkpoint"),
        (["render", str(tmp_path / "missing"), *out], "does not exist"),
        (["render", str(tmp_path / "not_a_run"), *out], "is not a checkpoint"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([args for args, _ in cases])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    results = json.loads(completed.stdout)
    lines = completed.stderr.strip().splitlines()
    assert len(results) == len(lines) == len(cases), completed.stderr
    for (args, message), (code, seconds, tensorflow), line in zip(cases, results, lines):
        assert code == 1 and message in line and line.startswith("td3her: error:"), args
        assert not tensorflow, f"{args} imported TensorFlow before reporting the path"
        assert seconds < 3.0, f"{args} took {seconds:.2f}s"  # generous: CI machines are loaded


@pytest.mark.parametrize(
    ("env_id", "code", "message"),
    [
        (
            "PointGoalNoRender-v0",
            1,
            "failed to render a frame (RuntimeError: EGL: cannot open display (no GPU",
        ),
        ("PointGoalNoFrame-v0", 2, "returned no frame from render()"),
    ],
)
def test_a_render_failure_is_one_line_naming_the_env(
    env_id, code, message, small_spec, tmp_path, run_cli, monkeypatch
):
    """Through the real child process that renders (tests.crashing_goal_env's broken envs)."""
    spec = dataclasses.replace(small_spec, env_id=env_id, obs_dim=2, max_episode_steps=20)
    info = SimpleNamespace(meta={"config": {"env_modules": ["tests.crashing_goal_env"]}})

    @contextlib.contextmanager
    def fake_policy_in_env(*_args):
        policy = lambda observation, goal: np.zeros((1, 2), np.float32)  # noqa: E731
        yield info, None, spec, policy

    monkeypatch.setattr(cli, "policy_in_env", fake_policy_in_env)
    out = tmp_path / "x.gif"
    got, _, err = run_cli(["render", str(tmp_path), "--out", str(out)])
    line = one_error_line(err)
    assert got == code and env_id in line and message in line, line
    assert not out.exists()


def test_a_missing_rendering_backend_at_make_time_is_an_env_error(monkeypatch):
    def no_backend(env_id, **_kwargs):
        raise OSError("libEGL.so.1: cannot open shared object file")

    monkeypatch.setattr("td3her_cli.envs.render_child.make_env", no_backend)
    with pytest.raises(EnvError, match=r"PandaReach-v3 cannot be made .*libEGL\.so\.1"):
        make_render_env("PandaReach-v3", 96, 64)
