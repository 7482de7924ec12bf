"""--gate-lr-scale and --gate-action-l2: the update's values from the first epoch evaluation at
the stop gate on."""

import re
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from td3her_cli.config import TrainConfig
from td3her_cli.errors import UsageError
from td3her_cli.run.training import Trainer
from tests.conftest import TINY
from tests.test_stop_at_success import CheckedTrainer
from tests.test_td3 import make_agent, random_batch, weights


def changes(module, before):
    return [after - b for after, b in zip(weights(module), before)]


def test_a_scale_set_between_compiled_calls_scales_the_next_adam_steps(small_spec):
    rng = np.random.default_rng(3)
    first, second = random_batch(small_spec, 32, rng), random_batch(small_spec, 32, rng)
    plain, scaled = make_agent(small_spec, policy_delay=2), make_agent(small_spec, policy_delay=2)
    for agent in (plain, scaled):
        agent.update(first)  # traced (and XLA-compiled) at a scale of 1; no actor step yet
    scaled.knobs.set(lr_scale=0.25)
    steps = {}
    for name, agent in (("plain", plain), ("scaled", scaled)):
        critic, actor = weights(agent.critic), weights(agent.actor)
        agent.update(second)  # the critics' second step and the actor's first
        steps[name] = changes(agent.critic, critic), changes(agent.actor, actor)
    (critic_full, actor_full), (critic_quarter, actor_quarter) = steps["plain"], steps["scaled"]
    # Adam's moments do not depend on the rate: the same gradients, a quarter of the step.
    for a, b in zip(critic_full, critic_quarter):
        assert np.abs(a).max() > 1e-6
        np.testing.assert_allclose(b, 0.25 * a, rtol=1e-3, atol=3e-7)  # weight ulps
    # An actor's first Adam step is about the rate in every weight (its gradient follows the
    # critic just moved, which differs): compare the typical size of the steps.
    ratio = np.median(np.abs(np.concatenate([a.ravel() for a in actor_quarter]))) / np.median(
        np.abs(np.concatenate([a.ravel() for a in actor_full]))
    )
    assert 0.2 < ratio < 0.3
    assert scaled._compiled_update.experimental_get_tracing_count() == 1, "no retrace"


def test_an_action_penalty_set_between_compiled_calls_is_the_one_the_actor_steps_with(
    small_spec,
):
    rng = np.random.default_rng(5)
    first, second = random_batch(small_spec, 32, rng), random_batch(small_spec, 32, rng)
    changed = make_agent(small_spec, policy_delay=2, action_l2=0.0)
    built = make_agent(small_spec, policy_delay=2, action_l2=2.0)
    for agent in (changed, built):
        agent.update(first)  # critics only: the penalty plays no part yet
    changed.knobs.set(action_l2=2.0)
    before = weights(changed.actor)
    for agent in (changed, built):
        agent.update(second)  # the actor's first step
    assert any(np.abs(a - b).max() > 0 for a, b in zip(weights(changed.actor), before))
    for a, b in zip(weights(changed.actor), weights(built.actor)):
        np.testing.assert_array_equal(a, b)


def test_the_knobs_are_not_part_of_the_agents_checkpoint(small_spec, tmp_path):
    agent = make_agent(small_spec)
    written = tf.train.Checkpoint(agent=agent).write(str(tmp_path / "agent"))
    names = [name for name, _ in tf.train.list_variables(written)]
    assert names and not any("lr_scale" in name or "action_l2" in name for name in names)


def test_the_first_evaluation_at_the_gate_sets_the_knobs_for_good():
    config = TrainConfig(
        stop_at_success=0.97,
        stop_gate=0.95,
        stop_patience=2,
        action_l2=1.0,
        gate_lr_scale=0.25,
        gate_action_l2=2.0,
    )
    trainer = CheckedTrainer(config)
    seen = []
    for rate in (0.5, 0.9, 0.95, 0.6, 1.0):
        trainer.count_solved(SimpleNamespace(success_rate=rate))
        seen.append(trainer.agent.knobs.values())
    before, after = {"lr_scale": 1.0, "action_l2": 1.0}, {"lr_scale": 0.25, "action_l2": 2.0}
    assert seen == [before, before, after, after, after]
    untouched = CheckedTrainer(TrainConfig(stop_at_success=0.97, stop_gate=0.95, action_l2=1.0))
    untouched.count_solved(SimpleNamespace(success_rate=1.0))
    assert untouched.agent.knobs.values() == before, "the defaults change nothing"


def test_a_trainer_keeps_its_knobs_in_its_state():
    config = TrainConfig(**{**TINY, "stop_at_success": 0.9, "action_l2": 1.0})
    first, second = Trainer(config), Trainer(config)
    try:
        first.agent.knobs.set(lr_scale=0.5, action_l2=3.0)
        state = first.state_dict()
        assert state["knobs"] == {"lr_scale": 0.5, "action_l2": 3.0}
        second.load_state_dict(state)
        assert second.agent.knobs.values() == {"lr_scale": 0.5, "action_l2": 3.0}
        del state["knobs"]  # a checkpoint from before the knobs
        second.load_state_dict(state)
        assert second.agent.knobs.values() == {"lr_scale": 1.0, "action_l2": 1.0}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stop_at_success": 0.9, "gate_lr_scale": 0.0}, "--gate-lr-scale must be in (0, 1]"),
        ({"stop_at_success": 0.9, "gate_lr_scale": 1.5}, "--gate-lr-scale must be in (0, 1]"),
        ({"gate_lr_scale": 0.5}, "--gate-lr-scale needs a stop gate"),
        ({"stop_at_success": 0.9, "gate_action_l2": -0.5}, "--gate-action-l2 must be >= 0"),
        ({"gate_action_l2": 2.0}, "--gate-action-l2 needs a stop gate"),
    ],
)
def test_a_knob_out_of_range_or_without_a_gate_is_refused(fields, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig(**fields)
