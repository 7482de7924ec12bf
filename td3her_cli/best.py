"""Choosing the `best` checkpoint without the winner's curse.

An epoch's evaluation (e.g. 20 episodes) is a noisy estimate: the highest of many noisy
estimates overstates the policy behind it (30 % on 20 episodes was 8 % on 100). So an epoch
whose evaluation beats the current best only becomes a *candidate*: it is re-evaluated on
`best_eval_episodes` episodes, the same fixed episodes for every candidate (a paired
comparison), and promoted only if that larger evaluation beats the best's. best.json records
the re-evaluation with its 95 % Wilson interval next to the epoch's own evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

from td3her_cli.rollout import EvalResult


def is_candidate(evaluation: EvalResult, best: dict | None) -> bool:
    """Whether an epoch's evaluation beats the best's re-evaluated success rate."""
    return best is None or evaluation.success_rate > best["success_rate"]


def is_better(confirmation: EvalResult, best: dict | None) -> bool:
    """Whether a candidate's re-evaluation beats the best's (success, then mean return)."""
    if best is None:
        return True
    mine = (confirmation.success_rate, confirmation.mean_return)
    return mine > (best["success_rate"], best["mean_return"])


def cannot_beat(best: dict | None, episodes: int) -> Callable[[int, int], bool] | None:
    """A `give_up(successes, run)` test for a candidate's re-evaluation on `episodes`
    episodes: true once even a success in every remaining episode could not reach the best's
    success count. Stopping then changes no decision (such a result always loses in
    is_better: its success rate is below the best's), it only saves the remaining episodes."""
    if best is None or best.get("episodes") != episodes:
        return None
    needed = round(best["success_rate"] * episodes)
    return lambda successes, run: successes + (episodes - run) < needed


def best_record(epoch: int, evaluation: EvalResult, confirmation: EvalResult) -> dict:
    """What best.json says of a promoted checkpoint (besides its name)."""
    return {
        **confirmation.to_dict(),
        "epoch": epoch,
        "epoch_evaluation": evaluation.to_dict(),
        "rule": "re-evaluated on the fixed best-check episodes; promoted if better than best",
    }
