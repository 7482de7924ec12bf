"""rendering: real PandaReach frames -> captioned RGB frames -> a GIF with the right timing."""

import importlib.util
import os

import numpy as np
import pytest
from PIL import Image, ImageSequence

from td3her_cli.envs.goal_env import describe_env, make_env
from td3her_cli.errors import Td3HerError
from td3her_cli.report.gif import render_episodes, write_animation

ENV_ID = "PandaReach-v3"
WIDTH, HEIGHT = 96, 64
MAX_STEPS = 5  # a short TimeLimit: each render costs tens of milliseconds
HOLD = 3


def zero_policy(observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
    return np.zeros((observation.shape[0], 3), np.float32)


def reach_policy(observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
    """Proportional control of the end effector (observation[:, :3]) towards the goal."""
    return np.clip(10.0 * (desired_goal - observation[:, :3]), -1.0, 1.0)


@pytest.fixture(scope="module")
def env():
    env = make_env(
        ENV_ID,
        render_mode="rgb_array",
        render_width=WIDTH,
        render_height=HEIGHT,
        max_episode_steps=MAX_STEPS,
    )
    yield env
    env.close()


@pytest.fixture(scope="module")
def spec(env):
    return describe_env(env, ENV_ID)


def test_frames_of_a_time_limited_episode(env, spec):
    calls = []
    frames, successes = render_episodes(
        env,
        spec,
        zero_policy,
        seeds=[3],
        width=WIDTH,
        height=HEIGHT,
        on_frame=lambda episode, step: calls.append((episode, step)),
        hold_frames=HOLD,
    )
    assert successes == [False]  # the arm stays put, the goal is elsewhere
    assert calls == [(1, step) for step in range(MAX_STEPS + 1)]  # reset + one per step
    assert len(frames) == MAX_STEPS + 1 + HOLD
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[0].std() > 20.0  # a rendered scene, not a blank image
    np.testing.assert_array_equal(frames[-1], frames[MAX_STEPS])  # held copies of the last


def test_success_ends_the_episode_and_is_reported(env, spec):
    frames, successes = render_episodes(
        env, spec, reach_policy, [0, 1], WIDTH, HEIGHT, caption=False, hold_frames=0
    )
    assert successes == [True, True]
    assert len(frames) < 2 * (MAX_STEPS + 1)  # panda-gym terminates on success


def test_caption_draws_on_the_top_strip_only(env, spec):
    captioned, _ = render_episodes(env, spec, zero_policy, [3], WIDTH, HEIGHT, hold_frames=0)
    plain, _ = render_episodes(
        env, spec, zero_policy, [3], WIDTH, HEIGHT, caption=False, hold_frames=0
    )
    changed_rows = np.flatnonzero(np.any(captioned[0] != plain[0], axis=(1, 2)))
    assert changed_rows.size > 0 and changed_rows.max() < HEIGHT // 3


def test_frames_of_another_size_are_resized(env, spec):
    frames, _ = render_episodes(env, spec, zero_policy, [3], 48, 32, hold_frames=0)
    assert frames[0].shape == (32, 48, 3)


def test_gif_has_the_frames_size_and_timing(env, spec, tmp_path):
    frames, _ = render_episodes(env, spec, reach_policy, [0], WIDTH, HEIGHT, hold_frames=HOLD)
    path = write_animation(frames, tmp_path / "out" / "reach.gif", fps=25)
    assert path == tmp_path / "out" / "reach.gif"
    assert os.listdir(path.parent) == ["reach.gif"]  # the temporary file was renamed away
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.size == (WIDTH, HEIGHT)
        assert gif.info.get("loop") == 0
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    # Pillow merges identical consecutive frames (the held ones) and adds up their durations.
    assert len(durations) <= len(frames)
    assert sum(durations) == 40 * len(frames)
    import imageio.v3 as iio

    decoded = iio.imread(path, index=None)
    assert decoded.shape[0] == len(durations) and decoded.shape[1:3] == (HEIGHT, WIDTH)
    # The shared palette keeps colours close to the rendered frame.
    first = decoded[0][..., :3].astype(int)
    assert np.abs(first - frames[0].astype(int)).mean() < 8.0


def synthetic_frames(count: int = 4) -> list[np.ndarray]:
    """Grey ramps [HEIGHT, WIDTH, 3] shifted one pixel per frame."""
    ramp = np.linspace(0, 255, WIDTH).astype(np.uint8)
    image = np.repeat(np.broadcast_to(ramp, (HEIGHT, WIDTH))[..., None], 3, axis=2)
    return [np.roll(image, i, axis=1) for i in range(count)]


def test_unwritable_destination_raises_a_td3her_error(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(Td3HerError, match="cannot write"):
        write_animation(synthetic_frames(), tmp_path / "a_file" / "out.gif", fps=25)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_directory_raises_a_td3her_error(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(Td3HerError, match="cannot write"):
            write_animation(synthetic_frames(), tmp_path / "out.gif", fps=25)
    finally:
        tmp_path.chmod(0o700)


def test_no_frames_raise_a_td3her_error(tmp_path):
    with pytest.raises(Td3HerError, match="no frames"):
        write_animation([], tmp_path / "out.gif", fps=25)


@pytest.mark.skipif(
    importlib.util.find_spec("imageio_ffmpeg") is not None, reason="imageio-ffmpeg is installed"
)
def test_mp4_without_imageio_ffmpeg_names_the_fix(tmp_path):
    with pytest.raises(Td3HerError, match="pip install imageio-ffmpeg"):
        write_animation(synthetic_frames(), tmp_path / "out.mp4", fps=25, mp4=True)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("imageio_ffmpeg") is None, reason="imageio-ffmpeg is not installed"
)
def test_mp4_has_every_frame_at_an_even_size(tmp_path):
    import imageio.v2 as imageio

    frames = [frame[:-1, :-1] for frame in synthetic_frames(6)]  # odd size: 95 x 63
    path = write_animation(frames, tmp_path / "out.mp4", fps=25, mp4=True)
    with imageio.get_reader(path, format="FFMPEG") as reader:
        assert reader.count_frames() == 6
        assert reader.get_data(0).shape == (HEIGHT, WIDTH, 3)
