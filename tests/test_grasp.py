"""--grasp-start: exploratory episodes that begin with the object in the gripper (panda-gym)."""

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.envs.goal_env import describe_env, make_env
from td3her_cli.envs.grasp import can_start_grasped, grasp_object, object_to_grasp, starts_grasped
from td3her_cli.envs.rollout import EpisodeJob, collect_episode, run_episode_job
from td3her_cli.envs.starts import RESET, EpisodeStart
from tests.conftest import TINY, explored_and_evaluated

LIFT = np.array([0.0, 0.0, 1.0, -1.0], np.float32)  # straight up, fingers closing


@pytest.fixture(scope="module")
def pick_and_place():
    env = make_env("PandaPickAndPlace-v3")
    yield env
    env.close()


def cube_height_after_lifting(env, grasped: bool, seed: int) -> float:
    env.reset(seed=seed)
    if grasped:
        grasp_object(env)
    for _ in range(6):
        observation, *_ = env.step(LIFT)
    return float(observation["achieved_goal"][2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_grasped_cube_rises_with_the_gripper(pick_and_place, seed):
    assert cube_height_after_lifting(pick_and_place, grasped=False, seed=seed) < 0.03
    assert cube_height_after_lifting(pick_and_place, grasped=True, seed=seed) > 0.15


def test_the_grasped_observation_has_the_gripper_closed_at_the_cube(pick_and_place):
    raw, _ = pick_and_place.reset(seed=3)
    assert raw["observation"][6] < 0.005  # panda-gym resets with the fingers shut, far away
    raw = grasp_object(pick_and_place)
    ee, fingers, cube = raw["observation"][:3], raw["observation"][6], raw["achieved_goal"]
    assert np.linalg.norm(ee - cube) < 0.005
    assert 0.02 < fingers < 0.045  # closed on the 4 cm cube, which keeps them apart


def test_tasks_whose_goal_is_their_objects_and_whose_gripper_opens_can_start_grasped(
    pick_and_place,
):
    assert can_start_grasped(pick_and_place)
    for env_id, expected in [
        ("PandaStack-v3", True),
        ("PandaReach-v3", False),
        ("PandaPush-v3", False),  # gripper blocked
        ("PandaSlide-v3", False),
        ("PandaFlip-v3", False),  # the goal is an orientation
    ]:
        env = make_env(env_id)
        try:
            assert can_start_grasped(env) == expected, env_id
        finally:
            env.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_stack_starts_with_the_top_cube_held_and_the_bottom_one_on_its_goal(seed):
    env = make_env("PandaStack-v3")
    try:
        before, _ = env.reset(seed=seed)
        assert object_to_grasp(env) == "object2"  # its goal sits on the other cube's
        bottom_goal = before["desired_goal"][:3]
        # far from its goal, so the last assert shows that the grasp moved it there
        assert np.linalg.norm(before["achieved_goal"][:3] - bottom_goal) > 0.05
        grasp_object(env)
        for _ in range(6):
            observation, *_ = env.step(LIFT)
    finally:
        env.close()
    bottom, top = observation["achieved_goal"][:3], observation["achieved_goal"][3:]
    assert top[2] > 0.15
    np.testing.assert_allclose(bottom, bottom_goal, atol=0.005)


def test_the_grasped_fraction_is_a_fixed_draw_per_episode_seed():
    seeds = range(4000)
    drawn = [starts_grasped(0.3, seed) for seed in seeds]
    assert abs(np.mean(drawn) - 0.3) < 0.03
    assert not any(starts_grasped(0.0, seed) for seed in seeds)
    assert all(starts_grasped(1.0, seed) for seed in seeds)


def test_exploration_starts_grasped_in_both_collection_paths_and_evaluation_never(monkeypatch):
    def observe(arguments, run):
        episode = run()
        grasped = arguments.get("start", RESET).grasped
        return arguments["seed"], grasped, bool(episode.observation[0, 6] > 0.02)

    config = TrainConfig(
        **{**TINY, "episodes_per_cycle": 6, "buffer_size": 10_000},
        env_id="PandaPickAndPlace-v3",
        num_envs=1,
        grasp_start=0.5,
    )
    jobs, explored, evaluated = explored_and_evaluated(monkeypatch, config, observe)
    assert [(seed, grasped) for seed, grasped, _ in explored] == [
        (job.seed, job.start.grasped) for job in jobs
    ]
    assert 0 < sum(job.start.grasped for job in jobs) < len(jobs), "seed 0 draws both ways"
    assert all(held == grasped for _, grasped, held in explored), "grasped = fingers on the cube"
    assert len(evaluated) == config.eval_episodes
    assert not any(grasped or held for _, grasped, held in evaluated)


def test_a_grasped_job_runs_from_the_grasped_state(pick_and_place):
    spec = describe_env(pick_and_place, "PandaPickAndPlace-v3")
    config = TrainConfig(env_id="PandaPickAndPlace-v3", noise="gaussian")
    still = lambda observation, goal: np.zeros((len(observation), 4), np.float32)  # noqa: E731
    for grasped in (False, True):
        start = EpisodeStart(grasped=grasped)
        job = EpisodeJob(seed=5, explore=True, rng_seed=(0, 1), start=start)
        episode = run_episode_job(pick_and_place, spec, still, job, config)
        assert (episode.observation[0, 6] > 0.02) == grasped  # fingers held apart by the cube
    direct = collect_episode(pick_and_place, spec, still, 5, start=EpisodeStart(grasped=True))
    assert direct.observation[0, 6] > 0.02


def test_goal_heights_fall_into_their_bands():
    from docs.experiments.probes.goal_height import height_table

    rows = height_table(
        heights=[0.0, 0.004, 0.03, 0.07, 0.15, 0.19],
        successes=[True, False, True, False, True, False],
        lifted=[False, False, True, True, True, False],
    )
    assert [row[1:] for row in rows] == [(2, 1, 0), (1, 1, 1), (1, 0, 1), (2, 1, 1), (6, 3, 3)]


def test_joint_control_starts_grasped_too():
    env = make_env("PandaPickAndPlaceJoints-v3")  # 7 joint actions and the gripper
    try:
        assert can_start_grasped(env)
        env.reset(seed=4)
        raw = grasp_object(env)
        assert np.linalg.norm(raw["observation"][:3] - raw["achieved_goal"]) < 0.005
        assert 0.02 < raw["observation"][6] < 0.045
    finally:
        env.close()


def test_failures_fall_into_start_gap_bands():
    from docs.experiments.probes.failures import failure_table

    rows = failure_table(
        gaps=[0.05, 0.15, 0.25, 0.25, 0.35, 0.5],
        moved=[0.1, 0.0, 0.2, 0.005, 0.0, 0.3],
        successes=[True, False, True, False, False, True],
    )
    assert [row[1:] for row in rows] == [(1, 1, 0), (1, 0, 1), (2, 1, 1), (2, 1, 1), (6, 3, 3)]
    assert rows[-1][0] == "all" and rows[3][0] == "≥ 30 cm"


def test_stack_outcomes_tell_stacked_from_side_by_side():
    from docs.experiments.probes.stack_outcomes import outcomes

    goal = [0.0, 0.0, 0.02, 0.0, 0.0, 0.06]
    far = [0.3, 0.0, 0.02, -0.3, 0.0, 0.02]
    stacked = [0.01, 0.0, 0.02, 0.01, 0.005, 0.06]
    side_by_side = [0.0, 0.0, 0.02, 0.0, 0.045, 0.02]
    flags = outcomes(
        starts=[far, goal, far], ends=[stacked, goal, side_by_side], goals=[goal, goal, goal]
    )
    assert list(flags["started solved"]) == [False, True, False]
    assert list(flags["ended stacked"]) == [True, True, False]
    assert list(flags["bottom cube near its goal"]) == [True, True, True]
    assert list(flags["top cube near its goal"]) == [True, True, False]


@pytest.fixture(scope="module")
def fetch_pick_and_place():
    from td3her_cli.envs.goal_env import import_env_modules

    import_env_modules(("gymnasium_robotics",))
    env = make_env("FetchPickAndPlace-v4")
    yield env
    env.close()


def block_height_after_lifting(env, grasped: bool, seed: int) -> float:
    start, _ = env.reset(seed=seed)
    if grasped:
        grasp_object(env)
    for _ in range(6):
        observation, *_ = env.step(LIFT)
    return float(observation["achieved_goal"][2] - start["achieved_goal"][2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_grasped_fetch_block_rises_with_the_gripper(fetch_pick_and_place, seed):
    assert block_height_after_lifting(fetch_pick_and_place, grasped=False, seed=seed) < 0.01
    assert block_height_after_lifting(fetch_pick_and_place, grasped=True, seed=seed) > 0.1


def test_a_grasped_fetch_start_is_the_envs_own_observation_at_step_zero(fetch_pick_and_place):
    raw, _ = fetch_pick_and_place.reset(seed=4)
    grasped = grasp_object(fetch_pick_and_place)
    grip, block = grasped["observation"][:3], grasped["achieved_goal"]
    assert np.linalg.norm(grip - block) < 0.02
    assert np.allclose(block, raw["achieved_goal"], atol=0.002)  # the block stays put
    own = fetch_pick_and_place.unwrapped._get_obs()
    assert all(np.array_equal(grasped[k], own[k]) for k in own)


def test_a_grasped_fetch_start_depends_only_on_the_seed():
    # MuJoCo keeps solver warm starts across Fetch resets, so each start is from a fresh env
    starts = []
    for _ in range(2):
        env = make_env("FetchPickAndPlace-v4")
        env.reset(seed=5)
        starts.append(grasp_object(env))
        env.close()
    assert all(np.array_equal(starts[0][k], starts[1][k]) for k in starts[0])


@pytest.mark.parametrize(
    "env_id, expected",
    [("FetchPickAndPlace-v4", True), ("FetchPush-v4", False), ("FetchSlide-v4", False)],
)
def test_only_fetch_tasks_whose_gripper_opens_can_start_grasped(env_id, expected):
    from td3her_cli.envs.goal_env import import_env_modules

    import_env_modules(("gymnasium_robotics",))
    env = make_env(env_id)
    try:
        assert can_start_grasped(env) is expected
    finally:
        env.close()
