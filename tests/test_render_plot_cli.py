"""`td3her render` and `td3her plot` through the CLI: real GIF, real PNGs, clear errors."""

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest


@pytest.mark.slow
def test_render_writes_a_real_gif(tiny_run, tmp_path, run_cli):
    out = tmp_path / "reach.gif"
    args = [
        "render",
        str(tiny_run),
        "--episodes",
        "1",
        "--out",
        str(out),
        "--width",
        "96",
        "--height",
        "64",
    ]
    code, stdout, err = run_cli(args)
    assert code == 0, err
    frames = iio.imread(out, index=None)
    assert frames.shape[1:3] == (64, 96) and frames.shape[0] >= 2
    assert np.var(frames.astype(float)) > 10.0, "frames are not blank"
    assert "wrote" in stdout


def test_render_names_its_file_after_the_checkpoint_it_renders(
    tiny_run, tmp_path, run_cli, monkeypatch
):
    from td3her_cli.run.checkpoint import resolve_checkpoint

    monkeypatch.chdir(tmp_path)
    args = ["render", str(tiny_run), "--episodes", "1", "--width", "32", "--height", "32"]
    for extra, latest in (([], False), (["--latest"], True)):
        code, stdout, err = run_cli([*args, *extra])
        assert code == 0, err
        name = resolve_checkpoint(tiny_run, latest=latest).path.name
        assert (tmp_path / f"{tiny_run.name}-{name}.gif").is_file(), stdout


def test_render_names_its_file_after_the_run_without_out(tmp_path):
    from td3her_cli.cli.render import default_render_out

    run = tmp_path / "flip-s0"
    assert default_render_out(run, mp4=False) == Path("flip-s0.gif")
    assert default_render_out(run / "checkpoints" / "epoch_005", mp4=True) == Path(
        "flip-s0-epoch_005.mp4"
    )


def test_plot_writes_three_pngs(tiny_run, tmp_path, run_cli):
    out = tmp_path / "plots"
    args = [
        "plot",
        str(tiny_run),
        str(tiny_run),
        "--out",
        str(out),
        "--width",
        "400",
        "--height",
        "300",
    ]
    code, stdout, err = run_cli(args)
    assert code == 0, err
    for name in ("score.png", "actor.png", "critics.png"):
        assert iio.imread(out / name).shape[:2] == (300, 400)


def test_plot_names_a_file_in_the_way_as_a_file_it_writes(tiny_run, tmp_path, run_cli):
    out = tmp_path / "plots"
    (out / "score.png").mkdir(parents=True)
    code, _, err = run_cli(["plot", str(tiny_run), "--out", str(out)])
    assert code == 2
    assert err == (
        f"td3her: error: {out / 'score.png'} (a file plot writes) is a directory; plot writes "
        "only regular files: choose another --out\n"
    )


def test_plot_warns_on_a_truncated_last_line(tiny_run, tmp_path, run_cli):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"kind": "cycle", "epo')
    code, _, err = run_cli(["plot", str(run_dir)])
    assert code == 0 and "warning" in err and "skipped" in err
    assert (run_dir / "plots" / "score.png").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["render", "{missing}"], 1, "does not exist"),
        (["render", "{run}", "--fps", "0"], 2, "--fps"),
        (["render", "{run}", "--episodes", "101"], 2, "--episodes"),  # frames held in memory
        (["render", "{run}", "--out", "{blocker}/x.gif"], 2, "cannot write"),
        (["render", "{run}", "--out", "{blocker}/a/b/x.gif"], 2, "blocker is a file"),
        (["render", "{run}", "--out", "{fresh}/a/x.gif", "--env", "NoSuchEnv-v0"], 2, "NoSuch"),
        (["plot", "{empty}"], 1, "no metrics.jsonl"),
        (["plot", "{run}", "--x-axis", "time"], 2, "--x-axis must be epoch or env_steps"),
    ],
)
def test_render_and_plot_bad_input(args, code, message, tiny_run, tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    (tmp_path / "blocker").write_text("a file, not a directory")
    values = {
        "missing": tmp_path / "nope",
        "run": tiny_run,
        "empty": tmp_path / "empty",
        "blocker": tmp_path / "blocker",
        "fresh": tmp_path / "fresh",
    }
    args = [a.format(**values) for a in args]
    got, _, err = run_cli(args)
    assert got == code and message in err, err
    assert err.startswith("td3her: error:") and "Traceback" not in err
    assert not (tmp_path / "fresh").exists(), "a failed command leaves no folder behind"


def test_plot_summary_table_has_every_header(tiny_run, tmp_path, run_cli):
    code, out, _ = run_cli(["plot", str(tiny_run), "--out", str(tmp_path / "p")])
    assert code == 0
    for header in ("first epoch >= 95%", "env steps then", "seconds then", "run seconds"):
        assert header in out
