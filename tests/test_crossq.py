"""--crossq: batch renormalisation against a NumPy reference, and the CrossQ update (no target
networks, the TD target from the online critics on a joint batch)."""

import numpy as np
import pytest
import tensorflow as tf

from td3her_cli.config import TrainConfig
from td3her_cli.core.networks import BatchRenorm
from td3her_cli.errors import UsageError

from .conftest import tiny_cli_args
from .test_td3 import make_agent, random_batch, weights


def renorm_reference(hidden, mean, var, calls):
    """NumPy batch renormalisation (gamma 1, beta 0) as BatchRenorm documents it."""
    eps = BatchRenorm.EPSILON
    batch_mean, batch_std = (
        hidden.mean(-2, keepdims=True),
        np.sqrt(hidden.var(-2, keepdims=True) + eps),
    )
    running_std = np.sqrt(var + eps)
    if calls >= BatchRenorm.WARMUP:
        r = np.clip(batch_std / running_std, 1 / BatchRenorm.R_MAX, BatchRenorm.R_MAX)
        d = np.clip((batch_mean - mean) / running_std, -BatchRenorm.D_MAX, BatchRenorm.D_MAX)
    else:
        r, d = 1.0, 0.0
    return (hidden - batch_mean) / batch_std * r + d


@pytest.mark.parametrize("calls", [0, BatchRenorm.WARMUP])
def test_batch_renorm_matches_a_numpy_reference_and_tracks_the_statistics(calls):
    rng = np.random.default_rng(0)
    hidden = rng.normal(3.0, 2.0, (2, 64, 5)).astype(np.float32)  # [E, B, H]
    norm = BatchRenorm((2, 1, 5), "test")
    mean = rng.normal(0.0, 1.0, (2, 1, 5)).astype(np.float32)
    # small running variances clip r from above and d, large ones clip r from below
    var = np.tile(np.array([0.1, 100.0, 1.0, 0.1, 100.0], np.float32), (2, 1, 1))
    running_std = np.sqrt(var + BatchRenorm.EPSILON)
    r = np.sqrt(hidden.var(1, keepdims=True) + BatchRenorm.EPSILON) / running_std
    d = (hidden.mean(1, keepdims=True) - mean) / running_std
    assert (r > BatchRenorm.R_MAX).any() and (r < 1 / BatchRenorm.R_MAX).any()
    assert (np.abs(d) > BatchRenorm.D_MAX).any()  # the clips are exercised
    norm.mean.assign(mean)
    norm.var.assign(var)
    norm.calls.assign(calls)
    out = norm(tf.constant(hidden), training=True).numpy()
    np.testing.assert_allclose(out, renorm_reference(hidden, mean, var, calls), atol=1e-4)
    m = BatchRenorm.MOMENTUM
    np.testing.assert_allclose(
        norm.mean.numpy(), m * mean + (1 - m) * hidden.mean(1, keepdims=True), rtol=1e-5
    )
    np.testing.assert_allclose(
        norm.var.numpy(), m * var + (1 - m) * hidden.var(1, keepdims=True), rtol=1e-4
    )
    # inference: the running statistics, nothing updated
    before = norm.mean.numpy().copy()
    out = norm(tf.constant(hidden), training=False).numpy()
    expected = (hidden - before) / np.sqrt(norm.var.numpy() + BatchRenorm.EPSILON)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_array_equal(norm.mean.numpy(), before)


def test_a_crossq_agent_has_no_targets_and_its_updates_fit_a_fixed_batch(small_spec):
    agent = make_agent(small_spec, crossq=True, xla=False, policy_delay=2)
    assert agent.actor_target is None and agent.critic_target is None
    assert len(agent.critic.norms) == 2
    assert any(w is agent.critic.norms[0].gamma for w in agent.critic.weights)  # trained
    batch = random_batch(small_spec, 64, np.random.default_rng(1))
    actor_before = weights(agent.actor)
    losses = [agent.update(batch).critic1_loss for _ in range(60)]
    assert np.isfinite(losses).all() and np.mean(losses[-10:]) < np.mean(losses[:10])
    assert agent.critic.norms[0].calls.numpy() == 60  # one training call per update
    assert any((a != b).any() for a, b in zip(actor_before, weights(agent.actor)))


def test_the_crossq_target_uses_the_online_critics_on_the_joint_batch(small_spec):
    """The loss the update minimises equals one computed by hand from the online critics run
    on (s, a) and (s', a') together, with the same smoothing noise."""
    agent = make_agent(small_spec, crossq=True, xla=False, gamma=0.9)
    batch = random_batch(small_spec, 32, np.random.default_rng(2))
    inputs = np.concatenate([batch.observation, batch.desired_goal], -1)
    next_inputs = np.concatenate([batch.next_observation, batch.desired_goal], -1)
    agent.noise_generator = tf.random.Generator.from_seed(5)
    q_values, target = agent._crossq_q_and_target(
        tf.constant(inputs),
        tf.constant(next_inputs),
        batch.action,
        batch.reward,
        batch.done,
        batch.discount,
    )
    losses = tf.reduce_mean(tf.square(q_values - target[None, :]), axis=1)

    agent.noise_generator = tf.random.Generator.from_seed(5)
    next_action = agent.smoothed_next_action(
        agent.actor, tf.constant(next_inputs), (32, small_spec.action_dim)
    )
    for norm in agent.critic.norms:  # undo the statistics update of the first call
        norm.calls.assign(0)
    both = np.concatenate(
        [np.concatenate([inputs, batch.action], -1), np.concatenate([next_inputs, next_action], -1)]
    )
    q = agent.critic(tf.constant(both), training=True).numpy()[:, :, 0]  # [2, 64]
    target = batch.reward + batch.discount * (1 - batch.done) * q[:, 32:].min(0)
    target = np.clip(target, *agent.target_bounds)
    expected = ((q[:, :32] - target) ** 2).mean(1)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-4)


def test_crossq_with_bfloat16_is_a_usage_error():
    with pytest.raises(UsageError, match="--crossq runs its critics in float32"):
        TrainConfig(crossq=True, precision="bfloat16")


@pytest.mark.slow
def test_a_crossq_run_resumes_as_if_uninterrupted(tmp_path, run_cli):
    from .conftest import metrics_rows_without_timings

    args = [*tiny_cli_args(epochs=2), "--crossq"]
    code, _, err = run_cli(["train", *args, "--out", str(tmp_path / "whole")])
    assert code == 0, err
    code, _, err = run_cli(["train", *args, "--epochs", "1", "--out", str(tmp_path / "split")])
    assert code == 0, err
    code, _, err = run_cli(["train", "--resume", str(tmp_path / "split"), "--epochs", "2"])
    assert code == 0, err
    whole = metrics_rows_without_timings(tmp_path / "whole")
    assert whole == metrics_rows_without_timings(tmp_path / "split")
    assert np.isfinite(whole[-1]["critic1_loss"])
