"""`plot` and `sweep-report` on malformed files: one warning with file and line per skipped row,
null (or old NaN) values as missing data, a corrupt trial reported once as corrupt, and one
error line (never a traceback) when nothing can be read. Files are written by hand: no training."""

import json

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.report.plotting import NoMetricsError, load_run, summary_rows
from td3her_cli.run.metrics import METRICS_FILE
from td3her_cli.run.rundir import PLOT_FILES
from td3her_cli.sweep.report import CORRUPT, build_report
from td3her_cli.sweep.trials import HELD_OUT_FILE, parse_grid, plan_sweep, prepare_sweep_dir
from tests.test_plotting import write_run
from tests.test_sweep import TINY, _write_fake_trial

SMALL = ["--width", "400", "--height", "300"]  # small figures: these tests stay cheap
NAN = float("nan")


def _insert_lines(path, replacements: dict[int, str]) -> None:
    """Insert each text so that it is at its 1-based line number, pushing the others down."""
    lines = path.read_text().splitlines()
    for number in sorted(replacements):
        lines.insert(number - 1, replacements[number])
    path.write_text("\n".join(lines) + "\n")


def _set_fields(path, values: dict, kind: str | None = None) -> None:
    """Set fields in every row (of one kind). None is written as null, NaN as NaN (old files)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if kind in (None, row["kind"]):
            row.update(values)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))  # allow_nan: NaN


def _warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("td3her: warning: ")]


# ------------------------------------------------------------------------------ plot
def test_each_skipped_metrics_row_is_one_warning_naming_file_and_line(tmp_path, run_cli):
    run_dir = write_run(tmp_path / "run", [0.2, 0.6], cycles=2)
    path = run_dir / METRICS_FILE
    bad = {
        2: '{"kind": "cycle", "epo',  # not whole JSON
        4: "[1, 2, 3]",  # JSON, not an object
        6: json.dumps({"kind": "epoch", "epoch": 1, "success_rate": "high"}),
        7: json.dumps({"kind": "cycle", "epoch": 1, "cycle": "two", "actor_loss": 1.0}),
        8: json.dumps({"kind": "epoch", "epoch": 2, "mean_return": -3.0}),  # no success_rate
        9: json.dumps({"kind": "cycle", "epoch": 0, "cycle": 1}),
        10: json.dumps({"epoch": 1, "cycle": 1}),  # no kind
        11: json.dumps({"kind": "cycle", "epoch": 1, "cycle": 1, "env_steps": 10**400}),
        12: json.dumps({"kind": "epoch", "epoch": 2**70, "success_rate": 0.5}),  # not an int64
    }
    _insert_lines(path, bad)

    run = load_run(run_dir)
    np.testing.assert_array_equal(run.epoch, [1, 2])
    np.testing.assert_allclose(run.success_rate, [0.2, 0.6])  # the bad rows took nothing over
    assert run.cycle_x.size == 4
    code, out, err = run_cli(["plot", str(run_dir), "--out", str(tmp_path / "p"), *SMALL])
    assert code == 0, err
    warned = _warning_lines(err)
    assert len(warned) == len(bad) == len(err.splitlines()), err
    for line, number in zip(warned, sorted(bad)):
        assert f"{path}: line {number} " in line
    assert "success_rate is 'high', not a number" in warned[2]
    assert "cycle is 'two', not a whole number from 1 to 2**63 - 1" in warned[3]
    assert "env_steps is 1000" in warned[7] and "not a number or null" in warned[7]
    assert f"epoch is {2**70}, not a whole number from 1 to 2**63 - 1" in warned[8]
    assert all((tmp_path / "p" / name).is_file() for name in PLOT_FILES)


def test_null_and_old_nan_values_are_missing_data_without_warnings(tmp_path, run_cli):
    strict = write_run(tmp_path / "strict", [0.5, 1.0], cycles=2)
    _set_fields(strict / METRICS_FILE, {"actor_loss": None, "critic1_loss": None}, kind="cycle")
    _set_fields(strict / METRICS_FILE, {"env_steps": None, "wall_time": None})
    old = write_run(tmp_path / "old", [0.25, 0.75, 1.0], cycles=2)
    _set_fields(old / METRICS_FILE, {"actor_loss": NAN, "critic2_loss": NAN})  # no update yet
    assert "NaN" in (old / METRICS_FILE).read_text()

    runs = [load_run(strict), load_run(old)]
    assert runs[0].warnings == runs[1].warnings == ()
    assert np.isnan(runs[0].actor_loss).all() and np.isfinite(runs[0].critic2_loss).all()
    assert np.isnan(runs[1].critic2_loss).all() and runs[1].epoch.size == 3
    assert summary_rows(runs)[0]["wall_time"] is None  # missing, not NaN
    assert summary_rows(runs)[0]["solved_env_steps"] is None
    assert summary_rows(runs)[1]["best_success_rate"] == 1.0
    # Mean and band over env steps, one run's steps all null: this drew on an empty log axis.
    args = ["plot", str(strict), str(old), "--out", str(tmp_path / "p"), "--x-axis", "env_steps"]
    code, out, err = run_cli([*args, *SMALL])
    assert (code, err) == (0, ""), err
    assert all((tmp_path / "p" / name).stat().st_size > 0 for name in PLOT_FILES)
    assert "nan" not in out.replace(str(tmp_path), "").lower()  # missing values show as "-"


def test_non_finite_values_and_repeated_rows_are_one_warning_each(tmp_path, run_cli):
    run_dir = write_run(tmp_path / "run", [0.2, 0.6, 0.8], cycles=2)
    path = run_dir / METRICS_FILE
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["kind"], r["epoch"]) for r in rows[2:6]] == [
        ("epoch", 1), ("cycle", 2), ("cycle", 2), ("epoch", 2)
    ]  # fmt: skip
    rows[3]["critic1_loss"] = float("inf")  # line 4
    rows[4]["env_steps"] = NAN  # line 5
    rows[5]["mean_return"] = float("-inf")  # line 6: epoch 2's evaluation
    rows.append({**rows[2], "success_rate": 0.9})  # line 10: epoch 1 again
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))  # NaN, Infinity tokens

    run = load_run(run_dir)
    assert run.warnings == (
        f"{path}: line 4 was skipped (critic1_loss is Infinity, not a finite number or null)",
        f"{path}: line 5 was skipped (env_steps is NaN, not a finite number or null)",
        f"{path}: line 6 was skipped (mean_return is -Infinity, not a finite number or null)",
        f"{path}: line 10 repeats epoch 1 (line 3); the later row is used",
    )
    np.testing.assert_array_equal(run.epoch, [1, 3])
    np.testing.assert_allclose(run.success_rate, [0.9, 0.8])
    code, _, err = run_cli(["plot", str(run_dir), "--out", str(tmp_path / "p"), *SMALL])
    assert code == 0 and _warning_lines(err) == [f"td3her: warning: {w}" for w in run.warnings]


def test_an_empty_missing_or_wholly_bad_metrics_file_is_one_error_line(tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / METRICS_FILE).write_text("")
    (tmp_path / "missing").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / METRICS_FILE).write_text('"just a string"\n{"kind": "epoch"}\n')
    for name, message in (
        ("empty", "holds no whole metrics rows"),
        ("missing", f"has no {METRICS_FILE}"),
        ("bad", "holds no whole metrics rows"),
    ):
        code, out, err = run_cli(["plot", str(tmp_path / name), "--out", str(tmp_path / "p")])
        lines = err.splitlines()
        assert code == 1 and out == "" and "Traceback" not in err
        assert lines[-1].startswith("td3her: error: ") and message in lines[-1]
        assert len(_warning_lines(err)) == (2 if name == "bad" else 0), err
    with pytest.raises(NoMetricsError) as error:
        load_run(tmp_path / "bad")
    path = tmp_path / "bad" / METRICS_FILE
    first, second = error.value.warnings
    assert first.startswith(f"{path}: line 1 ") and second.startswith(f"{path}: line 2 ")


# ------------------------------------------------------------------------------ sweep-report
@pytest.fixture
def sweep_dir(tmp_path):
    """2 settings x 2 seeds of 2 epochs, every trial finished (fake run directories)."""
    base = TrainConfig(**{**TINY, "epochs": 2})
    plan = plan_sweep(base, parse_grid(["tau=0.05,0.1"], base), 2, tmp_path / "sweep")
    prepare_sweep_dir(plan)
    for trial in plan.trials:
        _write_fake_trial(trial.run_dir, trial.config, [0.5, 1.0])
    return plan.sweep_dir


def test_a_corrupt_trial_is_reported_once_as_corrupt_with_its_reason(sweep_dir, run_cli):
    pointer = sweep_dir / "tau=0.05" / "seed1" / "checkpoints" / "latest.json"
    pointer.write_text("[1]")  # JSON, not a pointer
    config = sweep_dir / "tau=0.1" / "seed0" / "config.json"
    config.write_text('{"epochs": 2, "tau"')  # truncated
    meta = sweep_dir / "tau=0.1" / "seed1" / "checkpoints" / "epoch_002" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "epoch": "two"}))
    metrics = sweep_dir / "tau=0.05" / "seed0" / METRICS_FILE
    _set_fields(metrics, {"actor_loss": None}, kind="cycle")  # null: no warning
    _insert_lines(metrics, {3: "not json"})

    code, out, err = run_cli(["sweep-report", str(sweep_dir), "--out", str(sweep_dir / "r")])
    assert code == 0, err
    warned = _warning_lines(err)
    assert len(warned) == 4 == len(err.splitlines()), err
    assert warned[0] == f"td3her: warning: {metrics}: line 3 is not whole JSON and was skipped"
    for trial, path in (("tau=0.05/seed1", pointer), ("tau=0.1/seed0", config)):
        named = [line for line in warned if f"trial {trial} " in line]
        assert len(named) == 1 and str(path) in named[0] and "start this trial over" in named[0]
    assert sum("trial tau=0.1/seed1 " in line and "meta.json" in line for line in warned) == 1
    saved = json.loads((sweep_dir / "r" / "report.json").read_text())
    states = {t["name"]: t["state"] for s in saved["settings"] for t in s["trials"]}
    assert states == {
        "tau=0.05/seed0": "finished",
        "tau=0.05/seed1": CORRUPT,
        "tau=0.1/seed0": CORRUPT,
        "tau=0.1/seed1": CORRUPT,
    }
    assert saved["best"] == "tau=0.05"
    first, second = saved["settings"]
    assert first["curves"]["success_rate"]["seeds"] == [1, 1]  # corrupt trials' metrics left out
    assert second["curves"] == {} and second["final_success"]["seeds"] == 0
    titles = [line.strip() for line in out.splitlines() if line.startswith("tau=")]
    assert titles == ["tau=0.05 (best): 1 finished, 1 corrupt", "tau=0.1: 2 corrupt"]
    assert "best setting: tau=0.05" in out


def test_null_values_in_a_sweep_are_missing_and_the_report_stays_strict_json(sweep_dir):
    metrics = sweep_dir / "tau=0.1" / "seed0" / METRICS_FILE
    _set_fields(metrics, {"success_rate": None, "mean_return": None}, kind="epoch")
    _set_fields(metrics, {"actor_loss": None, "critic1_loss": None, "critic2_loss": None})
    other = sweep_dir / "tau=0.1" / "seed1" / METRICS_FILE
    _set_fields(other, {"actor_loss": NAN, "critic2_loss": NAN}, kind="cycle")  # old files
    # The held-out evaluations: a null success (no result, not a 0), a NaN return (old files).
    for seed, values in (("seed0", {"success_rate": None}), ("seed1", {"mean_return": NAN})):
        path = sweep_dir / "tau=0.1" / seed / HELD_OUT_FILE
        path.write_text(json.dumps({**json.loads(path.read_text()), **values}))  # allow_nan

    report = build_report(sweep_dir, width_px=400, height_px=300)
    assert report.warnings == []
    setting = report.settings[1]
    assert setting.final_success.count[0] == 1  # the null success is left out, not a 0
    assert setting.without_held_out == ["tau=0.1/seed0"]
    assert setting.final_return is None  # both final returns missing
    strict = report.report_file.read_text()
    json.loads(strict, parse_constant=lambda token: pytest.fail(f"{token} in report.json"))


def test_a_sweep_warns_of_non_finite_and_repeated_rows(sweep_dir, run_cli):
    metrics = sweep_dir / "tau=0.05" / "seed0" / METRICS_FILE
    lines = metrics.read_text().splitlines()
    assert json.loads(lines[2])["kind"] == "epoch"
    row = json.loads(lines[5])  # epoch 2's evaluation
    assert row["kind"] == "epoch" and row["epoch"] == 2
    lines.append(json.dumps({**row, "success_rate": float("inf")}))  # line 7
    lines.append(lines[2])  # line 8: epoch 1 again
    metrics.write_text("\n".join(lines) + "\n")

    code, out, err = run_cli(["sweep-report", str(sweep_dir), "--out", str(sweep_dir / "r")])
    assert code == 0, err
    assert _warning_lines(err) == [
        f"td3her: warning: {metrics}: line 7 was skipped (success_rate is Infinity, not a "
        "finite number or null)",
        f"td3her: warning: {metrics}: line 8 repeats epoch 1 (line 3); the later row is used",
    ]
    saved = json.loads((sweep_dir / "r" / "report.json").read_text())
    assert saved["settings"][0]["curves"]["success_rate"]["mean"][1] == 1.0, "inf left out"


@pytest.mark.parametrize(
    "text",
    ["{", "[1]", '{"format_version": "one"}', '{"format_version": 1, "grid": 3}'],
    ids=["truncated", "a list", "text version", "no plan"],
)
def test_a_corrupt_sweep_json_is_one_error_line(tmp_path, run_cli, text):
    (tmp_path / "sweep.json").write_text(text)
    code, out, err = run_cli(["sweep-report", str(tmp_path)])
    assert code == 1 and out == ""
    assert err.startswith("td3her: error: ") and err.count("\n") == 1, err
    assert str(tmp_path / "sweep.json") in err
