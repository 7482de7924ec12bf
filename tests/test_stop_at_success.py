"""--stop-at-success: a solved run stops itself, says so, and a resume has nothing to do."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import Knobs
from td3her_cli.envs.rollout import EvalResult, evaluate, joined
from td3her_cli.errors import UsageError
from td3her_cli.report.display import _eta
from td3her_cli.run.training import Trainer, best_check_seeds, cannot_reach
from tests.conftest import TINY


def result(rate, episodes):
    return EvalResult(rate, 0.0, 10.0, episodes)


class CheckedTrainer(SimpleNamespace):
    """Trainer's --stop-at-success methods over canned best-check results (no env)."""

    check_solved = Trainer.check_solved
    count_solved = Trainer.count_solved
    solved = Trainer.solved
    passes_gate = Trainer.passes_gate

    def __init__(self, config, **fields):
        start = dict(solved_streak=0, solved_check=None, best_check=None, checks=[], results=[])
        start["agent"] = SimpleNamespace(knobs=Knobs(config.action_l2))
        super().__init__(config=config, **{**start, **fields})

    def run_evaluation(self, seeds, give_up=None, stop=None):
        self.checks.append((list(seeds), give_up))
        return self.results.pop(0)


def streaks(target, patience, rates, gate=0.0):
    config = TrainConfig(
        stop_at_success=target, stop_gate=gate, stop_patience=patience, best_eval_episodes=0
    )
    trainer = CheckedTrainer(config)
    solved = []
    for rate in rates:
        trainer.count_solved(SimpleNamespace(success_rate=rate))
        solved.append(trainer.solved())
    return solved


def test_the_run_stops_after_patience_evaluations_in_a_row():
    assert streaks(0.9, 2, [0.95, 0.5, 0.9, 1.0, 0.2]) == [False, False, False, True, False]
    assert streaks(0.9, 1, [0.89, 0.9]) == [False, True]
    assert streaks(0.0, 1, [1.0, 1.0]) == [False, False], "0 means never stop"


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
    assert len(trainer.checks) == 2 and len(trainer.checks[0][0]) == 100
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


def test_a_longer_stop_check_runs_only_the_episodes_after_the_epochs_best_check():
    config = TrainConfig(
        seed=5, stop_at_success=0.95, best_eval_episodes=100, stop_check_episodes=300
    )
    assert config.stop_check_count == 300
    trainer = CheckedTrainer(config, best_check=(3, result(0.97, 100)), results=[result(0.95, 200)])
    check = trainer.check_solved(result(0.95, 20), 3)
    [(seeds, give_up)] = trainer.checks
    assert seeds == best_check_seeds(5, 300)[100:], "the stream's next 200 episodes"
    assert check.episodes == 300 and check.success_rate == (97 + 190) / 300
    # 285 of 300 are needed and 97 are in: it gives up at the 13th failure of the rest
    assert not give_up(0, 12) and give_up(0, 13)
    assert not give_up(188, 200) and give_up(187, 200), "97 + 187 = 284 of 300 is short"
    trainer.count_solved(result(0.95, 20), check)
    assert trainer.solved()


def test_a_stop_check_that_the_best_check_rules_out_or_does_not_cover():
    config = TrainConfig(stop_at_success=0.95, best_eval_episodes=100, stop_check_episodes=300)
    hopeless = CheckedTrainer(config, best_check=(3, result(0.80, 100)))
    check = hopeless.check_solved(result(0.95, 20), 3)
    assert check == result(0.80, 100) and not hopeless.checks, "80 + 200 < 285: nothing run"
    hopeless.count_solved(result(0.95, 20), check)
    assert not hopeless.solved(), "100 of the 300 episodes do not stop the run"
    other_epoch = CheckedTrainer(
        config, best_check=(2, result(0.97, 100)), results=[result(1, 300)]
    )
    assert other_epoch.check_solved(result(0.95, 20), 3).episodes == 300
    assert other_epoch.checks[0][0] == best_check_seeds(0, 300), "all 300, from the start"
    shorter = TrainConfig(stop_at_success=0.95, best_eval_episodes=300, stop_check_episodes=100)
    longer_best = CheckedTrainer(shorter, best_check=(3, result(1, 300)), results=[result(1, 100)])
    assert longer_best.check_solved(result(0.95, 20), 3).episodes == 100
    assert longer_best.checks[0][0] == best_check_seeds(0, 100)


def test_a_lower_stop_gate_starts_checks_that_must_still_reach_the_target():
    config = TrainConfig(
        stop_at_success=0.97, stop_gate=0.95, stop_patience=2, best_eval_episodes=100
    )
    assert config.stop_gate_success == 0.95
    checks = [result(0.96, 100), result(0.97, 100)]
    trainer = CheckedTrainer(config, results=checks)
    solved = []
    for epoch, rate in enumerate([0.95, 0.9, 0.95, 0.95, 0.95], start=1):
        check = trainer.check_solved(result(rate, 20), epoch)
        trainer.count_solved(result(rate, 20), check)
        solved.append(trainer.solved())
    # 19 of 20 passes the gate; epoch 4 starts a check (96 %: short), epoch 5 another (97 %)
    assert solved == [False, False, False, False, True]
    assert len(trainer.checks) == 2
    assert trainer.checks[0][1](0, 4) and not trainer.checks[0][1](0, 3), "97 of 100 needed"
    strict = CheckedTrainer(config.replace(stop_gate=0.0), results=[result(1, 100)])
    for epoch in (1, 2):
        strict.count_solved(result(0.95, 20), strict.check_solved(result(0.95, 20), epoch))
    assert not strict.checks and not strict.solved(), "without a gate, 19 of 20 is below 97 %"


def test_the_gate_is_the_target_where_a_lower_gate_would_mean_nothing():
    assert TrainConfig(stop_at_success=0.9, stop_gate=0.95).stop_gate_success == 0.9, "above"
    no_check = TrainConfig(stop_at_success=0.97, stop_gate=0.95, best_eval_episodes=0)
    assert no_check.stop_gate_success == 0.97, "no check episodes: the epoch evaluations decide"
    assert streaks(0.97, 1, [0.95, 1.0], gate=0.95) == [False, True]
    assert streaks(0.0, 1, [1.0], gate=0.5) == [False], "--stop-at-success 0: never stops"
    with pytest.raises(UsageError, match=re.escape("--stop-gate must be in [0, 1]")):
        TrainConfig(stop_at_success=0.95, stop_gate=1.5)


def test_a_real_extended_stop_check_equals_one_check_of_all_its_episodes():
    config = TrainConfig(
        **{**TINY, "best_eval_episodes": 3, "stop_check_episodes": 7, "stop_at_success": 0.01}
    )
    trainer = Trainer(config)
    try:
        whole = trainer.run_evaluation(best_check_seeds(config.seed, 7))
        trainer.best_check = (1, trainer.run_evaluation(best_check_seeds(config.seed, 3)))
        extended = trainer.check_solved(result(1.0, 20), 1)
    finally:
        trainer.close()
    assert extended.episodes == whole.episodes == 7
    assert extended.success_rate == whole.success_rate
    assert extended.mean_return == pytest.approx(whole.mean_return)
    assert extended.mean_length == pytest.approx(whole.mean_length)


def test_joined_parts_equal_one_evaluation_of_all_their_episodes():
    rng = np.random.default_rng(0)
    episodes = [
        SimpleNamespace(
            success=bool(rng.random() < 0.7),
            reward=rng.normal(size=int(n)),
            length=int(n),
        )
        for n in rng.integers(3, 50, size=30)
    ]
    whole = evaluate(episodes)
    parts = joined(evaluate(episodes[:11]), evaluate(episodes[11:]))
    assert parts.episodes == whole.episodes and parts.success_rate == whole.success_rate
    assert parts.mean_return == pytest.approx(whole.mean_return)
    assert parts.mean_length == pytest.approx(whole.mean_length)


def test_cannot_reach():
    give_up = cannot_reach(0.95, 100)  # 95 successes needed
    assert not give_up(0, 5) and give_up(0, 6) and not give_up(90, 95) and give_up(89, 95)
    assert not cannot_reach(0.07, 100)(0, 93), "7 of 100 is 7 %: 0.07 * 100 > 7 in floats"


def test_eta_from_the_mean_epoch_time_or_env_step_time_whichever_ends_sooner():
    def eta(epoch, wall_time, epochs, env_steps=0, budget=0):
        stats = SimpleNamespace(epoch=epoch, wall_time=wall_time, env_steps=env_steps)
        return _eta(stats, TrainConfig(epochs=epochs, max_env_steps=budget))

    assert eta(2, 100.0, 10) == ", ETA 0:06:40"
    assert eta(2, 3600.0, 4) == ", ETA 1:00:00"
    assert eta(4, 30.0, 4) == ""
    assert eta(2, 100.0, 10, env_steps=1000, budget=3000) == ", ETA 0:03:20"  # the budget's
    assert eta(2, 100.0, 10, env_steps=1000, budget=10**6) == ", ETA 0:06:40"  # the epochs'


@pytest.mark.parametrize("best, stop_check", [(0, 0), (30, 0), (20, 40)])
def test_fast_preset_stops_once_reach_is_solved(tmp_path, run_cli, best, stop_check):
    out = tmp_path / "run"
    args = ["--preset", "fast", "--no-tensorboard", "--best-eval-episodes", str(best)]
    args += ["--stop-check-episodes", str(stop_check)]
    checked = stop_check or best
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
        check = f", and {last['stop_check_success']:.0%} on {checked} stop-check episodes"
    else:
        assert "stop_check_success" not in epochs[-1]
    assert (
        f"solved: evaluation success >= 95% in 1 epoch(s) in a row{check}, at epoch {len(epochs)}"
        in stdout
    )
    assert f"td3her evaluate {out} --latest --seed 1000 --episodes 300" in stdout  # held-out
    code, stdout, _ = run_cli(["train", "--resume", str(out)])
    assert code == 0 and "stopped solved" in stdout and "nothing to do" in stdout
