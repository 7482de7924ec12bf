"""The env `render` steps in a child process: same frames as in-process, no TensorFlow there,
and MuJoCo's Fetch envs end to end when gymnasium-robotics is installed."""

import imageio.v3 as iio
import numpy as np
import pytest

from td3her_cli.envs.render_child import RemoteEnv, make_render_env

from .conftest import tiny_cli_args


def test_the_child_renders_what_the_parent_would_without_tensorflow():
    action = np.full(3, 0.5, np.float32)
    local = make_render_env("PandaReach-v3", 64, 48)
    remote = RemoteEnv("PandaReach-v3", (), 64, 48)
    try:
        frames = []
        for env in (local, remote):
            observation, _ = env.reset(seed=3)
            env.step(action)
            frames.append((observation["observation"], np.asarray(env.render())))
        assert remote.tensorflow_loaded() is False
    finally:
        local.close()
        remote.close()
    (local_obs, local_frame), (remote_obs, remote_frame) = frames
    np.testing.assert_array_equal(local_obs, remote_obs)
    assert remote_frame.shape == (48, 64, 3) and remote_frame.std() > 0
    np.testing.assert_array_equal(local_frame, remote_frame)


def test_fetch_trains_evaluates_and_renders_headless(tmp_path, run_cli):
    pytest.importorskip("gymnasium_robotics", reason="needs the robotics extra")
    run = tmp_path / "fetch"
    common = ["--env-module", "gymnasium_robotics"]
    args = tiny_cli_args(epochs=1, best_eval_episodes=0)
    code, out, err = run_cli(["train", *common, "--env", "FetchReach-v4", *args, "--out", str(run)])
    assert code == 0, err
    assert "FetchReach-v4" in out
    code, out, err = run_cli(["evaluate", str(run), "--episodes", "2", "--json"])
    assert code == 0 and '"env_id": "FetchReach-v4"' in out, err
    gif = tmp_path / "fetch.gif"
    args = ["--episodes", "1", "--width", "64", "--height", "48", "--out", str(gif)]
    code, out, err = run_cli(["render", str(run), *args])
    assert code == 0, err
    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (48, 64) and len(frames) > 10
    assert frames[5].std() > 10, "a real MuJoCo picture, not a blank frame"
