"""bench.stop_check re-runs a run's best check on a kept checkpoint, and reproduces it."""

import json

from bench.stop_check import check


def test_stop_check_reproduces_the_runs_own_best_check(tiny_run):
    best = json.loads((tiny_run / "checkpoints" / "best.json").read_text())
    assert best["episodes"] == 3  # TINY's best_eval_episodes, all run
    first, checked, whole = check(tiny_run / "checkpoints" / best["checkpoint"], 5)
    assert first == 3 and checked == best["success_rate"]
    assert abs(whole * 5 - round(whole * 5)) < 1e-9  # a rate over 5 episodes
    assert round(whole * 5) >= round(checked * 3)  # the first 3 are among the 5
