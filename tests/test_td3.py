"""TD3 update: target against a NumPy reference, delayed actor, Polyak arithmetic, one trace."""

from dataclasses import astuple

import numpy as np
import pytest
import tensorflow as tf

from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import Batch, TD3Agent, td_target_bounds
from td3her_cli.core.policy_snapshot import LEAKY_SLOPE, numpy_forward
from td3her_cli.run.checkpoint import policy_module
from td3her_cli.run.host import simd_flags


def make_agent(spec, **overrides):
    config = TrainConfig(**{"hidden": (16, 16), "normalize": False, **overrides})
    return TD3Agent(config, spec)


def random_batch(spec, size, rng):
    return Batch(
        observation=rng.standard_normal((size, spec.obs_dim)).astype(np.float32),
        desired_goal=rng.standard_normal((size, spec.goal_dim)).astype(np.float32),
        action=rng.uniform(-1, 1, (size, spec.action_dim)).astype(np.float32),
        reward=-(rng.random(size) < 0.5).astype(np.float32),
        next_observation=rng.standard_normal((size, spec.obs_dim)).astype(np.float32),
        done=(rng.random(size) < 0.3).astype(np.float32),
        discount=rng.choice([0.9, 0.9**2, 0.9**3], size).astype(np.float32),  # n-step rows
    )


def weights(module):
    return [v.numpy().copy() for v in module.weights]


def test_td_target_matches_numpy_reference(small_spec):
    gamma, sigma, clip = 0.9, 1.0, 0.3
    agent = make_agent(small_spec, gamma=gamma, target_noise=sigma, target_noise_clip=clip)
    # Spread target-critic values widely so both ends of the [-10, 0] clip bind.
    last = agent.critic_target.kernels[-1]
    last.assign(np.random.default_rng(9).normal(0.0, 3.0, last.shape).astype(np.float32))
    rng = np.random.default_rng(0)
    batch = random_batch(small_spec, 64, rng)
    next_inputs = np.concatenate([batch.next_observation, batch.desired_goal], -1)

    agent.noise_generator = tf.random.Generator.from_seed(123)
    target = agent.compute_td_target(
        tf.constant(next_inputs),
        batch.reward,
        batch.done,
        batch.discount,
        (64, small_spec.action_dim),
    ).numpy()

    noise = tf.random.Generator.from_seed(123).normal((64, small_spec.action_dim)).numpy()
    smoothing = np.clip(sigma * noise, -clip, clip)
    assert (np.abs(sigma * noise) > clip).any(), "the noise clip must matter in this test"
    actor_t = agent.actor_target
    next_action = np.clip(
        numpy_forward(
            [k.numpy() for k in actor_t.kernels],
            [b.numpy() for b in actor_t.biases],
            next_inputs,
            tanh=True,
        )
        + smoothing,
        -1.0,
        1.0,
    )
    critic_inputs = np.concatenate([next_inputs, next_action], -1)
    critic_t = agent.critic_target
    q_twins = [
        numpy_forward(
            [k.numpy()[i] for k in critic_t.kernels],
            [b.numpy()[i] for b in critic_t.biases],
            critic_inputs,
            tanh=False,
        )[:, 0]
        for i in range(2)
    ]
    assert (q_twins[0] != q_twins[1]).all()
    raw = batch.reward + batch.discount * (1.0 - batch.done) * np.minimum(*q_twins)
    low, high = -1.0 / (1.0 - gamma), 0.0
    assert (raw < low).any() and (raw > high).any(), "the target clip must matter in this test"
    expected = np.clip(raw, low, high)
    np.testing.assert_allclose(target, expected, rtol=1e-4, atol=1e-4)
    # done masking: terminal rows are the reward alone (within the clip)
    terminal = batch.done == 1.0
    np.testing.assert_allclose(target[terminal], batch.reward[terminal], atol=1e-6)
    # The rows' own discounts (gamma^m of n-step rows) are used, not gamma for every row.
    one_step = np.clip(batch.reward + gamma * (1.0 - batch.done) * np.minimum(*q_twins), low, high)
    assert np.abs(target - one_step).max() > 1e-2


def test_the_update_uses_each_rows_discount(small_spec):
    batch = random_batch(small_spec, 64, np.random.default_rng(1))
    losses = []
    for discount in (batch.discount, np.zeros_like(batch.discount)):
        agent = make_agent(small_spec, target_noise=0.0)
        last = agent.critic_target.kernels[-1]  # target Q values far from 0, so discounts show
        last.assign(np.random.default_rng(9).normal(0.0, 3.0, last.shape).astype(np.float32))
        losses.append(agent.update(batch._replace(discount=discount)).critic1_loss)
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)


def test_target_not_clipped_for_dense_rewards(small_spec):
    dense = small_spec.__class__(**{**small_spec.__dict__, "reward_bounds": None})
    assert make_agent(dense).target_bounds is None
    assert td_target_bounds((-1.0, 0.0), 0.98) == pytest.approx((-50.0, 0.0))
    assert td_target_bounds((0.0, 1.0), 0.5) == pytest.approx((0.0, 2.0))


def test_actor_updates_exactly_every_policy_delay(small_spec):
    agent = make_agent(small_spec, policy_delay=3)
    rng = np.random.default_rng(1)
    changed = []
    for _ in range(9):
        before = weights(agent.actor)
        agent.update(random_batch(small_spec, 32, rng))
        after = weights(agent.actor)
        changed.append(any((a != b).any() for a, b in zip(before, after)))
    assert changed == [False, False, True] * 3
    assert int(agent.actor_updates.numpy()) == 3
    assert int(agent.critic_updates.numpy()) == 9


def test_polyak_averaging_arithmetic(small_spec):
    tau = 0.25
    agent = make_agent(small_spec, policy_delay=1, tau=tau)
    rng = np.random.default_rng(2)
    agent.update(random_batch(small_spec, 32, rng))  # move online away from target
    actor_target_before = weights(agent.actor_target)
    critic_target_before = weights(agent.critic_target)
    agent.update(random_batch(small_spec, 32, rng))
    for module, target_module, before in (
        (agent.actor, agent.actor_target, actor_target_before),
        (agent.critic, agent.critic_target, critic_target_before),
    ):
        for online, target, old in zip(weights(module), weights(target_module), before):
            np.testing.assert_allclose(target, (1 - tau) * old + tau * online, rtol=1e-5, atol=1e-6)


def test_the_averaged_actor_is_a_polyak_average_at_each_actor_update(small_spec):
    beta = 0.3
    agent = make_agent(small_spec, policy_delay=2, policy_average=beta)
    reference = weights(agent.actor)  # it starts as a copy of the actor
    rng = np.random.default_rng(6)
    actor_updates = 0
    for step in range(1, 11):
        agent.update(random_batch(small_spec, 32, rng))
        if step % 2 == 0:  # the actor moved: so does its average, once
            # the running mean of the actors so far (1, 1/2, 1/3), then beta (0.3, 0.3)
            rate = max(beta, 1.0 / (actor_updates + 1))
            reference = [(1 - rate) * r + rate * a for r, a in zip(reference, weights(agent.actor))]
            actor_updates += 1
    for averaged, expected in zip(weights(agent.actor_average), reference):
        np.testing.assert_allclose(averaged, expected, rtol=1e-5, atol=1e-6)
    assert any(
        np.abs(a - b).max() > 1e-4
        for a, b in zip(weights(agent.actor_average), weights(agent.actor))
    ), "the average must lag the actor in this test"


def test_exploration_acts_with_the_actor_evaluation_and_saved_policy_with_its_average(small_spec):
    agent = make_agent(small_spec, policy_delay=1, policy_average=0.1)
    rng = np.random.default_rng(7)
    for _ in range(4):
        agent.update(random_batch(small_spec, 32, rng))
    observation = rng.standard_normal((6, 4)).astype(np.float32)
    goal = rng.standard_normal((6, 2)).astype(np.float32)
    inputs = np.concatenate([observation, goal], -1)

    def forward(module):
        return numpy_forward(weights(module)[::2], weights(module)[1::2], inputs, tanh=True)

    online, averaged = forward(agent.actor), forward(agent.actor_average)
    assert np.abs(online - averaged).max() > 1e-4
    np.testing.assert_allclose(agent.numpy_policy()(observation, goal), online, atol=1e-5)
    np.testing.assert_allclose(agent.evaluated_policy()(observation, goal), averaged, atol=1e-5)
    served = policy_module(agent).serve(observation, goal)["agent_action"].numpy()
    np.testing.assert_allclose(served, averaged, atol=1e-5)


def test_the_averaged_actor_changes_nothing_that_is_learned(small_spec):
    rng = np.random.default_rng(8)
    batches = [random_batch(small_spec, 32, rng) for _ in range(9)]
    stacked = Batch(*(np.stack(fields) for fields in zip(*batches)))
    plain, averaged = make_agent(small_spec), make_agent(small_spec, policy_average=0.05)
    plain_metrics, averaged_metrics = plain.update_many(stacked), averaged.update_many(stacked)
    np.testing.assert_array_equal(  # NaN (no actor loss yet) equals NaN here
        [astuple(m) for m in plain_metrics], [astuple(m) for m in averaged_metrics]
    )
    for module in ("actor", "actor_target", "critic", "critic_target"):
        for a, b in zip(weights(getattr(plain, module)), weights(getattr(averaged, module))):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        plain.noise_generator.state.numpy(), averaged.noise_generator.state.numpy()
    )


def test_without_averaging_the_agent_and_its_initial_weights_are_unchanged(small_spec):
    plain, averaged = make_agent(small_spec), make_agent(small_spec, policy_average=0.01)
    assert plain.actor_average is None and plain.evaluated_actor is plain.actor
    for module in ("actor", "actor_target", "critic", "critic_target"):
        for a, b in zip(weights(getattr(plain, module)), weights(getattr(averaged, module))):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(weights(averaged.actor), weights(averaged.actor_average)):
        np.testing.assert_array_equal(a, b)


def test_targets_start_as_copies_and_init_is_he_normal_then_small_output(small_spec):
    agent = make_agent(small_spec)
    for online, target in zip(weights(agent.actor), weights(agent.actor_target)):
        np.testing.assert_array_equal(online, target)
    kernel = agent.critic.kernels[1].numpy()  # [2, 16, 16], fan-in 16
    assert kernel.std() == pytest.approx(np.sqrt(2.0 / 16), rel=0.2)
    assert np.abs(kernel).max() <= 2.0 * np.sqrt(2.0 / 16) / 0.8796 + 1e-6  # truncated at 2 std
    assert not np.array_equal(kernel[0], kernel[1]), "the twins must start different"
    for output_kernel in (agent.actor.kernels[-1].numpy(), agent.critic.kernels[-1].numpy()):
        assert np.abs(output_kernel).max() <= 3e-3 and output_kernel.std() > 1e-3


def test_update_traces_once_and_losses_fall(small_spec):
    agent = make_agent(small_spec, critic_lr=1e-2)
    rng = np.random.default_rng(3)
    fixed = random_batch(small_spec, 64, rng)
    first = agent.update(fixed)
    for size in (64, 17, 64):
        agent.update(random_batch(small_spec, size, rng))
    for _ in range(100):
        last = agent.update(fixed)
    assert agent._compiled_update.experimental_get_tracing_count() == 1
    assert last.critic1_loss < first.critic1_loss
    assert np.isfinite([last.actor_loss, last.critic2_loss, last.mean_q]).all()


def test_update_many_equals_sequential_updates(small_spec):
    rng = np.random.default_rng(4)
    batches = [random_batch(small_spec, 32, rng) for _ in range(7)]
    stacked = Batch(*(np.stack(fields) for fields in zip(*batches)))
    one_by_one, together = make_agent(small_spec), make_agent(small_spec)
    sequential = [one_by_one.update(batch) for batch in batches]
    fused = together.update_many(stacked)
    for a, b in zip(sequential, fused):
        np.testing.assert_allclose(
            [a.critic1_loss, a.critic2_loss, a.actor_loss, a.mean_q],
            [b.critic1_loss, b.critic2_loss, b.actor_loss, b.mean_q],
            rtol=1e-5,
            atol=1e-6,
        )
    for x, y in zip(weights(one_by_one.actor), weights(together.actor)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    assert int(together.actor_updates.numpy()) == 2  # steps 3 and 6 of 7


def test_numpy_policy_matches_the_graph_actor(small_spec):
    agent = make_agent(small_spec, normalize=True)
    rng = np.random.default_rng(5)
    agent.update_normalizers(rng.normal(3, 2, (100, 4)), rng.normal(-1, 0.5, (100, 2)))
    observation = rng.normal(3, 2, (9, 4)).astype(np.float32)
    observation[0, 0] = 1e6  # clipped to +/-200, then to +/-5 after normalising
    goal = rng.normal(-1, 0.5, (9, 2)).astype(np.float32)
    graph = agent.actor(agent._inputs(observation, goal)).numpy()
    np.testing.assert_allclose(agent.numpy_policy()(observation, goal), graph, atol=1e-5)


def ensemble_q(critic, inputs):
    """Every ensemble member's Q in NumPy: [N, B]."""
    count = critic.kernels[0].shape[0]
    return np.stack(
        [
            numpy_forward(
                [k.numpy()[i] for k in critic.kernels],
                [b.numpy()[i] for b in critic.biases],
                inputs,
                tanh=False,
            )[:, 0]
            for i in range(count)
        ]
    )


def test_redq_target_is_the_min_over_a_fresh_random_subset(small_spec):
    from itertools import combinations

    gamma = 0.9
    agent = make_agent(small_spec, gamma=gamma, critics=5, target_critics=2, target_noise=0.0)
    rng = np.random.default_rng(3)
    batch = random_batch(small_spec, 32, rng)
    next_inputs = np.concatenate([batch.next_observation, batch.desired_goal], -1)
    actor_t = agent.actor_target
    next_action = numpy_forward(
        [k.numpy() for k in actor_t.kernels],
        [b.numpy() for b in actor_t.biases],
        next_inputs,
        tanh=True,
    )
    q_all = ensemble_q(agent.critic_target, np.concatenate([next_inputs, next_action], -1))
    low, high = agent.target_bounds
    candidates = {
        pair: np.clip(
            batch.reward + batch.discount * (1 - batch.done) * q_all[list(pair)].min(0), low, high
        )
        for pair in combinations(range(5), 2)
    }
    seen = set()
    for _ in range(40):
        target = agent.compute_td_target(
            tf.constant(next_inputs),
            batch.reward,
            batch.done,
            batch.discount,
            (32, small_spec.action_dim),
        ).numpy()
        matches = [p for p, c in candidates.items() if np.allclose(target, c, atol=1e-5)]
        assert len(matches) >= 1, "one subset of 2 critics for the whole batch"
        seen.update(matches)
    assert len(seen) >= 6, f"the subset is drawn afresh each update (saw {sorted(seen)})"
    everything = make_agent(small_spec, critics=5, target_critics=5, target_noise=0.0)
    assert everything.critic.kernels[0].shape[0] == 5


def test_redq_actor_follows_the_ensemble_mean(small_spec):
    agent = make_agent(small_spec, critics=4, target_critics=2, policy_delay=1, action_l2=0.5)
    batch = random_batch(small_spec, 32, np.random.default_rng(4))
    inputs = np.concatenate([batch.observation, batch.desired_goal], -1)
    action = numpy_forward(
        [k.numpy() for k in agent.actor.kernels],
        [b.numpy() for b in agent.actor.biases],
        inputs,
        tanh=True,
    )
    q_all = ensemble_q(agent.critic, np.concatenate([inputs, action], -1))  # before the update
    expected = -q_all.mean() + 0.5 * np.mean(action**2)
    actor_loss = agent._actor_and_target_step(tf.constant(inputs)).numpy()
    np.testing.assert_allclose(actor_loss, expected, rtol=1e-5, atol=1e-5)
    assert not np.isclose(-q_all[0].mean() + 0.5 * np.mean(action**2), expected, atol=1e-4)


def to_bfloat16(values):
    """float32 -> the nearest bfloat16 (ties to even), held in float32: a NumPy reference."""
    bits = np.asarray(values, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def bfloat16_forward(kernels, biases, inputs):
    """The MLP's mixed-precision forward in NumPy: bfloat16 hidden layers (each matmul summed
    in float32, then rounded), a float32 output layer."""
    hidden = to_bfloat16(inputs)
    for kernel, bias in zip(kernels[:-1], biases[:-1]):
        hidden = to_bfloat16(hidden @ to_bfloat16(kernel))
        hidden = to_bfloat16(hidden + to_bfloat16(bias))
        hidden = np.where(hidden > 0, hidden, to_bfloat16(hidden * to_bfloat16(LEAKY_SLOPE)))
    return hidden @ kernels[-1] + biases[-1]


def test_bfloat16_hidden_layers_match_a_numpy_reference(small_spec):
    agent = make_agent(small_spec, hidden=(64, 64))
    inputs = np.random.default_rng(6).normal(0, 2, (32, 6)).astype(np.float32)
    kernels = [k.numpy() for k in agent.actor.kernels]
    biases = [b.numpy() for b in agent.actor.biases]
    last = agent.actor.kernels[-1]  # large output weights, so the actions leave tanh's zero
    last.assign(np.random.default_rng(7).normal(0, 0.3, last.shape).astype(np.float32))
    kernels[-1] = last.numpy()
    for seed, bias in enumerate(agent.actor.biases[:2], start=8):
        bias.assign(np.random.default_rng(seed).normal(0, 0.5, bias.shape).astype(np.float32))
    biases[:2] = [b.numpy() for b in agent.actor.biases[:2]]

    mixed = agent.actor(tf.constant(inputs), tf.bfloat16)
    assert mixed.dtype == tf.float32
    reference = np.tanh(bfloat16_forward(kernels, biases, inputs))
    full = numpy_forward(kernels, biases, inputs, tanh=True)
    off_reference = np.abs(mixed.numpy() - reference).max()
    off_float32 = np.abs(mixed.numpy() - full).max()
    assert off_float32 > 1e-3, "bfloat16 hidden layers must change the result measurably"
    # A CPU with bfloat16 dot products (avx512_bf16, AMX) sums each matmul in float32, as the
    # reference does; without them TensorFlow's kernel rounds differently (0.6x seen on an
    # AMD EPYC with avx2 only), yet still nearer the bfloat16 reference than float32.
    native = {"avx512_bf16", "amx_tile"} & set(simd_flags().split(", "))
    assert off_reference < off_float32 / (10 if native else 1.2)


def test_bfloat16_update_keeps_float32_state_and_tracks_the_float32_update(small_spec):
    rng = np.random.default_rng(9)
    batches = [random_batch(small_spec, 64, rng) for _ in range(12)]
    stacked = Batch(*(np.stack(fields) for fields in zip(*batches)))
    full, mixed = make_agent(small_spec), make_agent(small_spec, precision="bfloat16")
    full_metrics, mixed_metrics = full.update_many(stacked), mixed.update_many(stacked)
    assert all(v.dtype == tf.float32 for v in mixed.trainable_variables)
    for a, b in zip(full_metrics, mixed_metrics):
        np.testing.assert_allclose(
            [a.critic1_loss, a.critic2_loss, a.mean_q],
            [b.critic1_loss, b.critic2_loss, b.mean_q],
            rtol=0.05,
            atol=1e-3,
        )
    differences = [np.abs(x - y).max() for x, y in zip(weights(full.critic), weights(mixed.critic))]
    assert max(differences) > 0, "the bfloat16 update must not be the float32 one"
    served = policy_module(mixed).serve.get_concrete_function().graph.as_graph_def()
    assert "DT_BFLOAT16" not in str(served), "the saved policy acts in float32"


def test_the_float32_update_graph_has_no_bfloat16(small_spec):
    def graph_text(agent):  # the fused update with its loop body and branches
        return str(agent._compiled_updates.get_concrete_function().graph.as_graph_def())

    assert "DT_BFLOAT16" not in graph_text(make_agent(small_spec))
    assert "DT_BFLOAT16" in graph_text(make_agent(small_spec, precision="bfloat16"))
