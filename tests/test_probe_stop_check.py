"""The stop_check probe re-runs a run's best check on a kept checkpoint, and reproduces it."""

import json

import docs.experiments.probes.stop_check as stop_check
from td3her_cli.envs.goal_env import episode_seed
from td3her_cli.run.training import BEST_CHECK_STREAM


def test_stop_check_runs_the_runs_own_stop_check_episodes_then_more(tiny_run, monkeypatch):
    best = json.loads((tiny_run / "checkpoints" / "best.json").read_text())
    score = best["selection_score"]
    assert score["episodes"] == 3  # TINY's best_eval_episodes, all run (and its stop check's)
    submitted, run_evaluation = [], stop_check.Trainer.run_evaluation

    def recording(trainer, seeds, *args, **kwargs):  # the Trainer's own way of checking
        submitted.extend(seeds)
        return run_evaluation(trainer, seeds, *args, **kwargs)

    monkeypatch.setattr(stop_check.Trainer, "run_evaluation", recording)
    first, checked, whole = stop_check.check(tiny_run / "checkpoints" / best["checkpoint"], 5)
    seed = json.loads((tiny_run / "config.json").read_text())["seed"]
    # The stream the Trainer's best checks use, written out here rather than imported from it.
    assert submitted == [episode_seed(seed, BEST_CHECK_STREAM, i) for i in range(5)]
    assert first == 3 and checked == score["success_rate"]
    assert abs(whole * 5 - round(whole * 5)) < 1e-9  # a rate over 5 episodes
