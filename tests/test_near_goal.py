"""--near-goal-share: exploratory episodes whose goal is pulled toward the object (panda-gym)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from td3her_cli.config import TrainConfig
from td3her_cli.envs.goal_env import describe_env, make_env
from td3her_cli.envs.near_goal import (
    check_near_goal_share,
    goal_fraction,
    pull_goal,
    set_down,
    turned_part_way,
)
from td3her_cli.envs.rollout import EpisodeJob, run_episode_job
from td3her_cli.envs.starts import RESET, EpisodeStart
from td3her_cli.errors import UsageError
from tests.conftest import TINY, explored_and_evaluated


@pytest.fixture(scope="module")
def slide():
    env = make_env("PandaSlide-v3")
    yield env
    env.close()


def test_the_moved_goal_lies_on_the_segment_from_the_object_and_the_marker_follows(slide):
    for seed, fraction in [(0, 0.0), (1, 0.25), (2, 0.7)]:
        raw, _ = slide.reset(seed=seed)
        start, drawn = raw["achieved_goal"].copy(), raw["desired_goal"].copy()
        assert np.linalg.norm(drawn - start) > 0.1  # Slide's goals lie far from the puck
        moved = pull_goal(slide, fraction)
        np.testing.assert_allclose(
            moved["desired_goal"], start + fraction * (drawn - start), atol=1e-6
        )
        np.testing.assert_allclose(moved["achieved_goal"], start, atol=1e-6)  # the puck stays
        target = slide.unwrapped.sim.get_base_position("target")
        np.testing.assert_allclose(target, moved["desired_goal"], atol=1e-5)


def test_a_stack_goal_moves_as_a_tower_its_base_toward_the_bottom_cube():
    stack = make_env("PandaStack-v3")
    try:
        for seed, fraction in [(0, 0.0), (1, 0.4)]:
            raw, _ = stack.reset(seed=seed)
            bottom, drawn = raw["achieved_goal"][:3].copy(), raw["desired_goal"].copy()
            moved = pull_goal(stack, fraction)["desired_goal"]
            np.testing.assert_allclose(
                moved[:3], bottom + fraction * (drawn[:3] - bottom), atol=1e-6
            )
            np.testing.assert_allclose(moved[3:] - moved[:3], drawn[3:] - drawn[:3], atol=1e-6)
            sim = stack.unwrapped.sim
            for marker, target in (("target1", moved[:3]), ("target2", moved[3:])):
                np.testing.assert_allclose(sim.get_base_position(marker), target, atol=1e-5)
    finally:
        stack.close()


@pytest.fixture(scope="module")
def flip():
    env = make_env("PandaFlip-v3")
    yield env
    env.close()


def test_an_orientation_goal_turns_part_way_and_rests_on_a_face_and_the_marker_follows(flip):
    for seed, fraction in [(0, 0.0), (1, 0.25), (2, 0.7), (3, 0.5)]:
        raw, _ = flip.reset(seed=seed)
        start, drawn = raw["achieved_goal"].copy(), raw["desired_goal"].copy()
        moved = pull_goal(flip, fraction)["desired_goal"]
        assert np.linalg.norm(moved) == pytest.approx(1.0) and moved[3] >= 0
        part_way = turned_part_way(start, drawn, fraction)
        assert resting_face(moved) == nearest_face(part_way)  # set down on that face...
        tilt = np.arccos(np.max(np.abs(cube_axes_up(part_way))))
        assert rotation_angle(part_way, moved) == pytest.approx(tilt, abs=1e-5)  # ...by its tilt
        sim = flip.unwrapped.sim
        assert rotation_angle(sim.get_base_rotation("target", "quaternion"), moved) < 1e-3
        flip.reset(seed=seed)
        _, _, _, _, info = flip.step(np.zeros(flip.action_space.shape, np.float32))
        assert info["is_success"] == (rotation_angle(start, drawn) < FLIP_SOLVED)
        flip.reset(seed=seed)
        pull_goal(flip, 0.0)  # the goal is the cube's own orientation: solved at once
        assert flip.step(np.zeros(flip.action_space.shape, np.float32))[4]["is_success"]


def test_turned_part_way_follows_the_shortest_turn():
    start = np.array([0.0, 0.0, 0.0, 1.0])
    goal = Rotation.from_rotvec([2.0, -1.0, 0.5]).as_quat()
    for fraction in (0.0, 0.3, 1.0):
        part = turned_part_way(start, -goal, fraction)  # either sign of the goal
        assert rotation_angle(start, part) == pytest.approx(
            fraction * rotation_angle(start, goal), abs=1e-6
        )
        assert rotation_angle(part, goal) == pytest.approx(
            (1 - fraction) * rotation_angle(start, goal), abs=1e-6
        )


def test_set_down_tilts_the_nearest_face_up_by_the_smallest_angle():
    rng = np.random.default_rng(0)
    for quaternion in Rotation.random(200, rng=rng).as_quat():
        rested = set_down(quaternion)
        assert resting_face(rested) == nearest_face(quaternion)
        tilt = np.degrees(np.arccos(np.max(np.abs(cube_axes_up(quaternion)))))
        assert np.degrees(rotation_angle(quaternion, rested)) == pytest.approx(tilt, abs=1e-4)
        np.testing.assert_allclose(set_down(rested), rested, atol=1e-9)  # already resting
    upright_turned = Rotation.from_euler("z", 40, degrees=True).as_quat()
    np.testing.assert_allclose(set_down(upright_turned), upright_turned, atol=1e-9)


def cube_axes_up(quaternion) -> np.ndarray:
    """The world vertical in the cube's own axes."""
    return Rotation.from_quat(quaternion).inv().apply([0.0, 0.0, 1.0])


def nearest_face(quaternion) -> tuple[int, bool]:
    """The cube's face (axis, sign) nearest the top."""
    up = cube_axes_up(quaternion)
    axis = int(np.argmax(np.abs(up)))
    return axis, bool(up[axis] > 0)


def resting_face(quaternion) -> tuple[int, bool] | None:
    """The cube's face (axis, sign) exactly on top, or None when no face is."""
    up = cube_axes_up(quaternion)
    return nearest_face(quaternion) if np.isclose(np.max(np.abs(up)), 1.0, atol=1e-9) else None


FLIP_SOLVED = 2 * np.arcsin(np.sqrt(0.2))
"""PandaFlip's success: 1 - <q, g>^2 < 0.2, a turn of under about 53 degrees."""


def rotation_angle(a, b) -> float:
    """The angle of the turn between the orientations of unit quaternions a and b."""
    return float(2 * np.arccos(min(abs(np.dot(a, b)), 1.0)))


def test_the_env_judges_success_against_the_moved_goal(slide):
    slide.reset(seed=3)
    pull_goal(slide, 0.0)  # the goal on the puck: solved as the episode starts
    _, _, _, _, info = slide.step(np.zeros(3, np.float32))
    assert info["is_success"]
    slide.reset(seed=3)
    _, _, _, _, info = slide.step(np.zeros(3, np.float32))
    assert not info["is_success"]


def test_the_share_is_a_fixed_draw_per_episode_seed_with_uniform_fractions():
    seeds = range(4000)
    fractions = np.array([goal_fraction(0.3, seed) for seed in seeds])
    moved = fractions < 1.0
    assert abs(moved.mean() - 0.3) < 0.03
    assert abs(np.median(fractions[moved]) - 0.5) < 0.05 and fractions.min() >= 0.0
    assert [goal_fraction(0.3, seed) for seed in seeds] == list(fractions)
    assert all(goal_fraction(0.0, seed) == 1.0 for seed in seeds)
    assert all(goal_fraction(1.0, seed) < 1.0 for seed in seeds)


@pytest.mark.parametrize(
    "env_id, takes_it",
    [
        ("PandaPush-v3", True),
        ("PandaPickAndPlace-v3", True),
        ("PandaReach-v3", False),  # no object
        ("PandaFlip-v3", True),  # the goal is its object's orientation
        ("PandaStack-v3", True),  # the tower moves as a whole
    ],
)
def test_only_tasks_whose_goal_is_their_objects_position_or_orientation_take_it(env_id, takes_it):
    env = make_env(env_id)
    try:
        check_near_goal_share(env, 0.0, env_id)  # off: anything goes
        if takes_it:
            check_near_goal_share(env, 0.5, env_id)
        else:
            with pytest.raises(UsageError, match="--near-goal-share needs a panda-gym task"):
                check_near_goal_share(env, 0.5, env_id)
    finally:
        env.close()


def test_bad_shares_are_usage_errors(run_cli, tmp_path):
    for value in ("1.5", "-0.1"):
        code, _, err = run_cli(
            [
                "train",
                "--env",
                "PandaSlide-v3",
                "--near-goal-share",
                value,
                "--out",
                str(tmp_path / value),
            ]
        )
        assert code != 0 and "--near-goal-share must be in [0, 1]" in err
        assert err.count("\n") == 1 and not (tmp_path / value).exists()
    code, _, err = run_cli(
        [
            "train",
            "--env",
            "PandaReach-v3",
            "--near-goal-share",
            "0.5",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code != 0 and "--near-goal-share needs a panda-gym task" in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_exploration_moves_goals_in_both_collection_paths_and_evaluation_never(monkeypatch):
    def observe(arguments, run):
        raw, _ = arguments["env"].reset(seed=arguments["seed"])  # the goal this seed draws
        episode = run()
        moved = not np.allclose(episode.desired_goal[0], raw["desired_goal"], atol=1e-6)
        return arguments["seed"], arguments.get("start", RESET).goal_fraction, moved

    config = TrainConfig(
        **{**TINY, "episodes_per_cycle": 6, "buffer_size": 10_000},
        env_id="PandaSlide-v3",
        num_envs=1,
        near_goal_share=0.5,
    )
    jobs, explored, evaluated = explored_and_evaluated(monkeypatch, config, observe)
    assert [(seed, fraction) for seed, fraction, _ in explored] == [
        (job.seed, job.start.goal_fraction) for job in jobs
    ]
    assert 0 < sum(job.start.goal_fraction < 1 for job in jobs) < len(jobs), "both ways"
    assert all(moved == (fraction < 1) for _, fraction, moved in explored)
    assert len(evaluated) == config.eval_episodes
    assert not any(moved or fraction < 1 for _, fraction, moved in evaluated)


def test_a_job_with_a_moved_goal_runs_toward_it(slide):
    spec = describe_env(slide, "PandaSlide-v3")
    config = TrainConfig(env_id="PandaSlide-v3", noise="gaussian")
    still = lambda observation, goal: np.zeros((len(observation), 3), np.float32)  # noqa: E731
    job = EpisodeJob(seed=5, explore=True, rng_seed=(0, 1), start=EpisodeStart(goal_fraction=0.0))
    episode = run_episode_job(slide, spec, still, job, config)
    np.testing.assert_allclose(episode.desired_goal[0], episode.achieved_goal[0], atol=1e-6)
