"""`python -m bench.stop_check RUN EPOCH... [--episodes 300]`: kept checkpoints on their run's
best-check episodes, the fixed episodes `--stop-at-success` checks.

For each epoch's checkpoint, the success on the run's own stop-check episodes (the first
`--stop-check-episodes` of its best-check stream, else `--best-eval-episodes`: 100 by
default, 300 in the push preset; what its rule checked) and on the first `--episodes` of the
same stream (those, then more). Two worker processes run the
episodes. It tells where a stricter check would have stopped a run that trained past its stop
(`--stop-at-success 0 --keep 100`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from td3her_cli.cli import policy_in_env, policy_loader
from td3her_cli.envs import make_env
from td3her_cli.parallel import EpisodeWorkers
from td3her_cli.rollout import EpisodeJob, evaluate, joined
from td3her_cli.training import best_check_seeds


def check(checkpoint: Path, episodes: int, workers: int = 2) -> tuple[int, float, float]:
    """(the run's stop-check episodes n, success on them, success on the first `episodes`
    of their stream); `episodes` below n counts as n."""
    with policy_in_env(checkpoint, False, None, None, 0, make_env) as (info, _, spec, _):
        config = info.meta["config"]
        first = config.get("stop_check_episodes") or config["best_eval_episodes"]
        if first == 0:
            raise SystemExit(f"{checkpoint}: its run had no stop-check episodes")
        episodes = max(episodes, first)
        seeds = best_check_seeds(config["seed"], episodes)
        pool = EpisodeWorkers(spec.env_id, tuple(config.get("env_modules", ())), workers, spec)
        try:
            pool.load_policy(policy_loader(info, spec, None))
            checked = evaluate(pool.episodes([EpisodeJob(s) for s in seeds[:first]]))
            rest = seeds[first:]
            more = evaluate(pool.episodes([EpisodeJob(s) for s in rest])) if rest else None
        finally:
            pool.close()
    total = joined(checked, more) if more else checked
    return first, checked.success_rate, total.success_rate


def main() -> None:
    """Print one line per epoch named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.stop_check")
    parser.add_argument("run", type=Path)
    parser.add_argument("epochs", type=int, nargs="+")
    parser.add_argument("--episodes", type=int, default=300)
    args = parser.parse_args()
    for epoch in args.epochs:
        path = args.run / "checkpoints" / f"epoch_{epoch:03d}"
        first, checked, whole = check(path, args.episodes)
        total = max(args.episodes, first)
        print(
            f"epoch {epoch}: {checked:.1%} on its {first} stop-check episodes, "
            f"{whole:.1%} on {total}"
        )


if __name__ == "__main__":
    main()
