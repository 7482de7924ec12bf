"""What the checkpoint-diagnosis probes share (`goal_height`, `failures`, `stack_outcomes`,
`flip_outcomes`): their common arguments, `td3her evaluate`'s episodes of a checkpoint, run one
by one in its env, and the outcome table."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path


def checkpoint_arguments(doc: str) -> argparse.ArgumentParser:
    """A parser described by doc's first paragraph, with RUN, --latest, --episodes and --seed
    (the evaluation seed, as `td3her evaluate --seed`)."""
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    parser.add_argument("run", type=Path, help="A run or checkpoint directory.")
    parser.add_argument("--latest", action="store_true", help="The latest checkpoint, not best.")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="evaluate's --seed")
    return parser


@contextlib.contextmanager
def evaluation_episodes(args: argparse.Namespace, accepts: Callable, refusal: str, start=None):
    """Load args.run's checkpoint and make its env; exit with "ENV: refusal" unless
    accepts(env). Yields (heading, env, episodes): a line naming the env, checkpoint and
    episodes, and an iterator over `td3her evaluate`'s deterministic episodes (the same seeds,
    so the same success rate). `start`: an envs.starts.EpisodeStart each episode starts from
    after its reset (default: the reset, as evaluate)."""
    from td3her_cli.cli.common import policy_in_env
    from td3her_cli.envs.goal_env import make_env
    from td3her_cli.envs.rollout import collect_episode, deterministic_episodes, evaluation_seeds

    with policy_in_env(args.run, args.latest, None, None, args.seed, make_env) as loaded:
        info, env, spec, policy = loaded
        if not accepts(env):
            raise SystemExit(f"{spec.env_id}: {refusal}")
        heading = (
            f"{spec.env_id}, {info.path}, {args.episodes} episodes (evaluate --seed {args.seed})"
        )
        seeds = evaluation_seeds(args.seed, args.episodes)
        if start is None:
            yield heading, env, deterministic_episodes(env, spec, policy, seeds)
        else:
            yield heading, env, (collect_episode(env, spec, policy, s, start=start) for s in seeds)


def print_outcome_table(heading: str, flags: dict, successes) -> None:
    """Print `heading` and a Markdown table: per outcome flag (name -> per-episode booleans),
    how many successful and failed episodes it holds for."""
    import numpy as np

    successes = np.asarray(successes, dtype=bool)
    print(heading)
    print()
    print(f"| outcome | successes ({successes.sum()}) | failures ({(~successes).sum()}) |")
    print("|---|---|---|")
    for name, flag in flags.items():
        print(f"| {name} | {int(flag[successes].sum())} | {int(flag[~successes].sum())} |")
