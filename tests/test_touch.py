"""--touch-start: Flip episodes that begin with the closed fingertips resting on the cube's top."""

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.envs.goal_env import make_env
from td3her_cli.envs.starts import RESET, StartShares
from td3her_cli.envs.touch import touch_object, touch_point
from tests.conftest import TINY, explored_and_evaluated

HALF_SIDE = 0.02
"""Half the side of PandaFlip's cube."""


@pytest.fixture(scope="module")
def flip():
    env = make_env("PandaFlip-v3")
    yield env
    env.close()


def fingertips_above_top(observation: np.ndarray) -> np.ndarray:
    """The end effector's place relative to the centre of the cube's top (Flip's observation:
    the gripper's position first, the cube's centre at 7:10)."""
    return observation[0:3] - (observation[7:10] + [0.0, 0.0, HALF_SIDE])


# seeds 18 and 27 put the cube at the table's far side, where one IK pass falls short
@pytest.mark.parametrize(
    ("seed", "point"), [(0, (0.0, 0.0)), (1, (1.0, -0.5)), (18, (1.0, 1.0)), (27, (-1.0, 1.0))]
)
def test_a_touch_start_rests_the_closed_fingertips_on_the_top_and_moves_nothing_else(
    flip, seed, point
):
    raw, _ = flip.reset(seed=seed)
    touched = touch_object(flip, point)
    gap = fingertips_above_top(touched["observation"])
    np.testing.assert_allclose(gap[:2], 0.018 * np.asarray(point), atol=1e-3)  # 1.8 cm: an edge
    assert 0.003 < gap[2] < 0.008  # the end effector rests 4 mm above its fingertips' underside
    assert touched["observation"][6] < 0.005  # fingers closed
    np.testing.assert_allclose(touched["observation"][7:10], raw["observation"][7:10], atol=2e-3)
    np.testing.assert_allclose(touched["achieved_goal"], raw["achieved_goal"], atol=5e-3)  # < 1°
    np.testing.assert_array_equal(touched["desired_goal"], raw["desired_goal"])
    pressed, *_ = flip.step(np.array([0.0, 0.0, -0.2, -1.0], np.float32))
    assert abs(pressed["observation"][2] - touched["observation"][2]) < 2e-3  # the top holds it


@pytest.mark.parametrize(("point", "direction"), [((1.0, 0.0), 1.0), ((-1.0, 0.0), -1.0)])
def test_from_a_touch_near_an_edge_moving_outward_tips_the_cube_one_face(flip, point, direction):
    from scipy.spatial.transform import Rotation

    for seed in (1, 3):  # not seed 2: its goal is met at the start, which ends the episode
        flip.reset(seed=seed)
        observation = touch_object(flip, point)
        for _ in range(25):
            observation, *_ = flip.step(np.array([0.3 * direction, 0.0, -0.1, -1.0], np.float32))
        up = Rotation.from_quat(observation["achieved_goal"]).apply([0.0, 0.0, 1.0])
        assert abs(up[2]) < 0.1 and observation["observation"][9] > 0  # on a side, on the table


def test_the_touch_share_is_a_fixed_draw_per_seed_with_points_spread_over_the_top():
    seeds = range(3000)
    points = [touch_point(0.4, seed) for seed in seeds]
    drawn = np.array([p for p in points if p is not None])
    assert abs(len(drawn) / len(points) - 0.4) < 0.03
    assert points == [touch_point(0.4, seed) for seed in seeds]
    assert np.abs(drawn).max() <= 1.0 and np.all(np.abs(drawn.mean(axis=0)) < 0.06)
    assert np.mean(np.abs(drawn) > 0.75) == pytest.approx(0.25, abs=0.03)  # uniform
    assert all(touch_point(0.0, seed) is None for seed in seeds)
    assert all(touch_point(1.0, seed) is not None for seed in seeds)
    shares = StartShares.of(TrainConfig(touch_start=0.4))
    assert [shares.draw(seed).touch for seed in seeds] == points


def test_exploration_starts_touching_in_both_collection_paths_and_evaluation_never(monkeypatch):
    def observe(arguments, run):
        episode = run()
        gap = fingertips_above_top(episode.observation[0])
        on_top = bool(np.abs(gap[:2]).max() < HALF_SIDE and 0.0 < gap[2] < 0.01)
        return arguments["seed"], arguments.get("start", RESET).touch, on_top

    config = TrainConfig(
        **{**TINY, "episodes_per_cycle": 6, "buffer_size": 10_000},
        env_id="PandaFlip-v3",
        num_envs=1,
        touch_start=0.5,
    )
    jobs, explored, evaluated = explored_and_evaluated(monkeypatch, config, observe)
    assert [(seed, touch) for seed, touch, _ in explored] == [
        (job.seed, job.start.touch) for job in jobs
    ]
    assert 0 < sum(job.start.touch is not None for job in jobs) < len(jobs), "both ways"
    assert all(on_top == (touch is not None) for _, touch, on_top in explored)
    assert len(evaluated) == config.eval_episodes
    assert not any(touch is not None or on_top for _, touch, on_top in evaluated)


@pytest.mark.parametrize("env_id", ["PandaPush-v3", "PandaStack-v3"])
def test_touch_start_off_flip_is_one_line_and_writes_nothing(env_id, run_cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--env", env_id, "--touch-start", "0.5", "--out", str(out)])
    assert code != 0 and "--touch-start needs a panda-gym task" in err and env_id in err
    assert err.count("\n") == 1 and not out.exists()
