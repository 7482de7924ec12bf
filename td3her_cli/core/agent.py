"""TD3 (Fujimoto et al., 2018, arXiv:1802.09477): the agent and its one compiled update step.

The update never knows about goals: HER lives in the replay buffer, which hands this module
ordinary (observation, goal, action, reward, next observation, done) batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from td3her_cli.config import TrainConfig
from td3her_cli.core.networks import MLP, build_actor, build_critics
from td3her_cli.core.normalizer import Normalizer
from td3her_cli.core.policy_snapshot import PolicySnapshot
from td3her_cli.core.replay import Batch
from td3her_cli.core.spec import EnvSpec


@dataclass(frozen=True)
class UpdateMetrics:
    """Losses of one optimisation step (actor_loss is the latest delayed actor update's)."""

    critic1_loss: float
    critic2_loss: float
    actor_loss: float
    mean_q: float


class Knobs:
    """Values the compiled update reads when it runs, so the trainer can change them between
    calls without a retrace: a factor on every Adam learning rate and the actor's action
    penalty. A plain object, so the agent's checkpoint does not hold them: the trainer's
    state does."""

    def __init__(self, action_l2: float) -> None:
        self.lr_scale = tf.Variable(1.0, trainable=False, name="lr_scale")
        self.action_l2 = tf.Variable(float(action_l2), trainable=False, name="action_l2")

    def set(self, lr_scale: float | None = None, action_l2: float | None = None) -> None:
        """Change the values given (None: keep)."""
        if lr_scale is not None:
            self.lr_scale.assign(lr_scale)
        if action_l2 is not None:
            self.action_l2.assign(action_l2)

    def values(self) -> dict[str, float]:
        return {
            "lr_scale": float(self.lr_scale.numpy()),
            "action_l2": float(self.action_l2.numpy()),
        }


class Adam(tf.Module):
    """Adam (Kingma & Ba, 2015) with its state in tf.Variables, so it checkpoints with the agent."""

    def __init__(
        self,
        variables: list[tf.Variable],
        learning_rate: float,
        name: str,
        knobs: Knobs | None = None,
    ) -> None:
        super().__init__(name=name)
        self.learning_rate = learning_rate
        self.knobs = knobs or Knobs(action_l2=0.0)  # its lr_scale multiplies learning_rate
        self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-7  # Keras defaults, as originally
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.first_moments = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.second_moments = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

    def apply(self, gradients: list[tf.Tensor], variables: list[tf.Variable]) -> None:
        """One bias-corrected Adam step (graph-safe)."""
        step = tf.cast(self.iterations.assign_add(1), tf.float32)
        correction = tf.sqrt(1.0 - self.beta2**step) / (1.0 - self.beta1**step)
        for grad, var, m, v in zip(gradients, variables, self.first_moments, self.second_moments):
            m.assign(self.beta1 * m + (1.0 - self.beta1) * grad)
            v.assign(self.beta2 * v + (1.0 - self.beta2) * tf.square(grad))
            rate = self.learning_rate * self.knobs.lr_scale
            var.assign_sub(rate * correction * m / (tf.sqrt(v) + self.epsilon))


class NumpyPolicy:
    """An actor of the agent and its normalisers as a PolicySnapshot: cheap, batched acting
    in the env loop.

    Weights are copied at construction (they change only in optimisation);
    `refresh_normalizers` re-reads the statistics, which change after every episode.
    """

    def __init__(self, agent: TD3Agent, actor: MLP) -> None:
        self._agent = agent
        self.snapshot = snapshot_of(
            agent, tuple(k.numpy() for k in actor.kernels), tuple(b.numpy() for b in actor.biases)
        )

    def refresh_normalizers(self) -> None:
        """Copy the current normaliser statistics (observation || goal)."""
        self.snapshot = snapshot_of(self._agent, self.snapshot.kernels, self.snapshot.biases)

    def __call__(self, observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        """Deterministic actions in [-1, 1] for observation [N, obs] and goal [N, goal]."""
        return self.snapshot(observation, desired_goal)


def snapshot_of(agent: TD3Agent, kernels: tuple, biases: tuple) -> PolicySnapshot:
    """These actor weights (NumPy) with the agent's current normaliser statistics."""
    obs_norm, goal_norm = agent.obs_normalizer, agent.goal_normalizer
    obs_mean, obs_std = obs_norm.numpy_params()
    goal_mean, goal_std = goal_norm.numpy_params()
    return PolicySnapshot(
        kernels=kernels,
        biases=biases,
        mean=np.concatenate([obs_mean, goal_mean]),
        inv_std=1.0 / np.concatenate([obs_std, goal_std]),
        clip_obs=obs_norm.clip_obs,
        clip_normalized=obs_norm.clip_normalized,
        normalize=obs_norm.enabled,
    )


def td_target_bounds(
    reward_bounds: tuple[float, float] | None, gamma: float
) -> tuple[float, float] | None:
    """Bounds of the discounted return implied by bounded rewards (None when unbounded)."""
    if reward_bounds is None or gamma >= 1.0:
        return None
    low, high = reward_bounds
    return low / (1.0 - gamma), high / (1.0 - gamma)


class TD3Agent(tf.Module):
    """Actor, twin critics, their targets, optimisers, normalisers and the compiled update;
    with `policy_average`, also a Polyak-averaged copy of the actor that is evaluated."""

    def __init__(self, config: TrainConfig, spec: EnvSpec, jit_compile: bool | None = None) -> None:
        super().__init__(name="td3")
        self.config = config
        self.spec = spec
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 7]))
        actor_in = spec.obs_dim + spec.goal_dim
        critic_in = actor_in + spec.action_dim
        self.obs_normalizer = Normalizer(
            spec.obs_dim, config.clip_obs, config.clip_normalized, config.normalize, "obs_norm"
        )
        self.goal_normalizer = Normalizer(
            spec.goal_dim, config.clip_obs, config.clip_normalized, config.normalize, "goal_norm"
        )
        self.actor = build_actor(actor_in, spec.action_dim, config.hidden, rng, "actor")
        if config.crossq:  # CrossQ: renormalised critics, no target networks
            self.actor_target = self.critic_target = None
            self.critic = build_critics(
                critic_in, config.hidden, config.critics, rng, "critic", batch_renorm=True
            )
        else:
            self.actor_target = build_actor(
                actor_in, spec.action_dim, config.hidden, rng, "actor_t"
            )
            outputs = config.quantiles or 1  # TQC: quantiles of the return; TD3: one value
            self.critic = build_critics(
                critic_in, config.hidden, config.critics, rng, "critic", outputs=outputs
            )
            self.critic_target = build_critics(
                critic_in, config.hidden, config.critics, rng, "critic_t", outputs=outputs
            )
            self.actor_target.copy_from(self.actor)
            self.critic_target.copy_from(self.critic)
        # Built only when asked for, after the others: the default agent, its initial weights
        # and its checkpoints stay as they were. Its own generator leaves `rng` untouched.
        self.actor_average = None
        if config.policy_average > 0:
            self.actor_average = build_actor(
                actor_in, spec.action_dim, config.hidden, np.random.default_rng(0), "actor_avg"
            )
            self.actor_average.copy_from(self.actor)
        self.knobs = Knobs(config.action_l2)  # the trainer changes them at the stop gate
        self.actor_optimizer = Adam(self.actor.weights, config.actor_lr, "actor_adam", self.knobs)
        self.critic_optimizer = Adam(
            self.critic.weights, config.critic_lr, "critic_adam", self.knobs
        )
        self.critic_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="critic_updates")
        self.actor_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="actor_updates")
        # NaN until the first delayed actor update (steps before it have no actor loss).
        self.last_actor_loss = tf.Variable(float("nan"), trainable=False, name="last_actor_loss")
        self._watched = [  # (what, variable) checked for NaN/inf after each cycle
            *(("actor weights", v) for v in self.actor.weights),
            *(("critic weights", v) for v in self.critic.weights),
            *(
                ("averaged actor weights", v)
                for v in (() if self.actor_average is None else self.actor_average.weights)
            ),
            *(
                ("observation normaliser", v)
                for v in (self.obs_normalizer.mean, self.obs_normalizer.std)
            ),
            *(
                ("goal normaliser", v)
                for v in (self.goal_normalizer.mean, self.goal_normalizer.std)
            ),
        ]
        self._finite_flags = tf.function(
            lambda: tf.stack([tf.reduce_all(tf.math.is_finite(v)) for _, v in self._watched]),
            autograph=False,
        )
        self.noise_generator = tf.random.Generator.from_seed(config.seed)
        self.target_bounds = td_target_bounds(spec.reward_bounds, config.gamma)
        # The update's hidden layers run in this dtype (acting and checkpoints: float32).
        self.compute_dtype = tf.as_dtype(config.precision)
        jit_compile = config.xla if jit_compile is None else jit_compile
        signature = [
            tf.TensorSpec([None, spec.obs_dim], tf.float32),
            tf.TensorSpec([None, spec.goal_dim], tf.float32),
            tf.TensorSpec([None, spec.action_dim], tf.float32),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None, spec.obs_dim], tf.float32),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]
        # autograph=False: the update's control flow is written as tf.cond / tf.while_loop,
        # so tracing skips autograph's source conversion (same graph, shorter first call).
        self._compiled_update = tf.function(
            self._update_step, input_signature=signature, jit_compile=jit_compile, autograph=False
        )
        stacked = [tf.TensorSpec([None, *spec.shape], spec.dtype) for spec in signature]
        self._compiled_updates = tf.function(
            self._update_steps, input_signature=stacked, jit_compile=jit_compile, autograph=False
        )

    # ----------------------------------------------------------------- acting
    @property
    def evaluated_actor(self) -> MLP:
        """The actor that evaluations, checks and saved policies use: the averaged copy when
        `policy_average` > 0, else the actor itself."""
        return self.actor_average if self.actor_average is not None else self.actor

    def numpy_policy(self) -> NumpyPolicy:
        """A NumPy snapshot of the current actor and normaliser statistics (for exploring)."""
        return NumpyPolicy(self, self.actor)

    def evaluated_policy(self) -> NumpyPolicy:
        """A NumPy snapshot of `evaluated_actor` and the normaliser statistics."""
        return NumpyPolicy(self, self.evaluated_actor)

    def update_normalizers(self, observations: np.ndarray, goals: np.ndarray) -> None:
        """Add observations [N, obs] and goals [M, goal] to the running statistics."""
        self.obs_normalizer.update(observations)
        self.goal_normalizer.update(goals)

    def non_finite_parts(self) -> list[str]:
        """Which of actor, critics and normalisers hold a NaN or an infinity (none: [])."""
        flags = self._finite_flags().numpy()
        return list(dict.fromkeys(what for (what, _), ok in zip(self._watched, flags) if not ok))

    # ----------------------------------------------------------------- learning
    def update(self, batch: Batch) -> UpdateMetrics:
        """One TD3 optimisation step on a batch (compiled; traced once)."""
        values = self._compiled_update(*batch).numpy()
        return UpdateMetrics(*(float(v) for v in values))

    def update_many(self, batches: Batch) -> list[UpdateMetrics]:
        """K consecutive optimisation steps in one compiled call; batches are [K, B, ...].

        Same arithmetic as K calls of `update`, without K Python-to-TF dispatches (about
        1-2 ms each on CPU, which dominates a step of small networks).
        """
        values = self._compiled_updates(*batches).numpy()  # [K, 4]
        return [UpdateMetrics(*(float(v) for v in row)) for row in values]

    def _update_steps(self, observation, goal, action, reward, next_observation, done, discount):
        steps = tf.shape(observation)[0]

        def body(k, results):
            metrics = self._update_step(
                observation[k],
                goal[k],
                action[k],
                reward[k],
                next_observation[k],
                done[k],
                discount[k],
            )
            return k + 1, results.write(k, metrics)

        _, results = tf.while_loop(
            lambda k, _: k < steps, body, (tf.constant(0), tf.TensorArray(tf.float32, size=steps))
        )
        return results.stack()

    def _inputs(self, observation: tf.Tensor, goal: tf.Tensor) -> tf.Tensor:
        """Normalised (observation || goal): [B, obs + goal]."""
        return tf.concat(
            [self.obs_normalizer.normalize(observation), self.goal_normalizer.normalize(goal)],
            axis=-1,
        )

    def compute_td_target(
        self,
        next_inputs: tf.Tensor,
        reward: tf.Tensor,
        done: tf.Tensor,
        discount: tf.Tensor,
        action_shape,
    ) -> tf.Tensor:
        """y = r + discount (1 - done) min_i Q'_i(s', clip(pi'(s') + clip(eps, -c, c), -1, 1)).

        TD3 eq. 10 (clipped double Q) with target policy smoothing (section 5.3); the noise is
        drawn per sample, fresh each step. With more critics than `target_critics`, the minimum
        runs over a random subset of that many, one subset per update (REDQ, Chen et al. 2021,
        Algorithm 1 line 7). `discount` is gamma per row, or gamma^m for an m-step return (the
        replay's n_step). The target is clipped to the return's bounds when the reward is
        sparse (OpenAI HER's [-1/(1-gamma), 0] clip, which n-step returns also respect).
        """
        next_action = self.smoothed_next_action(self.actor_target, next_inputs, action_shape)
        q_next_targets = self.critic_target(
            tf.concat([next_inputs, next_action], -1), self.compute_dtype
        )  # [N, B, 1], or [N, B, K] quantiles (TQC)
        if self.config.quantiles:
            return self.truncated_target_atoms(q_next_targets, reward, done, discount)
        return self.td_target_from(q_next_targets[:, :, 0], reward, done, discount)

    def truncated_target_atoms(self, q_next: tf.Tensor, reward, done, discount) -> tf.Tensor:
        """TQC's target (Kuznetsov et al., 2020, eq. 10-11): the N critics' K next-state
        quantiles q_next [N, B, K] pooled per sample, sorted, the top N * drop_quantiles
        dropped, each kept atom bootstrapped as r + discount (1 - done) z: [B, N (K - d)];
        clipped to the return's bounds when they are known."""
        critics, quantiles = self.config.critics, self.config.quantiles
        pooled = tf.reshape(tf.transpose(q_next, [1, 0, 2]), [-1, critics * quantiles])
        kept = tf.sort(pooled, axis=1)[:, : critics * (quantiles - self.config.drop_quantiles)]
        atoms = reward[:, None] + (discount * (1.0 - done))[:, None] * kept
        if self.target_bounds is not None:
            atoms = tf.clip_by_value(atoms, *self.target_bounds)
        return tf.stop_gradient(atoms)

    def smoothed_next_action(self, actor: MLP, next_inputs: tf.Tensor, action_shape) -> tf.Tensor:
        """clip(actor(s') + clip(eps, -c, c), -1, 1): TD3's target policy smoothing (section
        5.3), noise drawn per sample, fresh each step."""
        config = self.config
        smoothing = tf.clip_by_value(
            config.target_noise * self.noise_generator.normal(action_shape),
            -config.target_noise_clip,
            config.target_noise_clip,
        )
        return tf.clip_by_value(actor(next_inputs, self.compute_dtype) + smoothing, -1.0, 1.0)

    def td_target_from(self, q_next: tf.Tensor, reward, done, discount) -> tf.Tensor:
        """reward + discount (1 - done) min over the (REDQ: a random subset of the) critics'
        next-state values q_next [N, B]; clipped to the return's bounds when they are known."""
        config = self.config
        if config.target_critics < config.critics:  # REDQ: M of the N critics, drawn per update
            order = tf.argsort(self.noise_generator.uniform([config.critics]))
            q_next = tf.gather(q_next, order[: config.target_critics])
        td_target = reward + discount * (1.0 - done) * tf.reduce_min(q_next, axis=0)
        if self.target_bounds is not None:
            td_target = tf.clip_by_value(td_target, *self.target_bounds)
        return tf.stop_gradient(td_target)

    def _crossq_q_and_target(self, inputs, next_inputs, action, reward, done, discount):
        """CrossQ (Bhatt et al., 2024): (s, a) and (s', a') as one batch through the
        renormalised critics, so both see the same statistics; the TD target from the online
        critics' values of (s', a'), as no target networks exist. Q values [N, B], target [B]."""
        next_action = self.smoothed_next_action(self.actor, next_inputs, tf.shape(action))
        both = tf.concat(
            [tf.concat([inputs, action], -1), tf.concat([next_inputs, next_action], -1)], 0
        )
        q_values, q_next = tf.split(self.critic(both, training=True)[:, :, 0], 2, axis=1)
        return q_values, self.td_target_from(q_next, reward, done, discount)

    def _update_step(self, observation, goal, action, reward, next_observation, done, discount):
        inputs = self._inputs(observation, goal)  # [B, obs + goal]
        next_inputs = self._inputs(next_observation, goal)
        crossq = self.config.crossq
        if not crossq:  # TD3: the target networks' target, outside the tape
            td_target = self.compute_td_target(
                next_inputs, reward, done, discount, tf.shape(action)
            )

        with tf.GradientTape() as tape:
            if crossq:  # the target comes out of the same critic call as the Q values
                q_values, td_target = self._crossq_q_and_target(
                    inputs, next_inputs, action, reward, done, discount
                )
            else:
                critic_inputs = tf.concat([inputs, action], -1)
                q_values = self.critic(critic_inputs, self.compute_dtype)  # [N, B, K or 1]
                if not self.config.quantiles:
                    q_values = q_values[:, :, 0]
            if self.config.quantiles:  # TQC: quantiles [N, B, K] against atoms [B, M]
                critic_losses = quantile_huber_losses(q_values, td_target)
            else:
                critic_losses = tf.reduce_mean(tf.square(q_values - td_target[None, :]), axis=1)
            critic_loss = tf.reduce_sum(critic_losses)
        gradients = tape.gradient(critic_loss, self.critic.weights)
        self.critic_optimizer.apply(gradients, self.critic.weights)
        self.critic_updates.assign_add(1)

        # Delayed policy updates (TD3 section 5.2): the actor and all targets move together,
        # once every `policy_delay` critic updates.
        actor_loss = tf.cond(
            self.critic_updates % self.config.policy_delay == 0,
            lambda: self._actor_and_target_step(inputs),
            lambda: tf.identity(self.last_actor_loss),
        )
        return tf.stack(
            [critic_losses[0], critic_losses[1], actor_loss, tf.reduce_mean(q_values[0])]
        )

    def _actor_and_target_step(self, inputs: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            dtype = self.compute_dtype
            action = self.actor(inputs, dtype)
            critic_inputs = tf.concat([inputs, action], -1)
            if self.config.quantiles:  # TQC: the mean of every critic's quantiles
                q_actor = tf.reduce_mean(self.critic(critic_inputs, dtype), axis=[0, 2])  # [B]
            elif self.config.critics == 2:  # TD3: the actor follows Q1
                q_actor = self.critic.member(0, critic_inputs, dtype)  # [B, 1]
            else:  # REDQ: the actor follows the ensemble's mean
                q_actor = tf.reduce_mean(self.critic(critic_inputs, dtype), axis=0)  # [B, 1]
            actor_loss = -tf.reduce_mean(q_actor) + self.knobs.action_l2 * tf.reduce_mean(
                tf.square(action)
            )
        gradients = tape.gradient(actor_loss, self.actor.weights)
        self.actor_optimizer.apply(gradients, self.actor.weights)
        if self.critic_target is not None:  # CrossQ has none
            polyak_update(self.actor_target, self.actor, self.config.tau)
            polyak_update(self.critic_target, self.critic, self.config.tau)
        if self.actor_average is not None:  # Polyak-averaged policy, for evaluation only
            # max(beta, 1/(n+1)) at the n-th actor update (from 0): the exact mean of the
            # actors so far until that reaches beta, so the random initial actor leaves at once.
            n = tf.cast(self.actor_updates, tf.float32)
            beta = tf.maximum(self.config.policy_average, 1.0 / (n + 1.0))
            polyak_update(self.actor_average, self.actor, beta)
        self.actor_updates.assign_add(1)
        self.last_actor_loss.assign(actor_loss)
        return actor_loss


def quantile_huber_losses(quantiles: tf.Tensor, atoms: tf.Tensor) -> tf.Tensor:
    """Each critic's quantile Huber loss (kappa 1) of its quantiles [N, B, K] against the
    target atoms [B, M], averaged over samples, quantiles and atoms: [N]. The k-th quantile's
    level is (2k + 1) / 2K (Dabney et al., 2018; TQC eq. 12)."""
    count = tf.shape(quantiles)[-1]
    levels = (tf.range(count, dtype=tf.float32) + 0.5) / tf.cast(count, tf.float32)  # [K]
    delta = atoms[None, :, None, :] - quantiles[:, :, :, None]  # [N, B, K, M]
    size = tf.abs(delta)
    huber = tf.where(size <= 1.0, 0.5 * tf.square(delta), size - 0.5)
    below = tf.cast(delta < 0.0, tf.float32)
    weight = tf.abs(levels[None, None, :, None] - below)
    return tf.reduce_mean(weight * huber, axis=[1, 2, 3])


def polyak_update(target: MLP, online: MLP, tau: float | tf.Tensor) -> None:
    """target <- (1 - tau) target + tau online, for every weight."""
    for target_weight, online_weight in zip(target.weights, online.weights):
        target_weight.assign((1.0 - tau) * target_weight + tau * online_weight)
