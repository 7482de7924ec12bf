"""--stop-at-success: a solved run stops itself, says so, and a resume has nothing to do."""

import json
from types import SimpleNamespace

from td3her_cli.config import TrainConfig
from td3her_cli.display import _eta
from td3her_cli.training import Trainer


def streaks(target, patience, rates):
    trainer = SimpleNamespace(
        config=TrainConfig(stop_at_success=target, stop_patience=patience), solved_streak=0
    )
    solved = []
    for rate in rates:
        Trainer.count_solved(trainer, SimpleNamespace(success_rate=rate))
        solved.append(Trainer.solved(trainer))
    return solved


def test_the_run_stops_after_patience_evaluations_in_a_row():
    assert streaks(0.9, 2, [0.95, 0.5, 0.9, 1.0, 0.2]) == [False, False, False, True, False]
    assert streaks(0.9, 1, [0.89, 0.9]) == [False, True]
    assert streaks(0.0, 1, [1.0, 1.0]) == [False, False], "0 means never stop"


def test_eta_from_the_mean_epoch_time():
    assert _eta(SimpleNamespace(epoch=2, wall_time=100.0), 10) == ", ETA 0:06:40"
    assert _eta(SimpleNamespace(epoch=2, wall_time=3600.0), 4) == ", ETA 1:00:00"
    assert _eta(SimpleNamespace(epoch=4, wall_time=30.0), 4) == ""


def test_fast_preset_stops_once_reach_is_solved(tmp_path, run_cli):
    out = tmp_path / "run"
    args = ["--preset", "fast", "--no-tensorboard", "--best-eval-episodes", "0"]
    code, stdout, err = run_cli(["train", *args, "--eval-episodes", "20", "--out", str(out)])
    assert code == 0, err
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    epochs = [row for row in epochs if row["kind"] == "epoch"]
    assert epochs[-1]["success_rate"] >= 0.95 and len(epochs) < 10, "stopped once solved"
    assert all(row["success_rate"] < 0.95 for row in epochs[:-1]), "not later than needed"
    assert f"solved: evaluation success >= 95% in 1 epoch(s) in a row, at epoch {len(epochs)}" in (
        stdout
    )
    code, stdout, _ = run_cli(["train", "--resume", str(out)])
    assert code == 0 and "stopped solved" in stdout and "nothing to do" in stdout
