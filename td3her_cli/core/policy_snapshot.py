"""The actor and its normaliser statistics as plain NumPy arrays: acting without TensorFlow.

The training loop acts through this copy (a batched NumPy forward pass is cheaper than a call
into TensorFlow for a handful of observations); the worker processes of --num-envs receive it
once per cycle and act with it without importing TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.3  # the hidden layers' LeakyReLU slope (networks.py builds the TF twin)


def numpy_forward(
    kernels: list[np.ndarray], biases: list[np.ndarray], inputs: np.ndarray, tanh: bool
) -> np.ndarray:
    """NumPy twin of networks.MLP.__call__ for one (non-ensemble) network: [B, in] -> [B, out]."""
    hidden = inputs
    last = len(kernels) - 1
    for index, (kernel, bias) in enumerate(zip(kernels, biases)):
        hidden = hidden @ kernel + bias
        if index < last:
            hidden = np.maximum(hidden, LEAKY_SLOPE * hidden)  # LeakyReLU, as slope < 1
    return np.tanh(hidden) if tanh else hidden


@dataclass(frozen=True)
class PolicySnapshot:
    """A deterministic policy: normalise (observation || goal), then the actor's layers."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    mean: np.ndarray  # [obs + goal]
    inv_std: np.ndarray  # [obs + goal]
    clip_obs: float
    clip_normalized: float
    normalize: bool

    def __call__(self, observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        """Deterministic actions in [-1, 1] for observation [N, obs] and goal [N, goal]."""
        inputs = np.concatenate([observation, desired_goal], axis=-1)  # [N, obs + goal]
        if self.normalize:
            inputs = np.clip(inputs, -self.clip_obs, self.clip_obs)
            inputs = np.clip(
                (inputs - self.mean) * self.inv_std, -self.clip_normalized, self.clip_normalized
            )
        return numpy_forward(self.kernels, self.biases, inputs.astype(np.float32), tanh=True)
