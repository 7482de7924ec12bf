"""`td3her sweep` and `td3her sweep-report`: grid parsing, the plan, the intervals (rliable),
the held-out evaluation, the report, and real sweeps on a local Ray with 2 CPUs (tiny budgets
on the PointGoal test env)."""

import json
import socket
import sys
import time

import numpy as np
import pytest
from matplotlib.figure import Figure

from td3her_cli.config import TrainConfig
from td3her_cli.errors import UsageError
from td3her_cli.sweep.report import SEED, build_report, final_intervals, mean_interval
from td3her_cli.sweep.trials import (
    DONE,
    FAILED,
    HELD_OUT_FILE,
    INSTALL_HINT,
    SKIPPED,
    held_out_record,
    parse_grid,
    parse_overrides,
    plan_sweep,
    prepare_sweep_dir,
    run_sweep,
    run_trial,
    sweep_identity,
)
from tests.crashing_goal_env import MESSAGE

ENV_MODULES = ("tests.point_goal_env", "tests.crashing_goal_env")
TINY = dict(
    env_id="PointGoal-v0",
    env_modules=ENV_MODULES,
    epochs=1,
    cycles=2,
    episodes_per_cycle=1,
    optimization_steps=2,
    eval_episodes=1,
    hidden=(8,),
    batch_size=8,
    buffer_size=1000,
    random_steps=10,
    xla=False,  # no XLA compile: seconds per trial
)
TINY_SET = [
    "--set",
    "epochs=1",
    "--set",
    "cycles=2",
    "--set",
    "episodes-per-cycle=1",
    "--set",
    "optimization-steps=2",
    "--set",
    "eval-episodes=1",
    "--set",
    "hidden=8",
    "--set",
    "batch-size=8",
    "--set",
    "buffer-size=1000",
    "--set",
    "random-steps=10",
    "--set",
    "xla=false",
]


# ------------------------------------------------------------------------------ grid and plan
def test_grid_values_take_the_field_types_and_name_the_settings(tmp_path):
    base = TrainConfig()
    grid = parse_grid(
        ["critic-lr=5e-4,1e-3", "tau=0.001,0.05", "hidden=64x64,256", "xla=off,on"], base
    )
    assert [(axis.field, axis.values) for axis in grid] == [
        ("critic_lr", (0.0005, 0.001)),
        ("tau", (0.001, 0.05)),
        ("hidden", ((64, 64), (256,))),
        ("xla", (False, True)),
    ]
    assert parse_overrides(["buffer-size=1e5", "her_strategy=final"], base) == {
        "buffer_size": 100_000,
        "her_strategy": "final",
    }
    plan = plan_sweep(base, grid[:2], 2, tmp_path / "sweep")
    assert len(plan.trials) == 8 and len(plan.settings) == 4
    first = plan.trials[0]
    assert first.name == "critic_lr=0.0005,tau=0.001/seed0"
    assert first.run_dir == tmp_path / "sweep" / "critic_lr=0.0005,tau=0.001" / "seed0"
    assert (first.config.critic_lr, first.config.tau, first.config.seed) == (0.0005, 0.001, 0)
    # Seed-major: seed 0 of every setting comes before any seed 1.
    assert [t.seed for t in plan.trials] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert plan_sweep(base, (), 1, tmp_path).trials[0].name == "base/seed0"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("critic-lr=0,1e-3", "--grid critic-lr=0,1e-3: --critic-lr must be > 0, got 0.0"),
        ("tau=0.5,2", "--tau must be in (0, 1], got 2.0"),
        ("criticlr=1e-3", "unknown hyperparameter 'criticlr'; did you mean critic-lr?"),
        ("seed=1,2", "cannot set seed: use --seeds"),
        ("tau", "must look like NAME=VALUE[,VALUE...]"),
        ("tau=", "must look like NAME=VALUE[,VALUE...]"),
        ("tau=0.1,0.1", "value 0.1 is listed twice"),
        ("batch-size=1.5", "'1.5' is not an integer"),
        ("gamma=high", "'high' is not a number"),
        ("normalize=maybe", "'maybe' is not true or false"),
        ("noise=pink", "--noise must be one of ou, gaussian"),
    ],
)
def test_a_bad_grid_is_one_clear_usage_error(spec, message):
    with pytest.raises(UsageError) as error:
        parse_grid([spec], TrainConfig())
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_combination_that_is_invalid_as_a_whole_names_its_setting(tmp_path):
    base = TrainConfig(buffer_size=1000)
    grid = parse_grid(["batch-size=64,2000"], base.replace(buffer_size=10_000))
    with pytest.raises(UsageError, match="setting batch_size=2000: --batch-size"):
        plan_sweep(base, grid, 1, tmp_path)


def test_a_sweep_dir_refuses_another_sweep_but_takes_more_seeds_and_epochs(tmp_path):
    base = TrainConfig(**TINY)
    grid = parse_grid(["tau=0.05,0.1"], base)
    prepare_sweep_dir(plan_sweep(base, grid, 2, tmp_path / "s"))
    prepare_sweep_dir(plan_sweep(base.replace(epochs=3), grid, 5, tmp_path / "s"))
    with pytest.raises(UsageError, match=r"holds a different sweep \(gamma: 0.99 then, 0.9 now\)"):
        prepare_sweep_dir(plan_sweep(base.replace(gamma=0.9), grid, 2, tmp_path / "s"))
    other_grid = parse_grid(["tau=0.05,0.2"], base)
    with pytest.raises(UsageError, match="its --grid differs"):
        prepare_sweep_dir(plan_sweep(base, other_grid, 2, tmp_path / "s"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not a td3her sweep"):
        prepare_sweep_dir(plan_sweep(base, grid, 2, tmp_path / "other"))


def test_sweep_without_ray_says_how_to_install_it(run_cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, _, err = run_cli(["sweep", "--seeds", "2", "--out", str(tmp_path / "s")])
    assert code == 2
    assert err == f"td3her: error: {INSTALL_HINT}\n"
    assert not (tmp_path / "s").exists()


def test_bad_sweep_options_are_one_line_and_write_nothing(run_cli, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "s"
    for args, message in [
        (["--grid", "tau=0,0.1"], "--tau must be in (0, 1]"),
        (["--set", "epochs=2", "--grid", "epochs=1,2"], "given to both --set and --grid"),
        (["--env", "CartPole-v1"], "CartPole-v1 is not a goal-conditioned env"),
        (["--grid", "grasp_start=0,0.5"], "--grasp-start needs a panda-gym task whose goal is its"),
    ]:
        code, _, err = run_cli(["sweep", *args, "--out", str(out)])
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def free_port() -> int:
    """A local TCP port nothing listens at (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_ray_address_fails_in_seconds_naming_it(run_cli, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")

    def would_hang(*args, **kwargs):  # ray.init retries such an address for minutes
        raise AssertionError("ray.init was called")

    monkeypatch.setattr(ray, "init", would_hang)
    address = f"127.0.0.1:{free_port()}"
    out = tmp_path / "s"
    for given in (address, f"ray://{address}"):
        start = time.monotonic()
        code, _, err = run_cli(
            ["sweep", "--address", given, "--set", "epochs=1", "--out", str(out)]
        )
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"td3her: error: cannot reach a Ray cluster at --address {given} (")
        assert "drop --address to run the sweep on this machine" in err
        assert time.monotonic() - start < 30
    assert not out.exists()


# ------------------------------------------------------------------------------ statistics
def test_mean_interval_is_rliables_seeded_stratified_bootstrap_and_handles_missing_seeds():
    from rliable import library

    values = np.array([[0.0, 1.0, 0.5], [1.0, 1.0, np.nan], [0.5, 1.0, np.nan]])  # [3 seeds, 3]
    interval = mean_interval(values)
    np.testing.assert_allclose(interval.mean, [0.5, 1.0, 0.5])
    assert list(interval.count) == [3, 3, 1]
    assert 0.0 <= interval.low[0] < 0.5 < interval.high[0] <= 1.0
    assert interval.low[1] == interval.high[1] == 1.0  # no spread, no interval
    assert interval.low[2] == interval.high[2] == 0.5  # one seed: its value
    # rliable's own answer for the columns every seed has, its global generator seeded so.
    np.random.seed(SEED)
    _, expected = library.get_interval_estimates(
        {"m": values[:, :2]}, lambda x: np.mean(x, axis=0), reps=2000
    )
    np.testing.assert_array_equal([interval.low[:2], interval.high[:2]], expected["m"])
    # Deterministic with the same seed, whatever NumPy's global generator was at; and that
    # generator is left as the caller had it.
    np.random.seed(123)
    wide = np.random.default_rng(1).random((5, 40))
    first = mean_interval(wide)
    after = np.random.random()
    np.random.seed(123)
    assert np.random.random() == after, "the caller's global generator is put back"
    again = mean_interval(wide)
    np.testing.assert_array_equal([first.low, first.high], [again.low, again.high])
    other = mean_interval(wide, seed=SEED + 1)
    assert not np.array_equal(first.low, other.low), "another seed, other resamples"
    assert np.all(first.low <= first.mean) and np.all(first.mean <= first.high)
    assert np.all(first.low < first.high)
    assert np.isnan(mean_interval(np.full((2, 1), np.nan)).mean[0])
    assert mean_interval(np.empty((2, 0))).mean.size == 0


@pytest.mark.parametrize("value, number", [(3, 3.0), (0.5, 0.5), (10**400, None), (True, None)])
def test_a_metrics_value_reads_as_a_float_or_none(value, number):
    from td3her_cli.sweep.report import _number_or_none

    assert _number_or_none(value) == number


def test_final_intervals_give_mean_and_iqm_with_reproducible_intervals():
    finals = np.array([0.9, 0.8, 1.0, 0.3, 0.95, np.nan])  # a NaN seed is left out
    mean, iqm = final_intervals(finals)
    assert mean.count[0] == iqm.count[0] == 5
    assert mean.mean[0] == pytest.approx(np.mean([0.9, 0.8, 1.0, 0.3, 0.95]))
    assert iqm.mean[0] == pytest.approx(np.mean([0.8, 0.9, 0.95]))  # the middle half
    for each in (mean, iqm):
        assert each.low[0] <= each.mean[0] <= each.high[0] and each.low[0] < each.high[0]
    assert iqm.mean[0] > mean.mean[0], "the IQM is not dragged down by the one bad seed"
    again_mean, again_iqm = final_intervals(finals)
    assert (again_mean.low[0], again_iqm.high[0]) == (mean.low[0], iqm.high[0])
    one_mean, one_iqm = final_intervals(np.array([0.7]))  # one seed: its score, no spread
    for each in (one_mean, one_iqm):
        assert each.mean[0] == each.low[0] == each.high[0] == pytest.approx(0.7)
    nothing, _ = final_intervals(np.array([np.nan]))
    assert nothing.count[0] == 0 and np.isnan(nothing.mean[0]) and np.isnan(nothing.low[0])


# ------------------------------------------------------------------------------ report (no Ray)
def _write_fake_trial(run_dir, config, successes, held_out="last", solved=False):
    """A run directory as `sweep` leaves it: config.json, metrics.jsonl, a checkpoint pointer,
    and held_out.json with success `held_out` ("last": the last epoch's; None: no file)."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(config.to_json())
    rows = []
    for epoch, success in enumerate(successes, start=1):
        for cycle in (1, 2):
            loss = 1.0 / (epoch * cycle)
            rows.append(
                {"kind": "cycle", "epoch": epoch, "cycle": cycle, "env_steps": 10 * epoch,
                 "actor_loss": -loss, "critic1_loss": loss, "critic2_loss": loss}
            )  # fmt: skip
        rows.append(
            {"kind": "epoch", "epoch": epoch, "success_rate": success, "mean_return": -10 + success,
             "env_steps": 20 * epoch, "wall_time": float(epoch), "train_seconds": float(epoch)}
        )  # fmt: skip
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    last = len(successes)
    checkpoint = run_dir / "checkpoints" / f"epoch_{last:03d}"
    checkpoint.mkdir(parents=True)
    spaces = {"obs_dim": 2, "goal_dim": 2, "action_dim": 2, "action_low": [-1, -1],
              "action_high": [1, 1]}  # fmt: skip
    meta = {"format_version": 1, "env_id": config.env_id, "spaces": spaces, "config": {},
            "files": {}, "epoch": last, "cycle": 0, "solved": solved}  # fmt: skip
    (checkpoint / "meta.json").write_text(json.dumps(meta))
    (run_dir / "checkpoints" / "latest.json").write_text(
        json.dumps({"checkpoint": checkpoint.name})
    )
    if held_out is not None:
        success = successes[-1] if held_out == "last" else held_out
        record = {"checkpoint": checkpoint.name, "env_id": config.env_id, "seed": 1000,
                  "success_rate": success, "mean_return": -10 + success, "mean_length": 20.0,
                  "episodes": 100, "ci95": [0.0, 1.0]}  # fmt: skip
        (run_dir / HELD_OUT_FILE).write_text(json.dumps(record))


def test_report_tables_best_setting_and_one_figure_per_metric(tmp_path, run_cli):
    base = TrainConfig(**{**TINY, "epochs": 3})
    plan = plan_sweep(base, parse_grid(["tau=0.05,0.1"], base), 3, tmp_path / "s")
    prepare_sweep_dir(plan)
    curves = {
        "tau=0.05/seed0": [0.0, 0.5, 1.0],
        "tau=0.05/seed1": [0.2, 0.6, 0.9],
        "tau=0.05/seed2": [0.0, 0.4],  # interrupted in epoch 3
        "tau=0.1/seed0": [0.1, 0.2, 0.3],
        "tau=0.1/seed1": [0.0, 0.1, 0.4],
    }  # tau=0.1/seed2 crashed before its first checkpoint
    for trial in plan.trials:
        if trial.name in curves:
            _write_fake_trial(trial.run_dir, trial.config, curves[trial.name])
    crashed = tmp_path / "s" / "tau=0.1" / "seed2"
    crashed.mkdir(parents=True)
    (crashed / "error.txt").write_text("Traceback ...\nRuntimeError: boom\n")

    report = build_report(tmp_path / "s", width_px=400, height_px=300)
    assert report.best == "tau=0.05"
    first, second = report.settings
    assert [t.state for t in first.trials] == ["finished", "finished", "incomplete"]
    assert [t.state for t in second.trials] == ["finished", "finished", "failed"]
    assert second.trials[2].error == "RuntimeError: boom"
    success = first.curves["success_rate"].interval
    np.testing.assert_allclose(success.mean, [0.2 / 3, 1.5 / 3, 0.95])
    assert list(success.count) == [3, 3, 2]
    assert first.final_success.mean[0] == pytest.approx(0.95)  # finished trials only
    names = sorted(path.name for path in report.plots)
    assert names == ["actor_loss.png", "critic_loss.png", "mean_return.png", "success_rate.png"]
    saved = json.loads(report.report_file.read_text())
    assert saved["best"] == "tau=0.05" and saved["settings"][1]["trials"][2]["state"] == "failed"

    code, out, err = run_cli(["sweep-report", str(tmp_path / "s"), "--out", str(tmp_path / "r")])
    assert code == 0, err
    assert "best setting: tau=0.05" in out and "95% interval" in out
    assert (tmp_path / "r" / "success_rate.png").is_file()


def test_a_report_figure_that_fails_to_draw_leaves_no_folder(tmp_path, monkeypatch):
    base = TrainConfig(**{**TINY, "epochs": 2})
    plan = plan_sweep(base, (), 1, tmp_path / "s")
    prepare_sweep_dir(plan)
    _write_fake_trial(plan.trials[0].run_dir, plan.trials[0].config, [0.0, 0.5])

    def fail(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(Figure, "savefig", fail)
    with pytest.raises(RuntimeError, match="drawing failed"):
        build_report(tmp_path / "s", out_dir=tmp_path / "new" / "report")
    assert not (tmp_path / "new").exists()


def test_final_success_is_the_last_checkpoint_on_held_out_episodes_never_the_gate(
    tmp_path, run_cli
):
    base = TrainConfig(**{**TINY, "epochs": 3})
    plan = plan_sweep(base, (), 3, tmp_path / "s")
    prepare_sweep_dir(plan)
    first, second, old = plan.trials
    # Stopped itself at epoch 2 on an epoch evaluation of 100 %; 80 % on held-out episodes.
    _write_fake_trial(first.run_dir, first.config, [0.2, 1.0], held_out=0.8, solved=True)
    _write_fake_trial(second.run_dir, second.config, [0.5, 0.9, 1.0], held_out=0.7)
    _write_fake_trial(old.run_dir, old.config, [0.5, 0.9, 0.95], held_out=None)  # from before

    report = build_report(plan.sweep_dir, width_px=400, height_px=300)
    (setting,) = report.settings
    assert [t.state for t in setting.trials] == ["finished"] * 3
    assert setting.final_success.mean[0] == pytest.approx(0.75)  # not 1.0, not 0.95
    assert setting.final_success.count[0] == 2 and setting.without_held_out == ["base/seed2"]
    assert setting.final_iqm.mean[0] == pytest.approx(0.75)
    assert setting.final_return == pytest.approx(-10 + 0.75)
    saved = json.loads(report.report_file.read_text())
    assert "rliable" in saved["method"] and saved["seed"] == SEED
    trials = saved["settings"][0]["trials"]
    assert trials[0]["held_out"]["success_rate"] == 0.8 and trials[2]["held_out"] is None
    final = saved["settings"][0]["final_success"]
    assert final["seeds"] == 2 and final["iqm_low"] <= final["iqm"] <= final["iqm_high"]
    assert saved["settings"][0]["without_held_out"] == ["base/seed2"]

    code, out, err = run_cli(["sweep-report", str(plan.sweep_dir), "--out", str(tmp_path / "r")])
    assert code == 0
    assert err == (
        "td3her: warning: 1 finished trial(s) have no held-out evaluation (base/seed2), so "
        "their final success is not reported; re-run the sweep's `td3her sweep` command to "
        "evaluate them\n"
    )
    assert "base (best): 3 finished (1 with no held-out evaluation)" in out
    assert "best setting: base (final success on held-out episodes 75%" in out

    # A held_out.json of an earlier checkpoint is not this one's; no held-out result: no best.
    record = json.loads((second.run_dir / HELD_OUT_FILE).read_text())
    (second.run_dir / HELD_OUT_FILE).write_text(json.dumps({**record, "checkpoint": "epoch_002"}))
    assert held_out_record(second.run_dir) is None
    (first.run_dir / HELD_OUT_FILE).unlink()
    assert build_report(plan.sweep_dir, width_px=400, height_px=300).best is None
    code, out, _ = run_cli(["sweep-report", str(plan.sweep_dir), "--out", str(tmp_path / "r")])
    assert "best setting: none yet (no finished trial with a held-out evaluation)" in out


def test_a_trial_evaluates_its_last_checkpoint_on_the_episodes_evaluate_runs(tmp_path, run_cli):
    """Trains one tiny PointGoal trial in-process (no Ray)."""
    plan = plan_sweep(TrainConfig(**TINY), (), 1, tmp_path / "s")
    prepare_sweep_dir(plan)
    (trial,) = plan.trials
    outcome = run_trial(trial, tensorboard=False, held_out_episodes=4)
    assert outcome.status == DONE and not outcome.evaluated_only, outcome.error
    record = json.loads((trial.run_dir / HELD_OUT_FILE).read_text())
    assert (record["checkpoint"], record["seed"], record["episodes"]) == ("epoch_001", 1000, 4)
    assert outcome.final_success_rate == record["success_rate"]
    assert outcome.held_out_episodes == 4
    args = ["evaluate", str(trial.run_dir), "--latest", "--seed", "1000", "--episodes", "4"]
    code, out, err = run_cli([*args, "--json"])
    assert code == 0, err
    evaluated = json.loads(out)
    keys = ("success_rate", "mean_return", "mean_length", "episodes")
    assert {k: evaluated[k] for k in keys} == {k: record[k] for k in keys}

    assert run_trial(trial, tensorboard=False).status == SKIPPED
    (trial.run_dir / HELD_OUT_FILE).unlink()  # e.g. a sweep from before held-out evaluations
    again = run_trial(trial, tensorboard=False, held_out_episodes=4)
    assert again.status == DONE and again.evaluated_only
    assert json.loads((trial.run_dir / HELD_OUT_FILE).read_text()) == record


def test_sweep_report_of_a_non_sweep_is_one_line(run_cli, tmp_path):
    code, _, err = run_cli(["sweep-report", str(tmp_path)])
    assert code == 1 and "has no sweep.json" in err and err.count("\n") == 1


# ------------------------------------------------------------------------------ real sweeps
@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for this module; sweeps use it instead of starting their own."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as patch:
        # Ray runs its workers at nice 15; beside the other pytest worker's tests they would
        # wait for the cores (61-125 s for one test, 2 min per worker start under load).
        patch.setenv("RAY_worker_niceness", "0")
        # configure_logging=False: Ray's own stderr handler would outlive pytest's stderr.
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            yield ray
        finally:
            ray.shutdown()


def _mtimes(directory):
    return {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_sweep_of_2_settings_completes_and_a_rerun_skips_them(local_ray, run_cli, tmp_path):
    """One seed each: the two trials run at once on the 2 CPUs (a worker process each, which
    imports TensorFlow); seeds are planned and reported as settings are (tests above)."""
    out = tmp_path / "sweep"
    args = [
        "sweep",
        "--env-module",
        "tests.point_goal_env",
        "--env",
        "PointGoal-v0",
        "--seeds",
        "1",
        "--grid",
        "tau=0.05,0.1",
        *TINY_SET,
        "--no-tensorboard",
        "--held-out-episodes",
        "3",
        "--out",
        str(out),
    ]
    code, stdout, err = run_cli(args)
    assert code == 0, err
    run_dirs = sorted(p.parent for p in out.glob("*/seed*/config.json"))
    assert [str(p.relative_to(out)) for p in run_dirs] == ["tau=0.05/seed0", "tau=0.1/seed0"]
    for run_dir in run_dirs:
        assert json.loads((run_dir / "checkpoints" / "latest.json").read_text()) == {
            "checkpoint": "epoch_001"
        }
        assert held_out_record(run_dir)["episodes"] == 3
    assert "2 to start" in stdout and stdout.count(": finished in") == 2
    assert stdout.count("on 3 held-out episodes") == 2
    assert "best setting:" in stdout
    for name in ("success_rate", "mean_return", "actor_loss", "critic_loss"):
        assert (out / "report" / f"{name}.png").is_file()
    saved = json.loads((out / "report" / "report.json").read_text())
    assert {t["state"] for s in saved["settings"] for t in s["trials"]} == {"finished"}
    assert all(s["final_success"]["seeds"] == 1 for s in saved["settings"])

    def trial_files():  # everything but sweep.json and the report, both written again
        return {
            p: t for p, t in _mtimes(out).items() if p.parent != out and p.parent.name != "report"
        }

    trials_before = trial_files()
    assert len(trials_before) > 10
    code, stdout, err = run_cli(args)
    assert code == 0, err
    assert "2 finished before" in stdout and stdout.count("finished before, skipped") == 2
    assert trial_files() == trials_before


@pytest.mark.slow
def test_a_crashing_trial_is_reported_while_an_interrupted_one_resumes(local_ray, tmp_path):
    from td3her_cli.run.training import train

    base = TrainConfig(**{**TINY, "epochs": 2})
    grid = parse_grid(["env-id=PointGoal-v0,PointGoalCrash-v0"], base)
    plan = plan_sweep(base, grid, 1, tmp_path / "sweep")
    prepare_sweep_dir(plan)
    healthy, crashing = plan.trials
    # Stop the healthy trial after its first cycle, as Ctrl-C or a lost node would.
    stopped = train(healthy.config, healthy.run_dir, should_stop=lambda: True, tensorboard=False)
    assert stopped.interrupted

    ended = []
    result = run_sweep(
        plan, cpus_per_trial=1, tensorboard=False, on_trial_end=ended.append, held_out_episodes=3
    )
    by_name = {outcome.name: outcome for outcome in result.outcomes}
    assert by_name[crashing.name].status == FAILED
    assert MESSAGE in by_name[crashing.name].error
    assert MESSAGE in (crashing.run_dir / "error.txt").read_text()
    assert by_name[healthy.name].status == DONE
    assert by_name[healthy.name].resumed_from_epoch == 0
    assert len(ended) == 2 and result.failed == [by_name[crashing.name]]
    rows = [
        json.loads(line) for line in (healthy.run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    cycles = [(r["epoch"], r["cycle"]) for r in rows if r["kind"] == "cycle"]
    assert cycles == [(1, 1), (1, 2), (2, 1), (2, 2)], "resumed without repeating a cycle"

    report = build_report(plan.sweep_dir, width_px=400, height_px=300)
    assert report.best == "env_id=PointGoal-v0"
    assert [s.failed for s in report.settings] == [0, 1]

    again = run_sweep(plan, cpus_per_trial=1, tensorboard=False, held_out_episodes=3)
    assert {o.name: o.status for o in again.outcomes} == {
        healthy.name: SKIPPED,
        crashing.name: FAILED,
    }


def test_a_sweep_identity_lists_only_settings_away_from_the_defaults(tmp_path):
    base = TrainConfig(**TINY)
    grid = parse_grid(["tau=0.05,0.1"], base)
    identity = sweep_identity(base, grid)
    assert identity["config"]["hidden"] == [8] and "grasp_start" not in identity["config"]
    # A sweep written before a field existed (or by a version listing every field) continues.
    plan = plan_sweep(base, grid, 2, tmp_path / "s")
    prepare_sweep_dir(plan)
    saved = json.loads((plan.sweep_dir / "sweep.json").read_text())
    saved["identity"]["config"]["critics"] = 2  # the default, listed
    (plan.sweep_dir / "sweep.json").write_text(json.dumps(saved))
    prepare_sweep_dir(plan)
    saved["identity"]["config"]["critics"] = 3
    (plan.sweep_dir / "sweep.json").write_text(json.dumps(saved))
    with pytest.raises(UsageError, match=r"critics: 3 then, 2 now"):
        prepare_sweep_dir(plan)
