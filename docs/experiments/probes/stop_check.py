"""`python -m docs.experiments.probes.stop_check RUN EPOCH... [--episodes 300]`: kept checkpoints
on their run's best-check episodes, the fixed episodes `--stop-at-success` checks.

For each epoch's checkpoint, the success on the run's own stop-check episodes (the first
`--stop-check-episodes` of its best-check stream, else `--best-eval-episodes`: 100 by
default, 300 in the push preset; what its rule checked) and on the first `--episodes` of the
same stream (those, then more), run the way the Trainer runs its checks (two worker
processes, the checkpoint's NumPy policy). It tells where a stricter check would have
stopped a run that trained past its stop (`--stop-at-success 0 --keep 100`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from td3her_cli.config import TrainConfig
from td3her_cli.envs.rollout import joined
from td3her_cli.quiet import import_tensorflow
from td3her_cli.run.checkpoint import resolve_checkpoint, restore_trainer
from td3her_cli.run.training import Trainer, best_check_seeds


def check(checkpoint: Path, episodes: int, workers: int = 2) -> tuple[int, float, float]:
    """(the run's stop-check episodes n, success on them, success on the first `episodes`
    of their stream); `episodes` below n counts as n. Run as the Trainer runs its checks: the
    checkpoint's NumPy policy snapshot in worker envs. The SavedModel's TensorFlow arithmetic
    differs in the last bits, and that changes some Push episodes
    (docs/experiments/2026-11-26-push-stop-check.md)."""
    info = resolve_checkpoint(checkpoint)
    config = TrainConfig.from_dict(info.meta["config"])
    first = config.stop_check_count
    if first == 0:
        raise SystemExit(f"{checkpoint}: its run had no stop-check episodes")
    seeds = best_check_seeds(config.seed, max(episodes, first))
    trainer = Trainer(config.replace(num_envs=workers))
    try:
        restore_trainer(trainer, info)
        checked = trainer.run_evaluation(seeds[:first])
        rest = seeds[first:]
        more = trainer.run_evaluation(rest) if rest else None
    finally:
        trainer.close()
    total = joined(checked, more) if more else checked
    return first, checked.success_rate, total.success_rate


def main() -> None:
    """Print one line per epoch named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m docs.experiments.probes.stop_check")
    parser.add_argument("run", type=Path)
    parser.add_argument("epochs", type=int, nargs="+")
    parser.add_argument("--episodes", type=int, default=300)
    args = parser.parse_args()
    import_tensorflow(None)
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
