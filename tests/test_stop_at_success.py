"""--stop-at-success: a solved run stops itself, says so, and a resume has nothing to do."""

import json
from types import SimpleNamespace

import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.display import _eta
from td3her_cli.rollout import EvalResult
from td3her_cli.training import Trainer, cannot_reach


def streaks(target, patience, rates):
    config = TrainConfig(stop_at_success=target, stop_patience=patience, best_eval_episodes=0)
    trainer = SimpleNamespace(config=config, solved_streak=0, solved_check=None)
    solved = []
    for rate in rates:
        Trainer.count_solved(trainer, SimpleNamespace(success_rate=rate))
        solved.append(Trainer.solved(trainer))
    return solved


def test_the_run_stops_after_patience_evaluations_in_a_row():
    assert streaks(0.9, 2, [0.95, 0.5, 0.9, 1.0, 0.2]) == [False, False, False, True, False]
    assert streaks(0.9, 1, [0.89, 0.9]) == [False, True]
    assert streaks(0.0, 1, [1.0, 1.0]) == [False, False], "0 means never stop"


def result(rate, episodes):
    return EvalResult(rate, 0.0, 10.0, episodes)


class CheckedTrainer(SimpleNamespace):
    """Trainer's --stop-at-success methods over canned best-check results (no env)."""

    check_solved = Trainer.check_solved
    count_solved = Trainer.count_solved
    solved = Trainer.solved
    best_check_seeds = Trainer.best_check_seeds

    def __init__(self, config, **fields):
        start = dict(solved_streak=0, solved_check=None, best_check=None, checks=[], results=[])
        super().__init__(config=config, **{**start, **fields})

    def run_evaluation(self, seeds, give_up=None, stop=None):
        self.checks.append((len(seeds), give_up))
        return self.results.pop(0)


def test_the_best_check_episodes_must_reach_the_target_too():
    config = TrainConfig(stop_at_success=0.9, stop_patience=2, best_eval_episodes=100)
    trainer = CheckedTrainer(config, results=[result(0.85, 100), result(0.93, 100)])
    solved = []
    for epoch, rate in enumerate([0.95, 0.95, 1.0], start=1):
        check = trainer.check_solved(result(rate, 20), epoch)
        trainer.count_solved(result(rate, 20), check)
        solved.append(trainer.solved())
    # epoch 1: streak too short, nothing checked; 2: 85 % on 100; 3: 93 %
    assert solved == [False, False, True]
    assert len(trainer.checks) == 2 and trainer.checks[0][0] == 100
    assert trainer.checks[0][1](84, 95) and not trainer.checks[0][1](85, 95), "gives up early"


def test_the_check_reuses_the_epochs_whole_best_check():
    config = TrainConfig(stop_at_success=0.9, stop_patience=1, best_eval_episodes=100)
    trainer = CheckedTrainer(config, best_check=(3, result(0.97, 100)))
    check = trainer.check_solved(result(0.95, 20), 3)
    trainer.count_solved(result(0.95, 20), check)
    assert trainer.solved() and not trainer.checks and check.success_rate == 0.97
    partial = CheckedTrainer(config, solved_streak=1, solved_check=result(0.95, 40))
    assert not partial.solved(), "a check that gave up early is no confirmation"
    stale = CheckedTrainer(config, results=[result(0.5, 100)], best_check=(2, result(0.97, 100)))
    assert stale.check_solved(result(0.95, 20), 3).success_rate == 0.5, "epoch 2's is not 3's"


def test_cannot_reach():
    give_up = cannot_reach(0.95, 100)  # 95 successes needed
    assert not give_up(0, 5) and give_up(0, 6) and not give_up(90, 95) and give_up(89, 95)
    assert not cannot_reach(0.07, 100)(0, 93), "7 of 100 is 7 %: 0.07 * 100 > 7 in floats"


def test_eta_from_the_mean_epoch_time():
    assert _eta(SimpleNamespace(epoch=2, wall_time=100.0), 10) == ", ETA 0:06:40"
    assert _eta(SimpleNamespace(epoch=2, wall_time=3600.0), 4) == ", ETA 1:00:00"
    assert _eta(SimpleNamespace(epoch=4, wall_time=30.0), 4) == ""


@pytest.mark.parametrize("checked", [0, 30])
def test_fast_preset_stops_once_reach_is_solved(tmp_path, run_cli, checked):
    out = tmp_path / "run"
    args = ["--preset", "fast", "--no-tensorboard", "--best-eval-episodes", str(checked)]
    code, stdout, err = run_cli(["train", *args, "--eval-episodes", "20", "--out", str(out)])
    assert code == 0, err
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    epochs = [row for row in epochs if row["kind"] == "epoch"]
    assert epochs[-1]["success_rate"] >= 0.95 and len(epochs) < 10, "stopped once solved"
    for row in epochs[:-1]:  # not later than needed
        assert row["success_rate"] < 0.95 or row["stop_check_success"] < 0.95
    check = ""
    if checked:
        last = epochs[-1]
        assert last["stop_check_success"] >= 0.95 and last["stop_check_episodes"] == checked
        check = f", and {last['stop_check_success']:.0%} on {checked} best-check episodes"
    else:
        assert "stop_check_success" not in epochs[-1]
    assert (
        f"solved: evaluation success >= 95% in 1 epoch(s) in a row{check}, at epoch {len(epochs)}"
        in stdout
    )
    assert f"td3her evaluate {out} --latest --episodes 100" in stdout  # the fresh measure
    code, stdout, _ = run_cli(["train", "--resume", str(out)])
    assert code == 0 and "stopped solved" in stdout and "nothing to do" in stdout
