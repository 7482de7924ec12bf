"""Figure 7: where one fused TD3 update's time goes (the push preset, as a Push run trains).

The agent is the push preset's (`TrainConfig(**preset_values("push"))`: its networks (3x128), twin
critics, batch 256, policy_delay 2, an averaged actor, XLA) on PandaPush-v3's spec as
describe_env reads it (obs 18, goal 3, action 3: Push's gripper is blocked). Its replay buffer is
filled with 180k transitions of random 50-step episodes of those dims (where Push runs stop) and
relabels with the env's own compute_reward and is_success, as training does; one draw of
K = optimization_steps (60) batches, `buffer.sample_stacked`, converted to tensors once, feeds
every compiled function below, so all of them run on the same batches.

Inside the compiled call. Each part is its own `tf.function` (jit_compile as the preset, XLA)
that runs the part K times in a tf.while_loop over the K batches, as `TD3Agent.update_many`
runs whole updates, on the agent's own networks, normalisers and optimisers:

- full update: `agent._compiled_updates` (what `update_many` calls) on the tensors;
- TD target: `agent._inputs` of the next observation, then `agent.compute_td_target` (target
  actor forward with smoothing noise, twin target critics forward, their minimum, the clip);
  no gradients;
- critic gradients: `agent._inputs`, the twin critics' forward pass, loss and `tape.gradient`,
  the lines of `TD3Agent._update_step` between the TD target and the optimiser (copied, with
  the batch's reward standing in for the target: same shapes, same cost). The gradients are
  written to tf.Variables, which keeps them all live (XLA drops work whose result is unused):
  one write of the critics' weights' worth, a few % of the part;
- critic Adam: the agent's Adam class (`td3her_cli.core.agent.Adam`, critic_lr) applied to
  copies of the critics' weights (the same gradients applied again and again would carry the
  agent's own critics far off), with the gradients read from those variables (so XLA cannot
  fold them as constants);
- actor step: `agent._actor_and_target_step` traced with the agent module's `polyak_update`
  replaced by a no-op (the real actor forward, Q1 forward, backward and actor Adam; nothing
  else changed); it runs every step here, once per policy_delay updates in training, so its
  time per update is divided by policy_delay;
- Polyak: `polyak_update` of the target actor and target critics (tau) and of the averaged
  actor (the push preset's policy_average), the three calls `_actor_and_target_step` makes;
  per update divided by policy_delay as well;
- the empty loop: the same kind of function whose body only reads one number of the k-th
  batch: the call, its dispatch, the while loop and the read-back, with no work.

Each part's time is net of the empty loop (its call time minus the empty loop's, in the same
repeat), per update (divided by K, and by policy_delay for the actor step and Polyak). The
remainder is the full update minus the sum of the net parts, repeat by repeat: the full call's
own dispatch, loop and read-back (the empty loop, shown alone too), the policy_delay tf.cond, the
step counters and the per-step losses written out, less whatever XLA fuses across parts in the
whole graph (which can make it small or negative). Each part normalises its own inputs, so the
actor step repeats a [256, 21] elementwise normalisation the full update shares: noise-level.

Outside the compiled call, per update (divided by K): `buffer.sample_stacked(K, B, rng)`, the
HER sampling of a cycle's K batches in NumPy, and `tf.convert_to_tensor` of its 7 stacked
fields (what a tf.function does with NumPy arguments, as `update_many` passes them). Sampling,
conversion and the full update together are what `Trainer.optimise` does in a cycle (its
`update_seconds` in metrics.jsonl, less K UpdateMetrics built in Python), here without worker
envs sharing the cores.

Repeats interleave every function, the sampling and the reference matmuls, order reversed every
other repeat, so drift from a background job is shared; each timed block holds whole calls, at
least `plan.breakdown_block_seconds` of them. FLOPs are matmul FLOPs counted analytically as in
figure 3 (bench.td3_update.update_flops; the parts' FLOPs sum to its amortised count); the
achieved rates are set against the reference float32 matmuls figure 3 times (its matmul_function),
measured again in this figure's repeats.

TF's thread pools are fixed once a process starts, so 1 vs 2 threads needs a process each (and
an XLA compile each); not part of this figure. `python -m bench.update_scaling --threads 1` (then
2) `--batches 256 --hiddens 128,128,128 --critics 2:2 --steps 60 --policy-averages 0.001` times
this full update so.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import td3her_cli.core.agent as agent_module
from bench.plan import Plan
from bench.results import Figure, Grid, Row, Summary, Table, format_number
from bench.td3_update import (
    LARGE_MATMUL,
    LAYER_MATMUL,
    MATMULS,
    matmul_flops,
    matmul_function,
    mlp_forward_flops,
    update_flops,
)
from bench.timing import calls_for, seconds_per_call
from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import Batch, TD3Agent
from td3her_cli.core.replay import Episode, HerReplayBuffer, RewardFn
from td3her_cli.core.spec import EnvSpec

ENV_ID = "PandaPush-v3"
PRESET = "push"
FILL_TRANSITIONS = 180_000
"""Transitions in the buffer: about where Push runs stop (179k env steps in issue 31's run)."""
EPISODE_POOL = 64  # distinct random episodes, added again and again (`add` copies them)
SHORT_EPISODE_FRACTION = 0.1  # episodes that end early (panda-gym ends them on success)

PARTS = ("td_target", "critic_gradients", "critic_adam", "actor", "polyak")
"""The compiled parts of one update, in the order the update runs them."""
DELAYED = ("actor", "polyak")
"""Parts that run once per policy_delay updates (their time per update is divided by it)."""
COMPILED = ("full", "loop", *PARTS)
OUTSIDE = ("sampling", "conversion")
"""Host-side work of a cycle, timed per call of K batches."""
REFERENCE = (LAYER_MATMUL, LARGE_MATMUL)


NAMES = {
    "full": "full update",
    "td_target": "TD target",
    "critic_gradients": "critic gradients",
    "critic_adam": "critic Adam",
    "actor": "actor step",
    "polyak": "Polyak",
    "remainder": "remainder",
    "loop": "empty loop",
    "sampling": "HER sampling",
    "conversion": "host to TF",
}
"""Short names of the variants (first column of the breakdown, first-call rows)."""


def part_label(part: str, policy_delay: int) -> str:
    """What a variant is, for row labels."""
    what = {
        "full": "agent._compiled_updates, as update_many runs it",
        "td_target": "target actor fwd + twin target critics fwd + min, no gradient",
        "critic_gradients": "twin critics fwd + bwd",
        "critic_adam": "Adam apply to the critics' weights",
        "actor": f"actor fwd + Q1 fwd + bwd + actor Adam, 1 update in {policy_delay}",
        "polyak": f"target actor, target critics, averaged actor, 1 update in {policy_delay}",
        "remainder": "full minus the net parts: call, loop, cond, counters, outputs",
        "loop": "call, dispatch, while loop and read-back with no work",
        "sampling": "buffer.sample_stacked in NumPy",
        "conversion": "tf.convert_to_tensor of the 7 stacked fields",
    }[part]
    return f"{NAMES[part]} ({what})"


@dataclass(frozen=True)
class PartFlops:
    """Matmul FLOPs per update of each part (amortised over policy_delay where it is delayed)."""

    per_update: dict[str, float]

    @classmethod
    def of(cls, spec: EnvSpec, config: TrainConfig) -> PartFlops:
        """Count them for this spec and config, as bench.td3_update.update_flops does."""
        actor_in = spec.obs_dim + spec.goal_dim
        actor = mlp_forward_flops(actor_in, config.hidden, spec.action_dim)  # per sample
        critic = mlp_forward_flops(actor_in + spec.action_dim, config.hidden, 1)  # one twin
        batch, delay = config.batch_size, config.policy_delay
        counts = {
            "td_target": batch * (actor + config.critics * critic),
            "critic_gradients": batch * 3 * config.critics * critic,  # bwd ~ 2x fwd
            "critic_adam": 0,
            "actor": batch * (3 * actor + 2 * critic) / delay,  # critic: fwd + bwd-to-input
            "polyak": 0,
        }
        counts["full"] = update_flops(spec, config).amortised
        return cls({part: float(count) for part, count in counts.items()})


# ------------------------------------------------------------------------- the replay buffer
def random_episode(
    spec: EnvSpec, length: int, reward_fn: RewardFn, rng: np.random.Generator
) -> Episode:
    """An episode of the spec's dims: random observations and actions, a wandering achieved
    goal, a fixed desired goal, the env's reward for them."""
    observation = rng.normal(0, 0.1, (length + 1, spec.obs_dim)).astype(np.float32)
    start = rng.uniform(-0.1, 0.1, (1, spec.goal_dim))
    walk = np.cumsum(rng.normal(0, 0.005, (length + 1, spec.goal_dim)), axis=0)
    achieved_goal = (start + walk).astype(np.float32)  # [T + 1, goal]
    desired_goal = np.repeat(rng.uniform(-0.1, 0.1, (1, spec.goal_dim)), length, 0)
    desired_goal = desired_goal.astype(np.float32)  # [T, goal]
    reward = reward_fn(achieved_goal[1:], desired_goal)  # [T]
    return Episode(
        observation=observation,
        achieved_goal=achieved_goal,
        desired_goal=desired_goal,
        action=rng.uniform(-1, 1, (length, spec.action_dim)).astype(np.float32),
        reward=reward,
        terminated=np.zeros(length, bool),
        success=bool(reward[-1] == 0),
    )


def filled_buffer(
    config: TrainConfig,
    spec: EnvSpec,
    reward_fn: RewardFn,
    terminal_fn: RewardFn | None,
    transitions: int,
    rng: np.random.Generator,
) -> HerReplayBuffer:
    """The run's HER buffer (capacity, strategy, k, gamma, n_step of `config`) holding about
    `transitions` transitions of random episodes, mostly full length."""
    buffer = HerReplayBuffer(
        config.buffer_size,
        spec.obs_dim,
        spec.goal_dim,
        spec.action_dim,
        reward_fn,
        config.her_strategy,
        config.her_k,
        terminal_fn,
        gamma=config.gamma,
        n_step=config.n_step,
    )
    steps = spec.max_episode_steps or 50
    short = rng.random(EPISODE_POOL) < SHORT_EPISODE_FRACTION
    lengths = np.where(short, rng.integers(5, steps, EPISODE_POOL), steps)
    pool = [random_episode(spec, int(length), reward_fn, rng) for length in lengths]
    while buffer.size < min(transitions, config.buffer_size - steps):
        buffer.add(pool[int(rng.integers(EPISODE_POOL))])
    return buffer


# ------------------------------------------------------------------------- compiled parts
def fused(
    agent: TD3Agent, body: Callable[[Batch], tf.Tensor], jit_compile: bool
) -> Callable[..., tf.Tensor]:
    """A compiled function of stacked batches [K, B, ...] that runs `body` on each of the K
    batches in a tf.while_loop (as update_many runs _update_step) and returns the sum of its
    scalar results, so nothing the body computes is dead code."""

    def run(*stacked: tf.Tensor) -> tf.Tensor:
        steps = tf.shape(stacked[0])[0]

        def step(k, total):
            return k + 1, total + body(Batch(*(field[k] for field in stacked)))

        _, total = tf.while_loop(lambda k, _: k < steps, step, (tf.constant(0), tf.constant(0.0)))
        return total

    signature = agent._compiled_updates.input_signature
    return tf.function(run, input_signature=signature, jit_compile=jit_compile, autograph=False)


def critic_gradients(agent: TD3Agent, batch: Batch, td_target: tf.Tensor) -> list[tf.Tensor]:
    """The twin critics' loss gradients, as TD3Agent._update_step computes them."""
    inputs = agent._inputs(batch.observation, batch.desired_goal)  # [B, obs + goal]
    with tf.GradientTape() as tape:
        q_values = agent.critic(tf.concat([inputs, batch.action], -1), agent.compute_dtype)
        q_values = q_values[:, :, 0]  # [critics, B]
        critic_losses = tf.reduce_mean(tf.square(q_values - td_target[None, :]), axis=1)
        critic_loss = tf.reduce_sum(critic_losses)
    return tape.gradient(critic_loss, agent.critic.weights)


def polyak_updates(agent: TD3Agent) -> None:
    """The Polyak updates _actor_and_target_step makes (the averaged actor's at its floor
    rate, policy_average: the same arithmetic as its max(beta, 1/(n+1)))."""
    tau = agent.config.tau
    agent_module.polyak_update(agent.actor_target, agent.actor, tau)
    agent_module.polyak_update(agent.critic_target, agent.critic, tau)
    if agent.actor_average is not None:
        agent_module.polyak_update(agent.actor_average, agent.actor, agent.config.policy_average)


@contextlib.contextmanager
def polyak_left_out() -> Iterator[None]:
    """While it is open, the agent module's polyak_update does nothing: a function traced
    inside it runs _actor_and_target_step without its target and average updates."""
    original = agent_module.polyak_update
    agent_module.polyak_update = lambda *_: None
    try:
        yield
    finally:
        agent_module.polyak_update = original


@contextlib.contextmanager
def tf_warnings_left_out() -> Iterator[None]:
    """While it is open, TF logs errors only. Tracing the parts, each a new closure of
    `fused`'s one `run`, makes TF warn of excessive retracing: each is traced only once."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class Parts:
    """The full update, each part and the empty loop as compiled functions of one agent."""

    def __init__(self, agent: TD3Agent, tensors: Batch, jit_compile: bool) -> None:
        self.agent = agent
        self.tensors = tensors
        first = Batch(*(field[0] for field in tensors))
        # Critic gradients, written by the gradients part (which keeps them live) and read by
        # the Adam part (so XLA cannot fold them), applied to copies of the critics' weights by
        # an Adam of the agent's class and settings.
        self.gradients = [
            tf.Variable(gradient, trainable=False)
            for gradient in critic_gradients(agent, first, first.reward)
        ]
        self.adam_weights = [tf.Variable(weight) for weight in agent.critic.weights]
        self.adam = agent_module.Adam(self.adam_weights, agent.config.critic_lr, "bench_adam")

        def td_target(batch: Batch) -> tf.Tensor:
            next_inputs = agent._inputs(batch.next_observation, batch.desired_goal)
            target = agent.compute_td_target(
                next_inputs, batch.reward, batch.done, batch.discount, tf.shape(batch.action)
            )
            return tf.reduce_sum(target)

        def gradients(batch: Batch) -> tf.Tensor:
            grads = critic_gradients(agent, batch, batch.reward)
            for variable, gradient in zip(self.gradients, grads):
                variable.assign(gradient)
            return tf.constant(0.0)

        def adam(batch: Batch) -> tf.Tensor:
            self.adam.apply(
                [gradient.read_value() for gradient in self.gradients], self.adam_weights
            )
            return tf.constant(0.0)

        def actor(batch: Batch) -> tf.Tensor:
            return agent._actor_and_target_step(
                agent._inputs(batch.observation, batch.desired_goal)
            )

        def polyak(batch: Batch) -> tf.Tensor:
            polyak_updates(agent)
            return tf.constant(0.0)

        def loop(batch: Batch) -> tf.Tensor:
            return batch.reward[0]

        bodies = {
            "loop": loop,
            "td_target": td_target,
            "critic_gradients": gradients,
            "critic_adam": adam,
            "actor": actor,
            "polyak": polyak,
        }
        self.functions = {name: fused(agent, body, jit_compile) for name, body in bodies.items()}
        self.functions["full"] = agent._compiled_updates

    def call(self, name: str) -> float:
        """One call of a compiled function on the K batches; its result read back (a sync)."""
        return float(np.sum(self.functions[name](*self.tensors).numpy()))

    def trace(self) -> dict[str, float]:
        """The first call of each function (trace and compile), timed; the actor step's traced
        without Polyak."""
        seconds = {}
        with tf_warnings_left_out():
            for name in COMPILED:
                start = time.perf_counter()
                with polyak_left_out() if name == "actor" else contextlib.nullcontext():
                    self.call(name)
                seconds[name] = time.perf_counter() - start
        return seconds


# ------------------------------------------------------------------------- measurement
@dataclass
class BreakdownTimings:
    """Raw timings: seconds per call (K updates, or K batches) of each variant, per repeat."""

    config: TrainConfig
    spec: EnvSpec
    steps: int
    """K, updates (batches) per call."""
    buffer_transitions: int
    first_call: dict[str, float]
    call_seconds: dict[str, list[float]]
    matmul_seconds: dict[str, list[float]]

    @property
    def repeats(self) -> int:
        """Interleaved repeats."""
        return len(self.call_seconds["full"])

    def amortisation(self, part: str) -> int:
        """Updates one run of the part serves: policy_delay for the delayed parts, else 1."""
        return self.config.policy_delay if part in DELAYED else 1

    def per_update(self, name: str) -> list[float]:
        """Seconds per update of a variant, repeat by repeat (gross: the loop included)."""
        return [s / self.steps / self.amortisation(name) for s in self.call_seconds[name]]

    def net(self, part: str) -> list[float]:
        """Seconds per update of a part less the empty loop of the same repeat."""
        calls = zip(self.call_seconds[part], self.call_seconds["loop"])
        return [(s - loop) / self.steps / self.amortisation(part) for s, loop in calls]

    def remainder(self) -> list[float]:
        """Full update minus the sum of the net parts, repeat by repeat."""
        nets = [self.net(part) for part in PARTS]
        return [full - sum(values) for full, *values in zip(self.per_update("full"), *nets)]


@dataclass
class Setup:
    """What the breakdown times: the agent's compiled parts, its buffer and one cycle's batches."""

    config: TrainConfig
    spec: EnvSpec
    buffer: HerReplayBuffer
    stacked: Batch
    """One cycle's K batches, [K, B, ...] NumPy (their tensors are parts.tensors)."""
    parts: Parts
    first_call: dict[str, float]
    rng: np.random.Generator


def prepare(
    config: TrainConfig,
    spec: EnvSpec,
    reward_fn: RewardFn,
    terminal_fn: RewardFn | None,
    fill_transitions: int = FILL_TRANSITIONS,
    progress: Callable[[str], None] = lambda _: None,
) -> Setup:
    """Fill the buffer, draw one cycle's batches, build the agent and trace its parts."""
    rng = np.random.default_rng(0)
    progress(f"breakdown: filling the replay buffer with {fill_transitions:,} transitions")
    buffer = filled_buffer(config, spec, reward_fn, terminal_fn, fill_transitions, rng)
    stacked = buffer.sample_stacked(config.optimization_steps, config.batch_size, rng)
    tensors = Batch(*(tf.convert_to_tensor(field) for field in stacked))
    agent = TD3Agent(config, spec)
    agent.update_normalizers(buffer.observation[: buffer.size], buffer.desired_goal[: buffer.size])
    parts = Parts(agent, tensors, config.xla)
    progress(f"breakdown: first calls (trace and compile {len(COMPILED)} functions)")
    first_call = parts.trace()
    return Setup(config, spec, buffer, stacked, parts, first_call, rng)


def measure(
    setup: Setup,
    *,
    repeats: int,
    block_seconds: float,
    matmul_block_seconds: float,
    progress: Callable[[str], None] = lambda _: None,
) -> BreakdownTimings:
    """Time every compiled function, the host-side work and the reference matmuls in
    interleaved repeats, each block at least `block_seconds` of whole calls."""
    config, parts, buffer, stacked, rng = (
        setup.config,
        setup.parts,
        setup.buffer,
        setup.stacked,
        setup.rng,
    )
    steps, batch_size = config.optimization_steps, config.batch_size
    variants: dict[str, Callable[[], object]] = {
        name: (lambda name=name: parts.call(name)) for name in COMPILED
    }
    variants["sampling"] = lambda: buffer.sample_stacked(steps, batch_size, rng)
    variants["conversion"] = lambda: [tf.convert_to_tensor(field) for field in stacked]
    matmuls = {label: matmul_function(MATMULS[label], rng) for label in REFERENCE}
    calls = {name: calls_for(function, block_seconds) for name, function in variants.items()}
    calls.update({label: calls_for(f, matmul_block_seconds) for label, f in matmuls.items()})
    timed = {**variants, **matmuls}
    seconds: dict[str, list[float]] = {name: [] for name in timed}
    for repeat in range(repeats):
        progress(f"breakdown: repeat {repeat + 1}/{repeats}")
        order = list(timed) if repeat % 2 == 0 else list(reversed(timed))
        for name in order:
            seconds[name].append(seconds_per_call(timed[name], calls[name]))
    return BreakdownTimings(
        config=config,
        spec=setup.spec,
        steps=steps,
        buffer_transitions=buffer.size,
        first_call=setup.first_call,
        call_seconds={name: seconds[name] for name in variants},
        matmul_seconds={label: seconds[label] for label in matmuls},
    )


def push_setup() -> tuple[TrainConfig, EnvSpec, RewardFn, RewardFn | None]:
    """The push preset's config and PandaPush-v3's spec, reward and terminal test, read off
    the env as training reads them (the env is closed again; nothing is stepped)."""
    from td3her_cli.envs.goal_env import describe_env, make_env, reward_function
    from td3her_cli.presets import preset_values
    from td3her_cli.run.training import terminal_function

    config = TrainConfig(env_id=ENV_ID, **preset_values(PRESET))
    env = make_env(ENV_ID)
    try:
        spec = describe_env(env, ENV_ID)
        reward_fn = reward_function(env)
        terminal_fn = terminal_function(config.terminal_on_success, env, spec)
    finally:
        env.close()
    return config, spec, reward_fn, terminal_fn


def run(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Measure figure 7 and return it."""
    setup = prepare(*push_setup(), progress=progress)
    timings = measure(
        setup,
        repeats=plan.repeats,
        block_seconds=plan.breakdown_block_seconds,
        matmul_block_seconds=plan.matmul_block_seconds,
        progress=progress,
    )
    return [figure(timings)]


# ------------------------------------------------------------------------- the figure
def milliseconds(values: list[float]) -> Summary:
    """Seconds per repeat as a Summary in ms."""
    return Summary.of(values).map(lambda s: s * 1e3)


def figure(timings: BreakdownTimings) -> Figure:
    """Figure 7's tables from the raw timings."""
    config, spec, steps = timings.config, timings.spec, timings.steps
    delay = config.policy_delay
    flops = PartFlops.of(spec, config).per_update
    per_update_ms = {
        "full": milliseconds(timings.per_update("full")),
        **{part: milliseconds(timings.net(part)) for part in PARTS},
        "remainder": milliseconds(timings.remainder()),
        "loop": milliseconds(timings.per_update("loop")),
        **{name: milliseconds(timings.per_update(name)) for name in OUTSIDE},
    }
    full_ms = per_update_ms["full"].median
    large_rate = Summary.of(timings.matmul_seconds[LARGE_MATMUL]).map(
        lambda s: matmul_flops(MATMULS[LARGE_MATMUL]) / s / 1e9
    )

    def share(name: str) -> float:
        """A variant's median time per update as % of the full update's."""
        return 100 * per_update_ms[name].median / full_ms

    inside = ("full", *PARTS, "remainder", "loop")
    time_rows = [
        Row(
            f"{part_label(name, delay)}: {'net, ' if name in PARTS else ''}per update",
            "ms",
            per_update_ms[name],
        )
        for name in inside
    ]
    time_rows.append(
        Row.exact("sum of the net parts", "ms", sum(per_update_ms[p].median for p in PARTS))
    )

    grid_rows = []
    for name in (*PARTS, "remainder", "full"):
        gflop = flops.get(name, 0.0) / 1e9
        if gflop > 0:
            rate = per_update_ms[name].map(lambda ms, gflop=gflop: gflop / (ms / 1e3)).median
            rate_cells = (format_number(gflop), format_number(rate))
            rate_cells += (format_number(100 * rate / large_rate.median),)
        else:
            rate_cells = ("—" if name == "remainder" else "0", "—", "—")
        median = format_number(per_update_ms[name].median)
        grid_rows.append((NAMES[name], median, format_number(share(name)), *rate_cells))

    outside_rows = []
    for name in OUTSIDE:
        outside_rows += [
            Row(f"{part_label(name, delay)}: per update", "ms", per_update_ms[name]),
            Row.exact(f"{NAMES[name]}: share of the full update", "%", share(name)),
        ]
    outside_rows.append(
        Row.exact(
            "a cycle's optimise per update (sampling + host to TF + full update; "
            "metrics.jsonl's update_seconds / K, without worker envs)",
            "ms",
            sum(per_update_ms[name].median for name in (*OUTSIDE, "full")),
        )
    )

    reference_rows = [
        Row(
            f"tf.function matmul {label}",
            "GFLOP/s",
            Summary.of(timings.matmul_seconds[label]).map(
                lambda s, label=label: matmul_flops(MATMULS[label]) / s / 1e9
            ),
        )
        for label in REFERENCE
    ]
    reference_rows += [
        Row.exact(f"first call of the {NAMES[name]} (trace, compile, {steps} runs)", "s", seconds)
        for name, seconds in timings.first_call.items()
    ]
    hidden = "x".join(map(str, config.hidden))
    compiler = "XLA" if config.xla else "tf.function"
    return Figure(
        section="breakdown",
        title=f"Where a TD3 update's time goes: the {PRESET} preset's update in parts",
        description=(
            f"The {PRESET} preset's agent ({hidden} networks, {config.critics} critics, batch "
            f"{config.batch_size}, policy_delay {delay}, policy_average {config.policy_average}, "
            f"{compiler}) on {spec.env_id}'s dims (obs {spec.obs_dim}, goal {spec.goal_dim}, "
            f"action {spec.action_dim}), HER batches drawn from a buffer of "
            f"{timings.buffer_transitions:,} transitions of random episodes. Each part is its "
            f"own {compiler} function that runs the part {steps} times in a tf.while_loop over "
            "the same stacked batches, on the agent's own networks and optimiser code; its "
            "time per update is net of an empty loop of the same shape and, for the actor step "
            f"and Polyak (1 update in {delay}), divided by policy_delay. The remainder is the "
            "full update minus the sum of the net parts, repeat by repeat: the full call's own "
            "dispatch, loop and read-back, the delayed-update cond, counters and losses, less "
            "what XLA fuses across parts. Outside the compiled call: HER sampling, the "
            f"host-to-TF conversion of the stacked batches. {timings.repeats} "
            "interleaved repeats; bench/update_breakdown.py's docstring says how each part is "
            "timed."
        ),
        tables=(
            Table(f"Per update, inside the compiled call ({steps} per call)", tuple(time_rows)),
            Grid(
                "The breakdown: share of the full update, matmul FLOPs, achieved rate",
                (
                    "Part",
                    "ms per update",
                    "% of the full update",
                    "GFLOP per update",
                    "GFLOP/s",
                    "% of the 2048² matmul rate",
                ),
                tuple(grid_rows),
            ),
            Table(f"Outside the compiled call, per update ({steps} per call)", tuple(outside_rows)),
            Table("float32 matmul reference (this run) and first calls", tuple(reference_rows)),
        ),
        notes=(
            "Shares and rates are of medians. A part's FLOPs are its matmuls (multiply-add = 2 "
            "FLOPs); Adam and Polyak are elementwise (no matmul FLOPs). The parts' FLOPs sum to "
            "figure 3's amortised count for these dims.",
            "The actor step is _actor_and_target_step traced with polyak_update left out; the "
            "critic gradients are _update_step's lines with the reward as the target; the "
            "critic Adam runs on copies of the critics' weights.",
            "First calls are single measurements (n = 1).",
        ),
    )
