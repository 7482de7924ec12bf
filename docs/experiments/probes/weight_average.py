"""`python -m docs.experiments.probes.weight_average RUN [--epoch E] [--windows 1,3,5,10]
[--seeds 0,1,2]`: the last checkpoint's actor against the mean of the last K checkpoints' actors.

An offline probe of policy averaging (the idea behind an EMA of the actor's weights): for
each window K, the actor weights of epochs E-K+1..E are averaged element-wise, epoch E's
normaliser statistics are kept, and the result plays `td3her evaluate`'s episodes for each
`--seeds` (`evaluate --seed S --episodes N`'s seeds) in two worker envs, the Trainer's way
(the NumPy policy snapshot). K = 1 is the plain last checkpoint, run the same way. It needs
a run trained with `--keep` at least the largest window. For a run trained with
`--policy-average`, the actors averaged are the online ones (K = 1: the actor itself), not
the averaged copy the run evaluated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from td3her_cli.config import TrainConfig
from td3her_cli.envs.rollout import evaluation_seeds, joined
from td3her_cli.quiet import import_tensorflow
from td3her_cli.run.checkpoint import resolve_checkpoint, restore_trainer
from td3her_cli.run.training import Trainer


def probe_config(config: TrainConfig) -> TrainConfig:
    """The run's config as the probe runs it: two worker envs, and its own actor evaluated
    (no averaged copy, which would otherwise be what plays)."""
    return config.replace(num_envs=2, policy_average=0.0)


def actor_weights(trainer: Trainer, checkpoint: Path) -> list[np.ndarray]:
    """The actor's kernels and biases stored in one checkpoint (read into the trainer)."""
    import tensorflow as tf

    prefix = checkpoint / "trainer" / "agent"
    tf.train.Checkpoint(agent=trainer.agent).read(str(prefix)).expect_partial()
    return [v.numpy() for v in trainer.agent.actor.weights]


def averaged_actor(trainer: Trainer, checkpoints: list[Path]) -> None:
    """Set the trainer's actor to the element-wise mean of these checkpoints' actors; the
    last checkpoint read (the last in the list) supplies the normaliser statistics."""
    stacks = [actor_weights(trainer, path) for path in checkpoints]
    for index, variable in enumerate(trainer.agent.actor.weights):
        variable.assign(np.mean([weights[index] for weights in stacks], axis=0))


def main() -> None:
    """Print, per window, the success on each seed's episodes and on all of them."""
    parser = argparse.ArgumentParser(prog="python -m docs.experiments.probes.weight_average")
    parser.add_argument("run", type=Path)
    parser.add_argument("--epoch", type=int, default=None, help="last epoch (default: newest)")
    parser.add_argument("--windows", default="1,3,5,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    import_tensorflow(None)
    root = args.run / "checkpoints"
    info = resolve_checkpoint(args.run, latest=True)
    last = args.epoch if args.epoch is not None else info.meta["epoch"]
    info = resolve_checkpoint(root / f"epoch_{last:03d}")
    config = TrainConfig.from_dict(info.meta["config"])
    trainer = Trainer(probe_config(config))
    seeds = [int(s) for s in args.seeds.split(",")]
    try:
        restore_trainer(trainer, info)
        for window in (int(k) for k in args.windows.split(",")):
            epochs = range(last - window + 1, last + 1)
            averaged_actor(trainer, [root / f"epoch_{e:03d}" for e in epochs])
            results = [
                trainer.run_evaluation(evaluation_seeds(seed, args.episodes)) for seed in seeds
            ]
            total = results[0]
            for result in results[1:]:
                total = joined(total, result)
            parts = "/".join(f"{r.success_rate:.0%}" for r in results)
            print(
                f"epochs {epochs.start}-{last} (K={window}): {total.success_rate:.1%} over "
                f"{len(seeds) * args.episodes} ({parts})",
                flush=True,
            )
    finally:
        trainer.close()


if __name__ == "__main__":
    main()
