"""--policy-average in the Trainer: exploration acts with the actor, every evaluation with its
Polyak average (the update's arithmetic is in test_td3, save and restore in test_checkpoint)."""

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.run.training import Trainer

from .conftest import TINY


@pytest.mark.parametrize("num_envs", [1, 2])
def test_exploration_gets_the_actor_and_evaluations_get_its_average(num_envs, monkeypatch):
    trainer = Trainer(TrainConfig(**TINY, num_envs=num_envs, policy_average=0.2))
    try:
        agent = trainer.agent
        for variable in agent.actor_average.weights:  # tell the two apart
            variable.assign(variable * 0.5 + 0.01)
        handed = []

        def recording(method, label):
            def policy():
                snapshot = method()
                handed.append((label, snapshot.snapshot.kernels[0]))
                return snapshot

            return policy

        monkeypatch.setattr(agent, "numpy_policy", recording(agent.numpy_policy, "actor"))
        monkeypatch.setattr(agent, "evaluated_policy", recording(agent.evaluated_policy, "average"))
        trainer.run_cycle()
        explored = list(handed)
        handed.clear()
        trainer.evaluate()
        evaluated = list(handed)
    finally:
        trainer.close()
    assert explored and {label for label, _ in explored} == {"actor"}
    assert evaluated and {label for label, _ in evaluated} == {"average"}
    np.testing.assert_array_equal(evaluated[0][1], agent.actor_average.kernels[0].numpy())
    assert not np.array_equal(explored[0][1], evaluated[0][1])
