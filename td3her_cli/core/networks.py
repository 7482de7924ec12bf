"""Actor and twin-critic networks as plain tf.Modules (no Keras call overhead).

The twin critics are one module whose weights carry a leading ensemble axis of 2, so both
critics run as one batched matmul per layer. Hidden layers use LeakyReLU (slope 0.3, the
Keras default the original design used) and He-normal initialisation. Output layers start
from U(-3e-3, 3e-3) as in DDPG (Lillicrap et al., 2016, section 7), so that initial actions
sit in tanh's linear range and initial Q values near zero: with He-normal output layers the
actor starts saturated and PandaReach took 2-3x as many epochs
(docs/experiments/2026-11-24-reach-default-preset.md).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from td3her_cli.core.policy_snapshot import LEAKY_SLOPE

OUTPUT_INIT = 3e-3  # half-width of the uniform init of output layers


class BatchRenorm(tf.Module):
    """Batch renormalisation (Ioffe, 2017, arXiv:1702.03275) of one hidden layer's
    pre-activations, per ensemble member, as CrossQ's critics use it (Bhatt et al., 2024).

    Training: normalised with the batch's own mean and std, corrected towards the running
    statistics by r = std/running std and d = (mean - running mean)/running std, clipped to
    [1/R_MAX, R_MAX] and [-D_MAX, D_MAX] (no correction for the first WARMUP calls: batch
    normalisation); the running statistics then move towards the batch's by 1 - MOMENTUM.
    Inference: normalised with the running statistics. Then scaled and shifted (gamma, beta).
    """

    MOMENTUM = 0.99  # CrossQ's (SBX) running-statistics momentum
    R_MAX, D_MAX = 3.0, 5.0  # the renormalisation paper's and CrossQ's clips
    WARMUP = 10_000  # training calls with plain batch normalisation first
    EPSILON = 1e-3

    def __init__(self, shape: tuple[int, ...], name: str) -> None:
        super().__init__(name=name)
        self.gamma = tf.Variable(tf.ones(shape), name="gamma")
        self.beta = tf.Variable(tf.zeros(shape), name="beta")
        self.mean = tf.Variable(tf.zeros(shape), trainable=False, name="running_mean")
        self.var = tf.Variable(tf.ones(shape), trainable=False, name="running_var")
        self.calls = tf.Variable(0, dtype=tf.int64, trainable=False, name="training_calls")

    def __call__(self, hidden: tf.Tensor, training: bool) -> tf.Tensor:
        """hidden [(E,) B, H] -> the same shape, statistics over B."""
        running_std = tf.sqrt(self.var + self.EPSILON)
        if not training:
            return (hidden - self.mean) / running_std * self.gamma + self.beta
        mean = tf.reduce_mean(hidden, axis=-2, keepdims=True)
        var = tf.math.reduce_variance(hidden, axis=-2, keepdims=True)
        std = tf.sqrt(var + self.EPSILON)
        renorm = tf.cast(self.calls >= self.WARMUP, tf.float32)
        r = tf.clip_by_value(std / running_std, 1.0 / self.R_MAX, self.R_MAX)
        d = tf.clip_by_value((mean - self.mean) / running_std, -self.D_MAX, self.D_MAX)
        r = tf.stop_gradient(renorm * r + (1.0 - renorm))
        d = tf.stop_gradient(renorm * d)
        self.mean.assign(self.MOMENTUM * self.mean + (1.0 - self.MOMENTUM) * mean)
        self.var.assign(self.MOMENTUM * self.var + (1.0 - self.MOMENTUM) * var)
        self.calls.assign_add(1)
        return ((hidden - mean) / std * r + d) * self.gamma + self.beta


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """He-normal weights (truncated at 2 std, as Keras' HeNormal) for the given fan-in."""
    stddev = np.sqrt(2.0 / fan_in) / 0.87962566103423978  # std of a N(0,1) truncated at +/-2
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return (values * stddev).astype(np.float32)


class MLP(tf.Module):
    """`ensemble` independent MLPs (or a single one when ensemble is None) in one module.

    Input [B, in] -> output [B, out], or [E, B, out] with an ensemble.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: tuple[int, ...],
        out_dim: int,
        output_activation: str | None,
        rng: np.random.Generator,
        ensemble: int | None = None,
        name: str | None = None,
        batch_renorm: bool = False,
    ) -> None:
        super().__init__(name=name)
        self.output_activation = output_activation
        self.ensemble = ensemble
        lead = () if ensemble is None else (ensemble,)
        sizes = (in_dim, *hidden, out_dim)
        self.kernels = []
        self.biases = []
        last = len(sizes) - 2
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shape = (*lead, fan_in, fan_out)
            if index < last:
                kernel = he_normal(rng, shape, fan_in)
            else:
                kernel = rng.uniform(-OUTPUT_INIT, OUTPUT_INIT, shape).astype(np.float32)
            bias_shape = (*lead, 1, fan_out) if ensemble else (fan_out,)
            self.kernels.append(tf.Variable(kernel, name=f"kernel_{index}"))
            self.biases.append(tf.Variable(tf.zeros(bias_shape), name=f"bias_{index}"))
        # CrossQ: every hidden layer renormalised before its activation (none by default).
        self.norms = [
            BatchRenorm(((*lead, 1, width) if ensemble else (width,)), f"renorm_{index}")
            for index, width in enumerate(hidden)
            if batch_renorm
        ]

    @property
    def weights(self) -> list[tf.Variable]:
        """Trained weights: kernels and biases interleaved layer by layer, then the batch
        renormalisations' scales and shifts."""
        pairs = [v for pair in zip(self.kernels, self.biases) for v in pair]
        return pairs + [v for norm in self.norms for v in (norm.gamma, norm.beta)]

    def __call__(
        self, inputs: tf.Tensor, compute_dtype: tf.DType = tf.float32, training: bool = False
    ) -> tf.Tensor:
        """Float32 outputs of float32 inputs; `compute_dtype` is that of the hidden layers.
        `training`: batch renormalisation on the batch's statistics (and updates them)."""
        if self.norms:
            return self._renormalised(inputs, training)
        return self._forward(self.kernels, self.biases, inputs, compute_dtype)

    def member(
        self, index: int, inputs: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> tf.Tensor:
        """One ensemble member only: [B, in] -> [B, out] (half the work of a twin call)."""
        if self.norms:  # renormalised layers hold every member's statistics
            return self._renormalised(inputs, training=False)[index]
        return self._forward(
            [k[index] for k in self.kernels],
            [b[index] for b in self.biases],
            inputs,
            compute_dtype,
        )

    def _renormalised(self, inputs: tf.Tensor, training: bool) -> tf.Tensor:
        """The forward pass with batch renormalisation after each hidden matmul (float32)."""
        hidden = inputs
        last = len(self.kernels) - 1
        for index, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            hidden = tf.matmul(hidden, kernel) + bias
            if index < last:
                hidden = tf.nn.leaky_relu(self.norms[index](hidden, training), alpha=LEAKY_SLOPE)
        return tf.tanh(hidden) if self.output_activation == "tanh" else hidden

    def _forward(self, kernels, biases, inputs: tf.Tensor, compute_dtype: tf.DType) -> tf.Tensor:
        # Mixed precision when compute_dtype is bfloat16: the weights stay float32 (and so do
        # their gradients and Adam's state); the hidden layers' matmuls and activations run in
        # bfloat16, and the output layer in float32, so Q values and actions keep float32's
        # resolution.
        hidden = tf.cast(inputs, compute_dtype)
        last = len(kernels) - 1
        for index, (kernel, bias) in enumerate(zip(kernels, biases)):
            if index == last:
                hidden = tf.cast(hidden, tf.float32)
                hidden = tf.matmul(hidden, kernel) + bias  # [(E,) B, fan_out]
            else:
                hidden = tf.matmul(hidden, tf.cast(kernel, compute_dtype)) + tf.cast(
                    bias, compute_dtype
                )
                hidden = tf.nn.leaky_relu(hidden, alpha=LEAKY_SLOPE)
        if self.output_activation == "tanh":
            hidden = tf.tanh(hidden)
        return hidden

    def copy_from(self, other: MLP) -> None:
        """Copy another MLP's weights into this one (same architecture)."""
        for mine, theirs in zip(self.weights, other.weights):
            mine.assign(theirs)


def build_actor(in_dim: int, action_dim: int, hidden: tuple[int, ...], rng, name: str) -> MLP:
    """Actor: (normalised observation || goal) -> hidden LeakyReLU layers -> tanh action."""
    return MLP(in_dim, hidden, action_dim, "tanh", rng, name=name)


def build_critics(
    in_dim: int,
    hidden: tuple[int, ...],
    count: int,
    rng,
    name: str,
    batch_renorm: bool = False,
    outputs: int = 1,
) -> MLP:
    """`count` critics (2: TD3's twin): (observation || goal || action) -> hidden LeakyReLU
    (batch-renormalised first for CrossQ) -> linear Q, as one ensemble module
    ([count, B, outputs]: one value, or TQC's quantiles)."""
    return MLP(
        in_dim, hidden, outputs, None, rng, ensemble=count, name=name, batch_renorm=batch_renorm
    )
