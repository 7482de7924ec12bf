"""n-step returns in the HER buffer: rows against a per-row reference, cut at terminals and
episode ends; one-step rows unchanged."""

import numpy as np
import pytest

from td3her_cli.core.replay import HerReplayBuffer
from tests.test_replay import ACT, GOAL, OBS, make_episode, sparse_reward, success

GAMMA = 0.9
LENGTHS = (50, 7, 23, 1, 50, 12)
STORED_REWARD = -0.5  # the env's reward for its own goal; HER's recomputed ones are 0 or -1


def buffer_with(n_step, terminal_fn, capacity=10_000, lengths=LENGTHS):
    rng = np.random.default_rng(0)
    buffer = HerReplayBuffer(
        capacity,
        OBS,
        GOAL,
        ACT,
        sparse_reward,
        "future",
        4,
        terminal_fn,
        gamma=GAMMA,
        n_step=n_step,
    )
    for episode_id, length in enumerate(lengths):
        episode = make_episode(length, episode_id, rng)
        buffer.add(episode._replace(reward=np.full(length, STORED_REWARD, np.float32)))
    return buffer


def reference_row(buffer, transition, goal, relabelled, n_step, terminal_fn):
    """One row's n-step return, written as the textbook loop: (reward, last, done, discount)."""
    total, discount, done, last = 0.0, 1.0, 0.0, transition
    for index in range(transition, min(transition + n_step, buffer.episode_end[transition])):
        achieved = buffer.next_achieved_goal[index][None]
        if relabelled:
            total += discount * float(sparse_reward(achieved, goal[None])[0])
        else:
            total += discount * float(buffer.reward[index])
        discount *= GAMMA
        last = index
        if terminal_fn is not None and terminal_fn(achieved, goal[None])[0]:
            done = 1.0
            break
    return total, last, done, discount


@pytest.mark.parametrize("terminal_fn", [success, None], ids=["terminal", "no-terminal"])
@pytest.mark.parametrize("capacity", [10_000, 120], ids=["roomy", "wrapped"])
def test_n_step_rows_match_a_per_row_reference(terminal_fn, capacity):
    n_step = 3
    buffer = buffer_with(n_step, terminal_fn, capacity)
    batch = buffer.sample(2000, np.random.default_rng(4))
    sample = buffer.sample_indices(2000, np.random.default_rng(4))  # the same draws
    lasts, cuts = [], {"terminal": 0, "episode end": 0, "full": 0}
    for row, transition in enumerate(sample.transition):
        goal, relabelled = batch.desired_goal[row], sample.relabelled[row]
        reward, last, done, discount = reference_row(
            buffer, transition, goal, relabelled, n_step, terminal_fn
        )
        assert batch.reward[row] == pytest.approx(reward, abs=1e-6)
        assert batch.done[row] == done
        assert batch.discount[row] == pytest.approx(discount, rel=1e-6)
        lasts.append(last)
        summed = last - transition + 1
        key = "terminal" if done else ("full" if summed == n_step else "episode end")
        cuts[key] += 1
    lasts = np.array(lasts)
    assert (buffer.episode_start[lasts] == buffer.episode_start[sample.transition]).all()
    assert buffer.valid[lasts].all(), "a return never reaches into an overwritten episode"
    np.testing.assert_array_equal(batch.next_observation, buffer.next_observation[lasts])
    np.testing.assert_array_equal(batch.observation, buffer.observation[sample.transition])
    np.testing.assert_array_equal(batch.action, buffer.action[sample.transition])
    assert cuts["full"] > 0 and cuts["episode end"] > 0, cuts  # every branch is exercised
    assert (cuts["terminal"] > 0) == (terminal_fn is not None), cuts
    # Original-goal rows sum the env's stored rewards, never a recomputed one.
    original = ~sample.relabelled
    sums = np.array([1, 1 + GAMMA, 1 + GAMMA + GAMMA**2]) * STORED_REWARD
    gaps = np.abs(batch.reward[original][:, None] - sums[None, :]).min(axis=1)
    assert (gaps < 1e-5).all()


def test_a_relabelled_goal_two_steps_ahead_ends_the_return_there():
    # Goal = the achieved goal after transition t + 1: reward -1 then 0, terminal, gamma^2.
    buffer = buffer_with(3, success)
    sample = buffer.sample_indices(5000, np.random.default_rng(7))
    batch = buffer._n_step_batch(sample)
    rows = sample.relabelled & (sample.goal_source == sample.transition + 1)
    assert rows.sum() > 10
    np.testing.assert_allclose(batch.reward[rows], -1.0)
    np.testing.assert_array_equal(batch.done[rows], 1.0)
    np.testing.assert_allclose(batch.discount[rows], GAMMA**2, rtol=1e-6)
    np.testing.assert_array_equal(
        batch.next_observation[rows], buffer.next_observation[sample.transition[rows] + 1]
    )


def test_one_step_rows_discount_by_gamma_and_keep_the_stored_reward_path():
    one = buffer_with(1, success)
    batch = one.sample(1000, np.random.default_rng(4))
    sample = one.sample_indices(1000, np.random.default_rng(4))
    np.testing.assert_array_equal(batch.discount, np.float32(GAMMA))
    np.testing.assert_array_equal(batch.next_observation, one.next_observation[sample.transition])
    # n = 1 through the n-step path gives the same rows as the one-step path.
    same = one._n_step_batch(sample)
    for name in ("reward", "done", "discount", "next_observation", "desired_goal"):
        np.testing.assert_array_equal(getattr(same, name), getattr(batch, name), err_msg=name)
