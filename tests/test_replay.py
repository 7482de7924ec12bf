"""HER buffer: relabelled fraction, goal provenance, recomputed rewards, ring overwrite."""

import numpy as np
import pytest

from td3her_cli.core.replay import Episode, HerReplayBuffer

OBS, GOAL, ACT = 3, 2, 2
THRESHOLD = 0.05


def sparse_reward(achieved, desired):
    """panda-gym's sparse reward: 0 within the threshold, else -1."""
    return -(np.linalg.norm(achieved - desired, axis=-1) > THRESHOLD).astype(np.float32)


def make_episode(length, episode_id, rng):
    """An episode whose achieved goals encode (episode_id, step) so provenance is checkable."""
    steps = np.arange(length + 1, dtype=np.float32)
    achieved = np.stack([np.full(length + 1, episode_id, np.float32), steps], axis=1)
    desired = np.tile(rng.standard_normal(GOAL).astype(np.float32) + 100, (length, 1))
    observation = np.concatenate([achieved, steps[:, None]], axis=1)
    return Episode(
        observation=observation,
        achieved_goal=achieved,
        desired_goal=desired,
        action=rng.uniform(-1, 1, (length, ACT)).astype(np.float32),
        reward=sparse_reward(achieved[1:], desired),
        terminated=np.r_[np.zeros(length - 1, bool), True],
        success=False,
    )


def filled_buffer(strategy="future", lengths=(50, 7, 23, 1, 50, 12), capacity=10_000, k=4):
    rng = np.random.default_rng(0)
    buffer = HerReplayBuffer(capacity, OBS, GOAL, ACT, sparse_reward, strategy, k, gamma=0.98)
    for episode_id, length in enumerate(lengths):
        buffer.add(make_episode(length, episode_id, rng))
    return buffer


def test_relabelled_fraction_is_k_over_k_plus_one():
    buffer = filled_buffer(k=4)
    sample = buffer.sample_indices(20_000, np.random.default_rng(1))
    assert sample.relabelled.mean() == pytest.approx(0.8, abs=0.01)
    none = filled_buffer(strategy="none").sample_indices(1000, np.random.default_rng(1))
    assert not none.relabelled.any()


@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_goals_come_from_the_same_episode(strategy):
    buffer = filled_buffer(strategy)
    rng = np.random.default_rng(2)
    transition, source, relabelled, _ = buffer.sample_indices(5000, rng)
    same_episode = buffer.episode_start[source] == buffer.episode_start[transition]
    assert same_episode.all()
    goals = buffer.next_achieved_goal[source[relabelled]]
    episode_ids = buffer.next_achieved_goal[transition[relabelled]][:, 0]
    np.testing.assert_array_equal(goals[:, 0], episode_ids)
    if strategy == "future":
        assert (source >= transition).all(), "a future goal is never from before the transition"
        assert (source[relabelled] > transition[relabelled]).any()
    if strategy == "final":
        np.testing.assert_array_equal(
            source[relabelled], buffer.episode_end[transition[relabelled]] - 1
        )


def test_future_goal_offsets_cover_the_rest_of_the_episode():
    buffer = filled_buffer(lengths=(10,))
    transition, source, relabelled, _ = buffer.sample_indices(20_000, np.random.default_rng(3))
    chosen = relabelled & (transition == 0)
    assert set(np.unique(source[chosen])) == set(range(10))  # steps 0..9, i.e. ag_1..ag_10


def test_rewards_are_recomputed_for_relabelled_goals():
    buffer = filled_buffer()
    rng = np.random.default_rng(4)
    batch = buffer.sample(4096, rng)
    rng = np.random.default_rng(4)
    transition, source, relabelled, _ = buffer.sample_indices(4096, rng)
    expected = sparse_reward(buffer.next_achieved_goal[transition], batch.desired_goal)
    np.testing.assert_array_equal(batch.reward, expected)
    # The goal achieved right after the transition itself earns reward 0: HER's point.
    assert (batch.reward[relabelled & (source == transition)] == 0).all()
    assert (batch.reward[~relabelled] == -1).all()  # original goals are far away here
    assert batch.done.dtype == np.float32 and not batch.done.any(), "no terminal_fn: never done"


def success(achieved, desired):
    """1.0 where the goal is reached (panda-gym's is_success for the sparse reward above)."""
    return (sparse_reward(achieved, desired) == 0).astype(np.float32)


def test_done_is_recomputed_for_the_batch_goal_with_a_terminal_fn():
    rng = np.random.default_rng(0)
    buffer = HerReplayBuffer(
        10_000, OBS, GOAL, ACT, sparse_reward, "future", 4, success, gamma=0.98
    )
    for episode_id, length in enumerate((50, 7, 23, 1, 50, 12)):
        buffer.add(make_episode(length, episode_id, rng))
    batch = buffer.sample(4096, np.random.default_rng(4))
    transition, source, relabelled, _ = buffer.sample_indices(4096, np.random.default_rng(4))
    # done is 1 exactly where the next achieved goal reaches the batch's goal: reward 0 here.
    np.testing.assert_array_equal(batch.done, (batch.reward == 0).astype(np.float32))
    assert (batch.done[relabelled & (source == transition)] == 1).all()
    assert (batch.done[relabelled & (source > transition)] == 0).all()  # steps apart > 0.05
    # The stored env flag (terminal at each episode's last step, for the original goal) is
    # never used: original goals are far away here, so no original-goal row is done.
    assert not batch.done[~relabelled].any()


def test_varying_episode_lengths_are_stored_without_padding():
    lengths = (50, 7, 23, 1, 50, 12)
    buffer = filled_buffer(lengths=lengths)
    assert buffer.size == sum(lengths)
    ends = np.cumsum(lengths)
    starts = ends - np.array(lengths)
    for start, end in zip(starts, ends):
        assert (buffer.episode_start[start:end] == start).all()
        assert (buffer.episode_end[start:end] == end).all()
    # a one-step episode can only relabel with its own next achieved goal
    one_step = starts[3]
    transition, source, relabelled, _ = buffer.sample_indices(20_000, np.random.default_rng(5))
    assert (source[transition == one_step] == one_step).all()


def test_ring_overwrites_whole_oldest_episodes():
    rng = np.random.default_rng(6)
    buffer = HerReplayBuffer(100, OBS, GOAL, ACT, sparse_reward, "future", 4, gamma=0.98)
    for episode_id in range(5):
        buffer.add(make_episode(30, episode_id, rng))  # 4th wraps to 0, 5th overwrites 30..60
    valid_ids = set(np.unique(buffer.next_achieved_goal[buffer.valid][:, 0]).astype(int))
    assert valid_ids == {2, 3, 4}
    assert buffer.size == 90
    # the rest of an episode overwritten in part is gone too, and sampling never returns it
    rng = np.random.default_rng(7)
    transition, source, _, _ = buffer.sample_indices(5000, rng)
    assert buffer.valid[transition].all() and buffer.valid[source].all()
    ids_at_transition = buffer.next_achieved_goal[transition][:, 0]
    np.testing.assert_array_equal(buffer.next_achieved_goal[source][:, 0], ids_at_transition)
    partly = HerReplayBuffer(100, OBS, GOAL, ACT, sparse_reward, "future", 4, gamma=0.98)
    for length, episode_id in ((40, 0), (40, 1), (30, 2)):  # 2 wraps, covers 0..30 of episode 0
        partly.add(make_episode(length, episode_id, rng))
    assert not partly.valid[30:40].any(), "the tail of a partly overwritten episode is dropped"
    assert partly.size == 70


def test_sampling_empty_buffer_raises():
    buffer = HerReplayBuffer(10, OBS, GOAL, ACT, sparse_reward, gamma=0.98)
    with pytest.raises(ValueError):
        buffer.sample(4, np.random.default_rng(0))


def test_newest_episode_goals_are_her_goals_of_that_episode_only():
    buffer = filled_buffer(lengths=(50, 40))  # episode ids 0 and 1; 1 is the newest
    rngs = [np.random.default_rng(i) for i in range(50)]
    goals = np.concatenate([buffer.newest_episode_goals(rng) for rng in rngs])
    assert goals.shape == (50 * 40, GOAL)
    relabelled = goals[:, 0] < 50  # achieved goals encode (episode id, step); desired are ~100
    assert relabelled.mean() == pytest.approx(0.8, abs=0.03)
    assert (goals[relabelled, 0] == 1).all(), "only the newest episode's achieved goals"
    steps = goals[relabelled, 1].reshape(-1)
    assert steps.min() >= 1 and steps.max() == 40  # next achieved goals ag_1..ag_40
    single = buffer.newest_episode_goals(np.random.default_rng(0))
    transition_step = np.arange(40)[single[:, 0] == 1]
    assert (single[single[:, 0] == 1, 1] > transition_step).all(), "future: from t+1 on"


def random_goal_buffer(share):
    rng = np.random.default_rng(0)
    buffer = HerReplayBuffer(
        10_000, OBS, GOAL, ACT, sparse_reward, "future", 4, gamma=0.98, random_goals=share
    )
    for episode_id, length in enumerate((50, 7, 23, 1, 50, 12)):
        buffer.add(make_episode(length, episode_id, rng))
    return buffer


def test_a_share_of_relabelled_goals_are_other_transitions_desired_goals():
    buffer = random_goal_buffer(0.5)
    sample = buffer.sample_indices(20_000, np.random.default_rng(8))
    assert not sample.random_goal[~sample.relabelled].any()  # only relabelled rows
    assert sample.random_goal[sample.relabelled].mean() == pytest.approx(0.5, abs=0.02)
    goals = buffer._goals(sample)
    np.testing.assert_array_equal(
        goals[sample.random_goal], buffer.desired_goal[sample.goal_source[sample.random_goal]]
    )
    # drawn from every stored episode, not the row's own: desired goals sit near +100
    other = buffer.episode_start[sample.goal_source] != buffer.episode_start[sample.transition]
    assert other[sample.random_goal].mean() > 0.5
    assert (goals[sample.random_goal] > 90).all()


def test_random_goal_rows_get_their_reward_recomputed():
    buffer = random_goal_buffer(1.0)
    batch = buffer.sample(4096, np.random.default_rng(9))
    sample = buffer.sample_indices(4096, np.random.default_rng(9))
    assert sample.random_goal.sum() > 3000
    achieved = buffer.next_achieved_goal[sample.transition]
    np.testing.assert_array_equal(batch.reward, sparse_reward(achieved, batch.desired_goal))


def test_a_zero_random_goal_share_samples_exactly_as_a_buffer_without_it():
    plain = filled_buffer().sample(512, np.random.default_rng(10))
    zero = random_goal_buffer(0.0).sample(512, np.random.default_rng(10))
    for mine, theirs in zip(plain, zero):
        np.testing.assert_array_equal(mine, theirs)
