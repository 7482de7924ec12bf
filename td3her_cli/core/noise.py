"""Exploration noise: Ornstein-Uhlenbeck (the original design's default) and Gaussian."""

from __future__ import annotations

import numpy as np

from td3her_cli.config import TrainConfig


class OUNoise:
    """Ornstein-Uhlenbeck process dx = theta (mu - x) dt + sigma sqrt(dt) N(0, 1), mu = 0.

    Reset to zero at the start of every episode (the original never reset it, so noise
    carried over between unrelated episodes). Stationary std: sigma / sqrt(2 theta) for
    small dt.
    """

    def __init__(
        self, size: int, sigma: float, theta: float, dt: float, rng: np.random.Generator
    ) -> None:
        self.size, self.sigma, self.theta, self.dt, self.rng = size, sigma, theta, dt, rng
        self.state = np.zeros(size)

    def reset(self) -> None:
        """Start a new episode from x = 0."""
        self.state = np.zeros(self.size)

    def __call__(self) -> np.ndarray:
        """Advance the process one step and return the new sample [size]."""
        drift = -self.theta * self.state * self.dt
        diffusion = self.sigma * np.sqrt(self.dt) * self.rng.standard_normal(self.size)
        self.state = self.state + drift + diffusion
        return self.state.astype(np.float32)


class GaussianNoise:
    """Independent N(0, sigma^2) noise per step."""

    def __init__(self, size: int, sigma: float, rng: np.random.Generator) -> None:
        self.size, self.sigma, self.rng = size, sigma, rng

    def reset(self) -> None:
        """Gaussian noise has no state."""

    def __call__(self) -> np.ndarray:
        """A fresh sample [size]."""
        return (self.sigma * self.rng.standard_normal(self.size)).astype(np.float32)


def make_noise(config: TrainConfig, size: int, rng: np.random.Generator) -> OUNoise | GaussianNoise:
    """The exploration noise the config asks for."""
    if config.noise == "ou":
        return OUNoise(size, config.noise_sigma, config.ou_theta, config.ou_dt, rng)
    return GaussianNoise(size, config.noise_sigma, rng)
