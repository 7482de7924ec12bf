"""The best checkpoint: candidates are re-evaluated on fixed episodes before promotion, and
best.json's figure is a selection score, labelled as such."""

import json

import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.envs.rollout import EvalResult, wilson_interval
from td3her_cli.run import training
from td3her_cli.run.training import Trainer

from .conftest import TINY


def result(success_rate, episodes, mean_return=-10.0):
    return EvalResult(success_rate, mean_return, 20.0, episodes)


def test_wilson_interval_against_a_hand_computed_reference():
    # p = 0.3, n = 20, z = 1.96: centre 0.33222, half-width 0.18675.
    low, high = wilson_interval(6, 20)
    assert low == pytest.approx(0.14546, abs=1e-4) and high == pytest.approx(0.51897, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.15 < high < 0.17, "0/20 is not proof of 0 %"
    low, high = wilson_interval(100, 100)
    assert 0.96 < low < 0.97 and high == pytest.approx(1.0)
    assert result(0.3, 20).ci95 == wilson_interval(6, 20)


@pytest.fixture
def trainer():
    trainer = Trainer(TrainConfig(**{**TINY, "best_eval_episodes": 7}))
    yield trainer
    trainer.close()


def test_a_lucky_epoch_is_not_promoted_without_its_re_evaluation(trainer, monkeypatch):
    confirmations = iter([result(0.10, 7), result(0.05, 7), result(0.40, 7)])
    seeds_seen = []

    def scripted_evaluation(seeds, give_up=None, stop=None):
        seeds_seen.append(list(seeds))
        return next(confirmations)

    monkeypatch.setattr(trainer, "run_evaluation", scripted_evaluation)
    first = trainer.check_best(result(0.30, 20), 1)  # no best yet: promoted at its re-evaluation
    score = first["selection_score"]
    assert score["success_rate"] == 0.10 and first["epoch_evaluation"]["success_rate"] == 0.30
    assert score["episodes"] == 7  # one success in 7 (10 %, rounded by the scripted result)
    assert score["ci95"] == pytest.approx(wilson_interval(1, 7), abs=1e-4)
    assert "success_rate" not in first, "the selection score is not at the top as a result"
    assert trainer.check_best(result(0.05, 20), 2) is None, "not above 10 %: not even a candidate"
    assert len(seeds_seen) == 1
    assert trainer.check_best(result(0.80, 20), 3) is None, "80 % on 20, 5 % on 7: a lucky epoch"
    assert trainer.best["epoch"] == 1
    assert trainer.check_best(result(0.35, 20), 4)["epoch"] == 4
    assert seeds_seen[0] == seeds_seen[1] == seeds_seen[2], "the same episodes for each"
    assert len(seeds_seen[0]) == 7
    eval_seeds = {training.episode_seed(0, training.EVAL_STREAM, i) for i in range(100)}
    assert not eval_seeds & set(seeds_seen[0])


def test_without_re_evaluation_the_epoch_evaluation_decides(monkeypatch):
    trainer = Trainer(TrainConfig(**{**TINY, "best_eval_episodes": 0}))
    try:
        monkeypatch.setattr(trainer, "run_evaluation", lambda *a: pytest.fail("no re-evaluation"))
        assert trainer.check_best(result(0.5, 20), 1)["selection_score"]["success_rate"] == 0.5
        assert trainer.check_best(result(0.5, 20), 2) is None
    finally:
        trainer.close()


def test_best_json_records_the_re_evaluation_and_its_interval(tiny_run):
    root = tiny_run / "checkpoints"
    best = json.loads((root / "best.json").read_text())
    score = best["selection_score"]
    assert score["episodes"] == TINY["best_eval_episodes"]
    low, high = score["ci95"]
    assert 0.0 <= low <= score["success_rate"] <= high <= 1.0
    assert "selection_score" in best["rule"]
    assert best["epoch_evaluation"]["episodes"] == TINY["eval_episodes"]
    assert best["checkpoint"] == f"epoch_{best['epoch']:03d}"
    state = json.loads((root / "epoch_002" / "state.json").read_text())
    assert state["best"]["epoch"] == best["epoch"], "resume continues from the same best"


OLD_BEST = {  # best.json as td3her wrote it before selection_score: the fields at the top
    "checkpoint": "epoch_004",
    "success_rate": 0.5,
    "mean_return": -10.0,
    "mean_length": 20.0,
    "episodes": 20,
    "ci95": [0.3, 0.7],
    "epoch": 4,
    "epoch_evaluation": {"success_rate": 0.6, "mean_return": -9.0, "mean_length": 20.0,
                         "episodes": 10, "ci95": [0.3, 0.85]},
    "rule": "re-evaluated on the fixed best-check episodes; promoted if better than best",
}  # fmt: skip


def test_an_old_best_record_without_selection_score_still_decides_the_same():
    from td3her_cli.run.best import best_record, cannot_beat, is_better, is_candidate

    new = best_record(4, result(0.6, 10), result(0.5, 20))
    for best in (OLD_BEST, new):  # e.g. `best` in an old checkpoint's state.json, on resume
        assert not is_candidate(result(0.5, 10), best) and is_candidate(result(0.55, 10), best)
        assert is_better(result(0.5, 20, mean_return=-9.0), best)
        assert not is_better(result(0.5, 20, mean_return=-11.0), best)
        assert cannot_beat(best, 20)(0, 11) and not cannot_beat(best, 20)(0, 10)


def test_the_selection_score_is_labelled_as_such_and_points_to_held_out_episodes(
    tiny_run, tmp_path
):
    from td3her_cli.cli.train import best_and_held_out_lines
    from td3her_cli.run.best import selection_line

    best = json.loads((tiny_run / "checkpoints" / "best.json").read_text())
    line, held_out = best_and_held_out_lines(tiny_run)
    score = best["selection_score"]
    assert line == selection_line(best)
    assert line.startswith(
        f"best checkpoint {best['checkpoint']}: selection score {score['success_rate']:.0%} on "
        f"the {score['episodes']} episodes it was picked on"
    )
    assert "overstates" in line and "not a result" in line
    assert held_out.endswith(f"td3her evaluate {tiny_run} --latest --seed 1000 --episodes 300")
    old = selection_line(OLD_BEST)  # best.json from before reads the same way
    assert old.startswith("best checkpoint epoch_004: selection score 50% on the 20 episodes")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    assert best_and_held_out_lines(run)[0] is None  # no best.json: no line


def test_a_hopeless_candidate_stops_early_and_no_decision_changes():
    import numpy as np

    from td3her_cli.run.best import cannot_beat, is_better

    best = result(0.9, 100).to_dict()
    give_up = cannot_beat(best, 100)
    assert not give_up(0, 10) and give_up(0, 11), "11 failures: at most 89 of 100 < 90"
    assert not give_up(80, 90), "80 + 10 could still tie, and the mean return decide"
    assert cannot_beat(best, 50) is None and cannot_beat(None, 100) is None
    rng = np.random.default_rng(0)
    stopped = 0
    for _ in range(3000):  # whenever it gives up, the partial result would have lost anyway
        total = int(rng.integers(1, 60))
        best = result(int(rng.integers(0, total + 1)) / total, total, mean_return=-50.0)
        run = int(rng.integers(1, total + 1))
        successes = int(rng.integers(0, run + 1))
        if cannot_beat(best.to_dict(), total)(successes, run):
            stopped += 1
            partial = result(successes / run, run, mean_return=0.0)
            assert not is_better(partial, best.to_dict()), (successes, run, best)
    assert stopped > 300


def test_evaluation_stops_once_give_up_says_so_and_raises_once_stop_does():
    import numpy as np

    import tests.point_goal_env  # noqa: F401 - registers PointGoal-v0
    from td3her_cli.envs.goal_env import describe_env, make_env
    from td3her_cli.envs.rollout import EvaluationStopped, deterministic_episodes, evaluate

    env = make_env("PointGoal-v0")
    try:
        spec = describe_env(env, "PointGoal-v0", 0)
        policy = lambda observation, goal: np.zeros((1, 2), np.float32)  # noqa: E731

        def episodes(stop=None):
            return deterministic_episodes(env, spec, policy, range(12), stop)

        full = evaluate(episodes())
        cut = evaluate(episodes(), give_up=lambda successes, run: run >= 5)
        asked = []
        with pytest.raises(EvaluationStopped):
            evaluate(episodes(stop=lambda: asked.append(1) or len(asked) > 3))
        late = evaluate(episodes(stop=lambda: asked.append(1) or len(asked) > 4 + 12))
    finally:
        env.close()
    assert full.episodes == 12 and cut.episodes == 5
    assert len(asked) == 4 + 12, "asked before each episode, stopped before the fourth"
    assert late.episodes == 12, "a stop during the last episode keeps the whole evaluation"


def test_best_checks_change_neither_training_nor_the_stop(tmp_path, tiny_run):
    """--best-eval-episodes 0 gives up only the best pointer's re-check: the same updates and
    epoch evaluations (tiny_run re-checked its candidates; a stop check alone plays the same
    episodes as one that extends a best check: test_stop_at_success)."""
    from td3her_cli.run.training import train

    from .conftest import metrics_rows_without_timings

    unchecked = tmp_path / "unchecked"
    train(TrainConfig(**{**TINY, "best_eval_episodes": 0}), unchecked, tensorboard=False)
    assert metrics_rows_without_timings(unchecked) == metrics_rows_without_timings(tiny_run)
