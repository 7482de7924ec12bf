"""Choosing the `best` checkpoint, and what best.json's score is (and is not).

An epoch's evaluation (e.g. 20 episodes) is a noisy estimate: the highest of many noisy
estimates overstates the policy behind it (30 % on 20 episodes was 8 % on 100). So an epoch
whose evaluation beats the current best only becomes a *candidate*: it is re-evaluated on
`best_eval_episodes` episodes, the same fixed best-check episodes for every candidate (a paired
comparison), and promoted only if that larger evaluation beats the best's.

This makes the winner's curse smaller; it does not remove it. best.json's figure is the
maximum over the candidates of their scores on those same best-check episodes, so it still
overstates the policy it names (the more candidates, the more), and so does its 95 % Wilson
interval. best.json therefore records it as `selection_score`: what the checkpoint was picked
by, not a result. A result comes from episodes nothing was chosen on, the held-out stream:
`td3her evaluate RUN --latest --seed 1000 --episodes 300` (without --latest: best itself).

best.json files written before `selection_score` existed hold its fields (success_rate,
mean_return, episodes, ...) at the top level; `selection_score()` reads both.
"""

from __future__ import annotations

from collections.abc import Callable

from td3her_cli.envs.rollout import EvalResult

SELECTION_KEY = "selection_score"


def selection_score(best: dict) -> dict:
    """The selection score of a best record (best.json, or `best` in a checkpoint's
    state.json): the EvalResult dict of the best check it won, new format or old."""
    return best[SELECTION_KEY] if SELECTION_KEY in best else best


def is_candidate(evaluation: EvalResult, best: dict | None) -> bool:
    """Whether an epoch's evaluation beats the best's selection success rate."""
    return best is None or evaluation.success_rate > selection_score(best)["success_rate"]


def is_better(confirmation: EvalResult, best: dict | None) -> bool:
    """Whether a candidate's re-evaluation beats the best's (success, then mean return)."""
    if best is None:
        return True
    mine = (confirmation.success_rate, confirmation.mean_return)
    score = selection_score(best)
    return mine > (score["success_rate"], score["mean_return"])


def cannot_beat(best: dict | None, episodes: int) -> Callable[[int, int], bool] | None:
    """A `give_up(successes, run)` test for a candidate's re-evaluation on `episodes`
    episodes: true once even a success in every remaining episode could not reach the best's
    success count. Stopping then changes no decision (such a result always loses in
    is_better: its success rate is below the best's), it only saves the remaining episodes."""
    score = selection_score(best) if best is not None else None
    if score is None or score.get("episodes") != episodes:
        return None
    needed = round(score["success_rate"] * episodes)
    return lambda successes, run: successes + (episodes - run) < needed


def best_record(epoch: int, evaluation: EvalResult, confirmation: EvalResult) -> dict:
    """What best.json says of a promoted checkpoint (besides its name)."""
    return {
        "epoch": epoch,
        SELECTION_KEY: confirmation.to_dict(),
        "epoch_evaluation": evaluation.to_dict(),
        "rule": "re-evaluated on the fixed best-check episodes; promoted if better than best. "
        "selection_score is the highest of the candidates' scores on those same episodes: it "
        "picked this checkpoint and overstates it; held-out episodes measure it",
    }


def selection_line(best: dict) -> str:
    """One line on best.json for people: the checkpoint and its selection score, labelled as
    such (the held-out command is the caller's to add)."""
    score = selection_score(best)
    name = best.get("checkpoint", f"epoch {best.get('epoch')}")
    return (
        f"best checkpoint {name}: selection score {score['success_rate']:.0%} on the "
        f"{score['episodes']} episodes it was picked on (the highest of the candidates there, "
        "so it overstates the policy; not a result)"
    )
