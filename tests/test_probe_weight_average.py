"""The weight_average probe sets the actor to the element-wise mean of kept checkpoints' actors."""

import numpy as np

import docs.experiments.probes.weight_average as weight_average
from td3her_cli.config import TrainConfig
from td3her_cli.run.checkpoint import resolve_checkpoint
from td3her_cli.run.training import Trainer

from .conftest import TINY


def test_the_averaged_actor_is_the_mean_and_keeps_the_last_normalisers(tiny_run):
    root = tiny_run / "checkpoints"
    checkpoints = [root / "epoch_001", root / "epoch_002"]
    info = resolve_checkpoint(checkpoints[-1])
    trainer = Trainer(TrainConfig.from_dict(info.meta["config"]))
    try:
        first, last = (weight_average.actor_weights(trainer, path) for path in checkpoints)
        assert any(np.abs(a - b).max() > 0 for a, b in zip(first, last)), "the epochs differ"
        weight_average.actor_weights(trainer, checkpoints[0])  # leave epoch 1's statistics
        weight_average.averaged_actor(trainer, checkpoints)
        for variable, a, b in zip(trainer.agent.actor.weights, first, last):
            np.testing.assert_allclose(variable.numpy(), (a + b) / 2, rtol=1e-6, atol=1e-7)
        mean = trainer.agent.obs_normalizer.mean.numpy()
        weight_average.actor_weights(trainer, checkpoints[-1])
        np.testing.assert_array_equal(mean, trainer.agent.obs_normalizer.mean.numpy())
    finally:
        trainer.close()


def test_the_probe_plays_the_actor_it_averages_even_for_a_run_with_an_averaged_copy():
    config = weight_average.probe_config(TrainConfig(**TINY, policy_average=0.2))
    trainer = Trainer(config.replace(num_envs=1))
    try:
        assert trainer.agent.evaluated_actor is trainer.agent.actor
    finally:
        trainer.close()
