"""Running mean/std normaliser whose state lives in tf.Variables, so it travels in SavedModels.

As in OpenAI's HER (Andrychowicz et al., 2017, appendix): inputs are clipped to +/- clip_obs,
standardised with running statistics (std floored at eps), and clipped to +/- clip_normalized.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

STD_FLOOR = 1e-2


class Normalizer(tf.Module):
    """Running statistics of a vector input; `normalize` works in graphs and in NumPy."""

    def __init__(
        self,
        size: int,
        clip_obs: float = 200.0,
        clip_normalized: float = 5.0,
        enabled: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.size = size
        self.clip_obs = float(clip_obs)
        self.clip_normalized = float(clip_normalized)
        self.enabled = enabled
        self.count = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="count")
        self.total = tf.Variable(tf.zeros([size], tf.float64), trainable=False, name="sum")
        self.total_sq = tf.Variable(tf.zeros([size], tf.float64), trainable=False, name="sum_sq")
        self.mean = tf.Variable(tf.zeros([size], tf.float32), trainable=False, name="mean")
        self.std = tf.Variable(tf.ones([size], tf.float32), trainable=False, name="std")

    def update(self, values: np.ndarray) -> None:
        """Add a batch of raw inputs [N, size] to the running statistics."""
        if not self.enabled:
            return
        values = np.clip(np.asarray(values, np.float64).reshape(-1, self.size), *self._raw_range)
        self.count.assign_add(float(values.shape[0]))
        self.total.assign_add(values.sum(axis=0))
        self.total_sq.assign_add(np.square(values).sum(axis=0))
        count = self.count.numpy()
        mean = self.total.numpy() / count
        variance = np.maximum(self.total_sq.numpy() / count - np.square(mean), STD_FLOOR**2)
        self.mean.assign(mean.astype(np.float32))
        self.std.assign(np.sqrt(variance).astype(np.float32))

    @property
    def _raw_range(self) -> tuple[float, float]:
        return -self.clip_obs, self.clip_obs

    def normalize(self, values: tf.Tensor) -> tf.Tensor:
        """Normalise a float32 tensor [..., size] (graph-safe)."""
        if not self.enabled:
            return values
        clipped = tf.clip_by_value(values, -self.clip_obs, self.clip_obs)
        return tf.clip_by_value(
            (clipped - self.mean) / self.std, -self.clip_normalized, self.clip_normalized
        )

    def numpy_params(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) as float32 arrays, for NumPy inference (policy_snapshot.PolicySnapshot)."""
        return self.mean.numpy(), self.std.numpy()

    def state(self) -> dict:
        """Statistics as plain numbers (for JSON metadata)."""
        return {
            "count": float(self.count.numpy()),
            "mean": self.mean.numpy().tolist(),
            "std": self.std.numpy().tolist(),
            "clip_obs": self.clip_obs,
            "clip_normalized": self.clip_normalized,
            "enabled": self.enabled,
        }
