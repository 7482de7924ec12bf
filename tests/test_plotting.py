"""plotting: metrics.jsonl -> RunMetrics -> three PNGs of an exact size, and a summary table."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from td3her_cli.errors import Td3HerError
from td3her_cli.report.plotting import load_run, plot_runs, summary_rows
from td3her_cli.run.metrics import METRICS_FILE
from td3her_cli.run.rundir import PLOT_FILES

STEPS_PER_EPISODE = 50


def write_run(
    run_dir: Path,
    success_rates: list[float],
    cycles: int = 4,
    episodes_per_cycle: int = 2,
    extra_cycles: int = 0,
    config: bool = True,
) -> Path:
    """A run directory whose metrics.jsonl has the rows `training.train` writes.

    One epoch per entry of success_rates, each of `cycles` cycle rows and one epoch row;
    `extra_cycles` cycle rows of an unfinished epoch follow, as in a run still going.
    """
    run_dir.mkdir(parents=True)
    if config:
        (run_dir / "config.json").write_text(json.dumps({"cycles": cycles}))
    env_steps = episodes = opt_steps = 0
    lines = []
    for epoch in range(1, len(success_rates) + 2):
        last_epoch = epoch > len(success_rates)
        for cycle in range(1, (extra_cycles if last_epoch else cycles) + 1):
            episodes += episodes_per_cycle
            env_steps += episodes_per_cycle * STEPS_PER_EPISODE
            opt_steps += 5
            loss_scale = 1.0 / (epoch * cycles + cycle)
            cycle_row = {
                "kind": "cycle",
                "epoch": epoch,
                "cycle": cycle,
                "env_steps": env_steps,
                "episodes": episodes,
                "opt_steps": opt_steps,
                "wall_time": 0.1 * episodes,
                "train_success_rate": 0.5,
                "train_mean_return": -25.0,
                "actor_loss": 2.0 * loss_scale,
                "critic1_loss": loss_scale,
                "critic2_loss": 0.9 * loss_scale,
                "mean_q": -2.0 * loss_scale,
                "env_steps_per_s": 1000.0,
            }
            lines.append(json.dumps(cycle_row, sort_keys=True))
        if last_epoch:
            break
        epoch_row = {
            "kind": "epoch",
            "epoch": epoch,
            "env_steps": env_steps,
            "episodes": episodes,
            "opt_steps": opt_steps,
            "wall_time": 0.1 * episodes,
            "actor_loss": 0.5,
            "critic1_loss": 0.1,
            "critic2_loss": 0.1,
            "mean_q": -1.0,
            "success_rate": success_rates[epoch - 1],
            "mean_return": -50.0 * (1.0 - success_rates[epoch - 1]),
            "mean_length": 50.0,
            "eval_episodes": 10,
        }
        lines.append(json.dumps(epoch_row, sort_keys=True))
    (run_dir / METRICS_FILE).write_text("\n".join(lines) + "\n")
    return run_dir


def assert_pngs(paths: list[Path], width: int, height: int) -> None:
    assert [p.name for p in paths] == list(PLOT_FILES)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (width, height)
            image.load()  # decodes the whole file: fails on a broken PNG


def test_load_run_reads_epoch_and_cycle_rows(tmp_path):
    run = load_run(write_run(tmp_path / "seed0", [0.1, 0.5, 1.0], cycles=4, extra_cycles=2))
    assert run.name == "seed0"
    assert run.cycles_per_epoch == 4
    np.testing.assert_array_equal(run.epoch, [1, 2, 3])
    np.testing.assert_array_equal(run.epoch_env_steps, [400, 800, 1200])
    np.testing.assert_allclose(run.success_rate, [0.1, 0.5, 1.0])
    np.testing.assert_allclose(run.mean_return, [-45.0, -25.0, 0.0])
    assert run.cycle_x.shape == (14,)  # 3 epochs x 4 cycles + 2 of the unfinished 4th epoch
    np.testing.assert_allclose(run.cycle_x[:5], [0.25, 0.5, 0.75, 1.0, 1.25])
    np.testing.assert_allclose(run.cycle_x[-2:], [3.25, 3.5])
    np.testing.assert_array_equal(run.cycle_env_steps[:2], [100, 200])
    np.testing.assert_allclose(run.critic2_loss, 0.9 * run.critic1_loss)
    assert run.warnings == ()


def test_cycles_per_epoch_comes_from_config_during_the_first_epoch(tmp_path):
    with_config = load_run(write_run(tmp_path / "a", [], cycles=10, extra_cycles=3))
    assert with_config.cycles_per_epoch == 10
    np.testing.assert_allclose(with_config.cycle_x, [0.1, 0.2, 0.3])
    without = load_run(write_run(tmp_path / "b", [0.0], cycles=5, config=False))
    assert without.cycles_per_epoch == 5  # the largest cycle number seen


def test_one_run_writes_three_pngs_of_the_exact_size(tmp_path):
    run = load_run(write_run(tmp_path / "run", [0.0, 0.3, 0.8, 1.0], extra_cycles=1))
    assert_pngs(plot_runs([run], tmp_path / "plots", width_px=517, height_px=333), 517, 333)
    assert_pngs(plot_runs([run], tmp_path / "steps", x_axis="env_steps"), 960, 600)


def test_several_runs_plot_mean_and_band_truncated_to_the_shortest(tmp_path):
    runs = [
        load_run(write_run(tmp_path / "s0", [0.0, 0.5, 1.0])),
        load_run(write_run(tmp_path / "s1", [0.2, 0.6])),
        load_run(write_run(tmp_path / "s2", [0.1, 0.4, 0.9, 1.0], extra_cycles=2)),
    ]
    assert_pngs(plot_runs(runs, tmp_path / "plots", 640, 400), 640, 400)
    assert_pngs(plot_runs(runs, tmp_path / "steps", 640, 400, x_axis="env_steps"), 640, 400)


def test_a_truncated_last_line_warns_and_still_plots(tmp_path):
    run_dir = write_run(tmp_path / "run", [0.0, 0.5])
    with open(run_dir / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"kind": "cycle", "epoch": 3, "cyc')  # killed mid-write
    run = load_run(run_dir)
    assert len(run.warnings) == 1 and "not whole JSON" in run.warnings[0]
    assert run.epoch.size == 2
    assert_pngs(plot_runs([run], tmp_path / "plots", 400, 300), 400, 300)


def test_cycles_without_an_evaluation_still_plot(tmp_path):
    run = load_run(write_run(tmp_path / "run", [], cycles=50, extra_cycles=3))
    assert run.epoch.size == 0
    assert_pngs(plot_runs([run], tmp_path / "plots", 400, 300), 400, 300)
    assert summary_rows([run])[0]["final_success_rate"] is None


def test_missing_or_empty_metrics_raise_a_td3her_error(tmp_path):
    with pytest.raises(Td3HerError, match="no metrics.jsonl"):
        load_run(tmp_path)
    (tmp_path / METRICS_FILE).mkdir()
    with pytest.raises(Td3HerError, match=f"{tmp_path / METRICS_FILE} is not a file; pass a run"):
        load_run(tmp_path)
    (tmp_path / METRICS_FILE).rmdir()
    (tmp_path / METRICS_FILE).write_text('{"kind": "cyc\n')
    with pytest.raises(Td3HerError, match="no whole metrics rows"):
        load_run(tmp_path)


def test_bad_plot_arguments_raise_a_td3her_error(tmp_path):
    run = load_run(write_run(tmp_path / "run", [0.5]))
    with pytest.raises(Td3HerError, match="no runs"):
        plot_runs([], tmp_path / "plots")
    with pytest.raises(Td3HerError, match="x axis"):
        plot_runs([run], tmp_path / "plots", x_axis="episodes")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(Td3HerError, match="cannot create"):
        plot_runs([run], tmp_path / "a_file" / "plots")


def test_a_figure_that_fails_to_draw_leaves_no_folder(tmp_path, monkeypatch):
    run = load_run(write_run(tmp_path / "run", [0.5]))
    calls = []

    def draw_once_then_fail(figure, target, **kwargs):
        calls.append(target)
        if len(calls) > 1:
            raise RuntimeError("drawing failed")
        target.write(b"png")

    monkeypatch.setattr(Figure, "savefig", draw_once_then_fail)
    with pytest.raises(RuntimeError, match="drawing failed"):
        plot_runs([run], tmp_path / "new" / "plots")
    assert len(calls) == 2 and not (tmp_path / "new").exists()


def test_plot_warns_of_mixed_envs_and_plots_a_run_given_twice_once(tmp_path, run_cli):
    reach, push = write_run(tmp_path / "reach", [0.5]), write_run(tmp_path / "push", [0.2])
    for run_dir, env_id in ((reach, "PandaReach-v3"), (push, "PandaPush-v3")):
        (run_dir / "config.json").write_text(json.dumps({"cycles": 4, "env_id": env_id}))
    again = tmp_path / "push" / ".." / "reach"  # another path to the same run
    code, out, err = run_cli(["plot", str(reach), str(again), "--out", str(tmp_path / "p1")])
    assert code == 0 and f"{again} is {reach} again; it is plotted once" in err, err
    assert out.count("│ reach") == 1, out
    code, _, err = run_cli(["plot", str(reach), str(push), "--out", str(tmp_path / "p2")])
    assert code == 0 and "of 2 envs (PandaPush-v3, PandaReach-v3): their mean mixes" in err
    code, _, err = run_cli(["plot", str(reach), str(push), "--compare", "--out", str(tmp_path)])
    assert code == 0 and "mixes" not in err, err
    code, _, err = run_cli(["plot", str(reach), str(reach), "--out", str(tmp_path / "p3")])
    assert code == 0 and f"{reach} is given twice; it is plotted once" in err, err
    (tmp_path / "loop").symlink_to("loop")  # Path.resolve raises on it; realpath does not
    code, _, err = run_cli(["plot", str(tmp_path / "loop")])
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err


def test_summary_rows(tmp_path):
    solved = load_run(write_run(tmp_path / "solved", [0.2, 0.96, 0.9, 1.0], cycles=4))
    unsolved = load_run(write_run(tmp_path / "unsolved", [0.0, 0.94, 0.5], cycles=4))
    assert summary_rows([solved, unsolved]) == [
        {
            "name": "solved",
            "epochs": 4,
            "final_success_rate": 1.0,
            "best_success_rate": 1.0,
            "solved_epoch": 2,
            "solved_env_steps": 800,  # 2 epochs x 4 cycles x 2 episodes x 50 steps
            "solved_wall_time": pytest.approx(1.6),  # 0.1 s per episode, 16 episodes
            "solved_train_seconds": None,  # these rows predate train_seconds
            "wall_time": pytest.approx(3.2),
        },
        {
            "name": "unsolved",
            "epochs": 3,
            "final_success_rate": 0.5,
            "best_success_rate": 0.94,
            "solved_epoch": None,
            "solved_env_steps": None,
            "solved_wall_time": None,
            "solved_train_seconds": None,
            "wall_time": pytest.approx(2.4),
        },
    ]


def test_plotting_does_not_import_tensorflow():
    code = "import sys, td3her_cli.report.plotting; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_plots_a_real_training_run(tiny_run, tmp_path):
    run = load_run(tiny_run)  # TINY: 2 epochs of 2 cycles
    np.testing.assert_array_equal(run.epoch, [1, 2])
    np.testing.assert_allclose(run.cycle_x, [0.5, 1.0, 1.5, 2.0])
    assert np.all(np.diff(run.cycle_env_steps) > 0)
    assert np.all(np.isfinite(run.critic1_loss))
    assert_pngs(plot_runs([run], tmp_path / "plots", 480, 320), 480, 320)
    assert summary_rows([run])[0]["epochs"] == 2


def test_compare_draws_each_run_whole_in_its_own_color(tmp_path):
    from td3her_cli.report.plotting import _score_figure

    runs = [
        load_run(write_run(tmp_path / "on", [0.0, 0.5, 1.0])),
        load_run(write_run(tmp_path / "off", [0.2, 0.6])),
    ]
    assert_pngs(plot_runs(runs, tmp_path / "ab", 640, 400, compare=True), 640, 400)
    figure = _score_figure([[run] for run in runs], (640, 400), "epoch", "A/B")
    success_lines = figure.axes[0].lines
    assert [line.get_label() for line in success_lines] == ["on", "off"]
    assert [len(line.get_xdata()) for line in success_lines] == [3, 2], "not truncated"
    assert success_lines[0].get_color() != success_lines[1].get_color()
