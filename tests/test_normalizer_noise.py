"""Normaliser statistics and clipping; OU noise reset and stationary spread."""

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.core.noise import GaussianNoise, OUNoise, make_noise
from td3her_cli.core.normalizer import STD_FLOOR, Normalizer


def test_normalizer_statistics_match_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal([1.0, -3.0, 0.0], [2.0, 0.5, 1e-4], size=(5000, 3))
    normalizer = Normalizer(3)
    for chunk in np.array_split(data, 7):
        normalizer.update(chunk)
    np.testing.assert_allclose(normalizer.mean.numpy(), data.mean(0), rtol=1e-5, atol=1e-6)
    expected_std = np.maximum(data.std(0), STD_FLOOR)
    np.testing.assert_allclose(normalizer.std.numpy(), expected_std, rtol=1e-4)
    assert normalizer.count.numpy() == 5000


def test_normalize_clips_inputs_and_outputs():
    normalizer = Normalizer(2, clip_obs=200.0, clip_normalized=5.0)
    normalizer.update(np.array([[0.0, 0.0], [2.0, 2.0]]))  # mean 1, std 1
    values = np.array([[1e6, 1.5], [-1e6, 0.5]], np.float32)
    graph = normalizer.normalize(values).numpy()
    np.testing.assert_allclose(graph, [[5.0, 0.5], [-5.0, -0.5]], atol=1e-6)


def test_disabled_normalizer_is_identity():
    normalizer = Normalizer(2, enabled=False)
    normalizer.update(np.ones((4, 2)) * 7)
    values = np.array([[300.0, -2.0]], np.float32)
    np.testing.assert_array_equal(normalizer.normalize(values), values)
    assert normalizer.count.numpy() == 0


def test_ou_noise_resets_to_zero_and_reaches_stationary_spread():
    sigma, theta, dt = 0.2, 0.15, 1e-2
    noise = OUNoise(2, sigma, theta, dt, np.random.default_rng(0))
    for _ in range(10):
        noise()
    assert np.abs(noise.state).sum() > 0
    noise.reset()
    np.testing.assert_array_equal(noise.state, 0.0)
    samples = np.array([noise() for _ in range(200_000)])[20_000:]  # after burn-in
    stationary_std = sigma * np.sqrt(dt / (1 - (1 - theta * dt) ** 2))  # exact AR(1) spread
    assert samples.std(0) == pytest.approx([stationary_std] * 2, rel=0.15)
    assert abs(samples.mean()) < 0.1  # mean reverts to zero


def test_ou_noise_is_correlated_and_gaussian_is_not():
    ou = OUNoise(1, 0.2, 0.15, 1e-2, np.random.default_rng(1))
    series = np.array([ou()[0] for _ in range(5000)])
    assert np.corrcoef(series[:-1], series[1:])[0, 1] > 0.9
    gaussian = GaussianNoise(1, 0.2, np.random.default_rng(1))
    series = np.array([gaussian()[0] for _ in range(5000)])
    assert abs(np.corrcoef(series[:-1], series[1:])[0, 1]) < 0.1
    assert series.std() == pytest.approx(0.2, rel=0.05)


def test_make_noise_follows_config():
    rng = np.random.default_rng(0)
    assert isinstance(make_noise(TrainConfig(), 3, rng), OUNoise)
    assert isinstance(make_noise(TrainConfig(noise="gaussian"), 3, rng), GaussianNoise)


@pytest.mark.parametrize(("source", "per_episode"), [("episodes", "2T+1"), ("her", "T")])
def test_goal_statistics_come_from_the_chosen_goals(source, per_episode):
    from td3her_cli.run.training import Trainer

    from .conftest import TINY

    trainer = Trainer(TrainConfig(**{**TINY, "normalize_goals_from": source}))
    try:
        trainer.collect()
        count = trainer.agent.goal_normalizer.count.numpy()
        steps, episodes = trainer.env_steps, trainer.episodes
        # episodes: T desired + (T + 1) achieved goals each; her: one goal per transition.
        assert count == (2 * steps + episodes if per_episode == "2T+1" else steps)
    finally:
        trainer.close()
