"""Env layer on the real panda-gym: goal checks, reward bounds, seeded reproducible episodes."""

import sys
from pathlib import Path

import numpy as np
import pytest

from td3her_cli.envs.goal_env import (
    FreshSimulationOnReset,
    describe_env,
    episode_seed,
    make_env,
    reward_function,
    success_function,
)
from td3her_cli.envs.rollout import collect_episode
from td3her_cli.errors import EnvError
from td3her_cli.run.training import terminal_function


@pytest.fixture(scope="module")
def reach():
    env = make_env("PandaReach-v3")
    yield env
    env.close()


def test_unknown_and_non_goal_envs_are_refused():
    with pytest.raises(EnvError, match="unknown env 'NoSuchEnv-v0'"):
        make_env("NoSuchEnv-v0")
    with pytest.raises(EnvError, match="not a goal-conditioned env"):
        make_env("CartPole-v1")


def test_a_module_env_id_finds_its_module_in_the_current_directory(tmp_path, monkeypatch):
    source = Path(__file__).with_name("point_goal_env.py").read_text()
    (tmp_path / "local_goal_env.py").write_text(
        source.replace('"PointGoal-v0"', '"LocalPointGoal-v0"')
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    env = make_env("local_goal_env:LocalPointGoal-v0")
    assert env.unwrapped.__class__.__module__ == "local_goal_env"
    env.close()


def test_env_creation_keeps_pybullet_chatter_out_of_stdout(capfd):
    make_env("PandaReach-v3").close()
    out, err = capfd.readouterr()
    assert "argv[0]" not in out and "argv[0]" not in err


def test_describe_reach_and_probe_reward_bounds(reach):
    spec = describe_env(reach, "PandaReach-v3")
    assert (spec.obs_dim, spec.goal_dim, spec.action_dim) == (6, 3, 3)
    assert spec.max_episode_steps == 50
    assert spec.reward_bounds == (-1.0, 0.0)
    dense = make_env("PandaReachDense-v3")
    try:
        assert describe_env(dense, "PandaReachDense-v3").reward_bounds is None
    finally:
        dense.close()


def test_reward_function_is_vectorised(reach):
    reward = reward_function(reach)
    achieved = np.zeros((5, 3), np.float32)
    desired = np.array([[0, 0, 0], [0.01, 0, 0], [0.2, 0, 0], [0, 1, 0], [0, 0, 0.049]], np.float32)
    np.testing.assert_array_equal(reward(achieved, desired), [0, 0, -1, -1, 0])


def test_episode_seeds_are_reproducible_and_distinct():
    seeds = [episode_seed(0, 0, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert seeds == [episode_seed(0, 0, i) for i in range(1000)]
    assert episode_seed(0, 1, 0) != episode_seed(0, 0, 0)
    assert episode_seed(1, 0, 0) != episode_seed(0, 0, 0)


def test_same_seed_same_episode(reach):
    spec = describe_env(reach, "PandaReach-v3")

    def policy(observation, goal):
        return np.tanh(goal[:, :3] - observation[:, :3])

    first = collect_episode(reach, spec, policy, seed=123)
    collect_episode(reach, spec, policy, seed=7)  # something in between
    again = collect_episode(reach, spec, policy, seed=123)
    np.testing.assert_array_equal(first.observation, again.observation)
    np.testing.assert_array_equal(first.desired_goal, again.desired_goal)
    other = collect_episode(reach, spec, policy, seed=124)
    assert not np.array_equal(first.desired_goal[0], other.desired_goal[0])
    # a proportional controller reaches the goal: panda-gym ends the episode on success
    assert first.success and first.terminated[-1] and first.length < 50
    assert first.observation.shape == (first.length + 1, 6)


def test_non_vectorised_compute_reward_falls_back_to_rows():
    from types import SimpleNamespace

    from gymnasium import spaces

    def inner_product_reward(achieved, desired, info):  # like panda-gym 3.0.7's Flip
        return -(1 - np.inner(achieved, desired) ** 2 > 0.1).astype(np.float32)

    box = spaces.Box(-1, 1, (4,), np.float32)
    fake = SimpleNamespace(
        unwrapped=SimpleNamespace(compute_reward=inner_product_reward),
        observation_space={"desired_goal": box},
    )
    reward = reward_function(fake)
    goals = np.eye(4, dtype=np.float32)
    np.testing.assert_array_equal(reward(goals, goals), [0, 0, 0, 0])  # rows, not [4, 4]
    np.testing.assert_array_equal(reward(goals, goals[::-1]), [-1, -1, -1, -1])


def test_random_action_probability(reach):
    spec = describe_env(reach, "PandaReach-v3")

    def still(observation, goal):
        return np.zeros((len(observation), 3), np.float32)

    rng = np.random.default_rng(0)
    never = collect_episode(reach, spec, still, 5, rng=rng, random_action_prob=0.0)
    always = collect_episode(reach, spec, still, 5, rng=rng, random_action_prob=1.0)
    half = collect_episode(reach, spec, still, 6, rng=rng, random_action_prob=0.5)
    assert not never.action.any()
    assert (always.action != 0).all()
    moved = (half.action != 0).any(axis=1).mean()
    assert 0.2 < moved < 0.8 or half.length < 10


@pytest.mark.parametrize("env_id", ["PandaPush-v3", "PandaSlide-v3", "PandaFlip-v3"])
def test_relabelled_done_matches_panda_gym_success_on_real_goals(env_id):
    """On real goals, the buffer's done is panda-gym's is_success (its step's terminated) and,
    for the sparse reward, exactly where compute_reward gives 0."""
    env = make_env(env_id)
    try:
        spec = describe_env(env, env_id)
        assert spec.terminates_on_success
        terminal = terminal_function("auto", env, spec)
        assert terminal is not None and terminal_function("off", env, spec) is None
        goals = []
        for seed in range(15):  # real achieved/desired goals from resets and random steps
            obs, _ = env.reset(seed=seed)
            goals.append((obs["achieved_goal"], obs["desired_goal"]))
            obs, _, terminated, _, info = env.step(env.action_space.sample())
            assert terminated == info["is_success"]
            goals.append((obs["achieved_goal"], obs["achieved_goal"]))  # reached
            goals.append((obs["achieved_goal"], obs["achieved_goal"] + 0.01))  # near, inside
        achieved = np.array([a for a, _ in goals], np.float32)
        desired = np.array([d for _, d in goals], np.float32)
        done = terminal(achieved, desired)
        task = env.unwrapped.task
        expected = [float(task.is_success(a, d)) for a, d in zip(achieved, desired)]
        np.testing.assert_array_equal(done, expected)
        assert 0 < done.mean() < 1
        np.testing.assert_array_equal(done, reward_function(env)(achieved, desired) == 0)
    finally:
        env.close()


def test_flip_goals_are_written_with_the_sign_the_cubes_orientation_starts_with():
    env = make_env("PandaFlip-v3")
    try:
        for seed in range(40):
            obs, _ = env.reset(seed=seed)
            assert obs["desired_goal"][3] >= 0 and obs["achieved_goal"][3] > 0
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ["PandaFlip-v3", "PandaFlipDense-v3"])
def test_flip_rewards_come_from_one_call_per_batch_and_match_panda_gym_row_by_row(env_id):
    """panda-gym 3.0.7's angle_distance takes np.inner of two batches ([B, B]): td3her gives
    Flip a row-wise one, so HER's relabelled rewards are one call per batch, not one per row."""
    from panda_gym.utils import angle_distance

    env = make_env(env_id)
    try:
        task = env.unwrapped.task
        rng = np.random.default_rng(0)
        achieved, desired = (rng.normal(size=(64, 4)).astype(np.float32) for _ in range(2))
        achieved /= np.linalg.norm(achieved, axis=1, keepdims=True)
        desired /= np.linalg.norm(desired, axis=1, keepdims=True)
        desired[:16] = achieved[:16]  # some reached
        calls = []
        counted = env.unwrapped.compute_reward
        env.unwrapped.compute_reward = lambda *args: calls.append(1) or counted(*args)
        rewards, successes = reward_function(env), success_function(env, (-1.0, 0.0))
        calls.clear()  # the probes of batched_goal_function
        got = rewards(achieved, desired)
        assert len(calls) == 1
        distances = np.array([angle_distance(a, d) for a, d in zip(achieved, desired)])
        solved = distances < task.distance_threshold
        expected = -distances if "Dense" in env_id else -(~solved).astype(np.float32)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        np.testing.assert_array_equal(successes(achieved, desired), solved.astype(np.float32))
    finally:
        env.close()


def test_terminal_modes_on_reach_and_a_non_terminating_dense_env(reach):
    spec = describe_env(reach, "PandaReach-v3")
    assert terminal_function("on", reach, spec) is not None
    dense = make_env("PandaReachDense-v3")
    try:
        dense_spec = describe_env(dense, "PandaReachDense-v3")
        # panda-gym's dense envs still end on success, and is_success still defines it.
        assert dense_spec.terminates_on_success
        assert terminal_function("auto", dense, dense_spec) is not None
    finally:
        dense.close()


def test_terminal_modes_on_an_env_that_never_terminates():
    import tests.point_goal_env  # noqa: F401 - registers PointGoal-v0

    env = make_env("PointGoal-v0")
    try:
        spec = describe_env(env, "PointGoal-v0")
        assert not spec.terminates_on_success
        assert terminal_function("auto", env, spec) is None
        on = terminal_function("on", env, spec)  # falls back to the sparse reward's top value
        goal = np.zeros((2, 2), np.float32)
        np.testing.assert_array_equal(on(goal, goal + [[0.05, 0], [0.5, 0]]), [1.0, 0.0])
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ["PandaPush-v3", "PandaPickAndPlace-v3", "PandaStack-v3"])
def test_an_episode_depends_only_on_its_seed_and_actions(env_id):
    """A used env and a fresh one, same seed and actions: the same trajectory, bit for bit
    (panda-gym alone drifts by ~5e-3 on Push: PyBullet keeps contact state across resets),
    both after a scene rebuild (reset 3) and after a whole-simulation rebuild (reset 4)."""

    def trajectory(env, seed, actions):
        obs, _ = env.reset(seed=seed)
        observations = [obs["observation"]]
        for action in actions:
            obs, *_ = env.step(action)
            observations.append(obs["observation"])
        return np.array(observations)

    rng = np.random.default_rng(0)
    used, fresh = make_env(env_id), make_env(env_id)
    assert isinstance(used.env, FreshSimulationOnReset)
    used.env.full_rebuild_every = 3
    try:
        shape = (30, *used.action_space.shape)
        actions = rng.uniform(-1, 1, shape).astype(np.float32)
        for seed in (100, 101):
            trajectory(used, seed, rng.uniform(-1, 1, shape).astype(np.float32))
        expected = trajectory(fresh, 7, actions)
        np.testing.assert_array_equal(trajectory(used, 7, actions), expected)  # scene rebuilt
        np.testing.assert_array_equal(trajectory(used, 7, actions), expected)  # whole rebuilt
    finally:
        used.close()
        fresh.close()


@pytest.mark.parametrize("env_id", ["PandaPush-v3", "PandaStack-v3", "PandaFlip-v3"])
def test_a_goal_depends_only_on_the_episode_seed(env_id):
    """panda-gym 3.0.7's Flip draws its goal from numpy's global generator, not the episode's
    seed: without td3her's mend held-out episodes would not be the ones their seeds name."""
    first, second = make_env(env_id), make_env(env_id)
    try:
        np.random.seed(1)
        goals = [first.reset(seed=seed)[0]["desired_goal"] for seed in (5, 6)]
        np.random.seed(2)
        again = second.reset(seed=5)[0]["desired_goal"]
        np.testing.assert_array_equal(again, goals[0])
        assert not np.allclose(goals[0], goals[1])
    finally:
        first.close()
        second.close()


def test_panda_gym_observations_beyond_its_declared_bounds_do_not_warn():
    """panda-gym declares +-10 but its cubes spin faster; td3her never reads those bounds."""
    import warnings

    from gymnasium import spaces
    from gymnasium.utils.passive_env_checker import check_obs

    box = spaces.Box(-10.0, 10.0, (3,), np.float32)
    space = spaces.Dict({key: box for key in ("observation", "achieved_goal", "desired_goal")})
    spinning = {key: np.zeros(3, np.float32) for key in space.spaces}
    spinning["observation"][2] = 16.0  # a held cube's angular velocity, rad/s

    def warnings_from_the_env_checker() -> int:
        with warnings.catch_warnings(record=True) as caught:
            check_obs(spinning, space, "step")  # what gymnasium's checker runs on a step
        return sum("not within the observation space" in str(w.message) for w in caught)

    assert warnings_from_the_env_checker() == 1
    make_env("PandaStack-v3").close()
    assert warnings_from_the_env_checker() == 0


def test_flip_outcomes_tell_a_tip_from_a_turn_about_the_vertical_and_a_fall():
    from scipy.spatial.transform import Rotation

    from docs.experiments.probes.flip_outcomes import outcomes, top_face

    upright = np.array([0.0, 0.0, 0.0, 1.0])
    turned = Rotation.from_euler("z", 60, degrees=True).as_quat()
    tipped = Rotation.from_euler("x", 90, degrees=True).as_quat()
    faces = Rotation.from_euler("x", [[90], [-90], [180]], degrees=True).as_quat()
    assert list(top_face(np.array([upright, *faces]))) == [4, 2, 3, 5]  # +z, +y, -y, -z up

    def observations(end_effector, cube_heights, finger_width=0.0):
        """Flip observations [T, 20]: the end effector, the fingers' gap and the cube centre,
        the rest zero."""
        rows = np.zeros((len(cube_heights), 20))
        rows[:, 0:3] = end_effector
        rows[:, 6] = finger_width
        rows[:, 7:10] = [[0.0, 0.0, height] for height in cube_heights]
        return rows

    pressing = [[0.015, -0.01, 0.02 + 0.024]] * 2  # fingertips on the top, near an edge
    flags = outcomes(
        [
            np.array([upright, turned]),
            np.array([upright, tipped, upright]),
            np.array([upright]),
            np.array([upright, turned]),
        ],
        observations=[
            observations(pressing, [0.02, 0.02]),
            observations([0.0, 0.0, 0.2], [0.02, -0.1, -0.38]),  # arm far above; cube falls
            observations([[0.03, 0.0, 0.044]], [0.02]),  # beside the top, not on it
            observations(pressing, [0.02, 0.02], finger_width=0.06),  # open, around the cube
        ],
        goals=np.array([turned, tipped, upright, turned]),
    )
    assert list(flags["started solved"]) == [False, False, True, False]
    assert list(flags["goal shows the start's top face"]) == [True, False, True, True]
    assert list(flags["cube tilted onto another face at some step"]) == [False, True, False, False]
    assert list(flags["cube fell off the table"]) == [False, True, False, False]
    assert list(flags["ended with the goal's top face up"]) == [True, False, True, True]
    assert list(flags["ended turned about the vertical"]) == [True, False, False, True]
    assert list(flags["fingertips came down on the cube's top"]) == [True, False, False, False]


def test_flip_goals_count_the_tips_a_goal_asks_of_an_upright_cube():
    from scipy.spatial.transform import Rotation

    from docs.experiments.probes.flip_goals import tips

    goals = Rotation.from_euler(
        "xz", [[0, 70], [90, 0], [-90, 30], [0, 0], [180, 10]], degrees=True
    )
    assert list(tips(goals.as_quat())) == [0, 1, 1, 0, 2]


def test_flip_starts_put_the_edge_point_on_the_nearest_edge():
    from docs.experiments.probes.flip_starts import edge_of

    np.testing.assert_array_equal(edge_of(np.array([0.3, -0.6])), [0.3, -1.0])
    np.testing.assert_array_equal(edge_of(np.array([0.7, 0.2])), [1.0, 0.2])
    np.testing.assert_array_equal(edge_of(np.array([-0.9, 0.9])), [-1.0, 0.9])
