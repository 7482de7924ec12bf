"""Figure 3: TD3 optimisation steps/s (eager, tf.function, XLA) and achieved GFLOP/s.

Default networks (3x256, twin critics), batch 256, PandaReach-v3 dims (obs 6, goal 3, act 3).
Each variant is its own agent (same seed, same initial weights). The first call of each is
timed alone (tracing, and XLA compilation for jit_compile=True); then untimed warm-up steps;
then repeats that interleave the three variants and the reference matmuls, so drift from a
background job is shared. Step counts per repeat are multiples of policy_delay, so every timed
block has the true mix of critic-only and critic+actor steps.

FLOPs are counted analytically from the matmuls only (a multiply-add is 2 FLOPs; biases,
activations, Adam and Polyak updates are elementwise and left out):

- every step: target actor forward, twin target critic forward, twin critic forward+backward
  (backward = gradients w.r.t. inputs and weights, each a matmul the size of the forward pass,
  so forward+backward ~ 3x forward);
- every policy_delay-th step: actor forward+backward, and one critic's forward plus its
  backward to the input only (its weights are not trained there, so ~ 2x forward).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from bench.plan import Plan
from bench.results import Figure, Row, Summary, Table
from bench.timing import calls_for, seconds_per_call
from td3her_cli.agent import Batch, TD3Agent
from td3her_cli.config import TrainConfig
from td3her_cli.envs import EnvSpec

PANDA_REACH = EnvSpec(
    env_id="PandaReach-v3",
    obs_dim=6,
    goal_dim=3,
    action_dim=3,
    action_low=(-1.0, -1.0, -1.0),
    action_high=(1.0, 1.0, 1.0),
    max_episode_steps=50,
    reward_bounds=(-1.0, 0.0),  # what describe_env probes for the sparse reward
)
"""PandaReach-v3 as describe_env reports it, without starting PyBullet."""

MODES = ("eager", "function", "xla")
MODE_LABELS = {
    "eager": "eager (agent._update_step, no tf.function)",
    "function": "tf.function (jit_compile=False)",
    "xla": "tf.function(jit_compile=True) (XLA)",
}
TINY_HIDDEN = (16,)
"""A network so small that its matmuls cost ~nothing: its step time is the fixed overhead
(call dispatch, NumPy -> tensor, ~hundreds of small graph ops, reading the losses back)."""

# Reference float32 matmuls, shaped like the networks' layers at batch 256 and one large one.
MATMULS = {
    "hidden layer [256,256] @ [256,256]": ((256, 256), (256, 256)),
    "twin hidden layer [2,256,256] @ [2,256,256]": ((2, 256, 256), (2, 256, 256)),
    "[256,512] @ [512,256]": ((256, 512), (512, 256)),
    "[2048,2048] @ [2048,2048]": ((2048, 2048), (2048, 2048)),
}


def mlp_forward_flops(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> int:
    """Matmul FLOPs of one MLP forward pass for one sample: 2 * sum(fan_in * fan_out)."""
    sizes = (in_dim, *hidden, out_dim)
    return 2 * sum(fan_in * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


@dataclass(frozen=True)
class UpdateFlops:
    """Matmul FLOPs of TD3 updates on one batch."""

    critic_step: float
    """Every step: target actor fwd + twin target critic fwd + twin critic fwd+bwd."""
    actor_step: float
    """Every policy_delay-th step in addition: actor fwd+bwd + one critic fwd + bwd-to-input."""
    policy_delay: int

    @property
    def amortised(self) -> float:
        """Mean FLOPs per optimisation step."""
        return self.critic_step + self.actor_step / self.policy_delay


def update_flops(spec: EnvSpec, config: TrainConfig) -> UpdateFlops:
    """Count the matmul FLOPs of the update in td3her_cli.agent for this spec and config."""
    actor_in = spec.obs_dim + spec.goal_dim
    actor = mlp_forward_flops(actor_in, config.hidden, spec.action_dim)  # per sample
    critic = mlp_forward_flops(actor_in + spec.action_dim, config.hidden, 1)  # one twin
    batch = config.batch_size
    critic_step = batch * (actor + 2 * critic + 3 * (2 * critic))
    actor_step = batch * (3 * actor + 2 * critic)
    return UpdateFlops(float(critic_step), float(actor_step), config.policy_delay)


def synthetic_batches(
    spec: EnvSpec, batch_size: int, count: int, rng: np.random.Generator
) -> list[Batch]:
    """`count` float32 batches shaped like HER batches (sparse rewards, done = 0)."""

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    return [
        Batch(
            observation=normal(batch_size, spec.obs_dim),
            desired_goal=normal(batch_size, spec.goal_dim),
            action=rng.uniform(-1, 1, (batch_size, spec.action_dim)).astype(np.float32),
            reward=-(rng.random(batch_size) < 0.8).astype(np.float32),  # {-1, 0}
            next_observation=normal(batch_size, spec.obs_dim),
            done=np.zeros(batch_size, np.float32),
        )
        for _ in range(count)
    ]


class Stepper:
    """Runs optimisation steps of one agent in one mode over a cycle of batches."""

    def __init__(self, agent: TD3Agent, mode: str, batches: list[Batch]) -> None:
        self.agent = agent
        self.mode = mode
        self.batches = batches
        self.index = 0

    def step(self) -> None:
        """One optimisation step (synchronous: its losses are read back to NumPy)."""
        batch = self.batches[self.index % len(self.batches)]
        self.index += 1
        if self.mode == "eager":
            # The uncompiled Python step, op by op, with the same float32 inputs.
            self.agent._update_step(*(tf.constant(array) for array in batch)).numpy()
        else:
            self.agent.update(batch)

    def seconds_per_step(self, steps: int) -> float:
        """Mean wall seconds per step over `steps` steps."""
        return seconds_per_call(self.step, steps)


def matmul_function(shapes: tuple[tuple[int, ...], tuple[int, ...]], rng) -> Callable[[], float]:
    """A traced float32 matmul on fixed random inputs; returns a scalar so the call syncs."""
    left = tf.constant(rng.standard_normal(shapes[0]).astype(np.float32))
    right = tf.constant(rng.standard_normal(shapes[1]).astype(np.float32))

    @tf.function
    def matmul_sum(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(tf.matmul(a, b))

    return lambda: float(matmul_sum(left, right))


def matmul_flops(shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> float:
    """2 * m * k * n (times the batch of a batched matmul)."""
    (*lead, m, k), (*_, n) = shapes
    return 2.0 * float(np.prod(lead or [1])) * m * k * n


def run(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Measure figure 3 and return it."""
    config = TrainConfig(env_id=PANDA_REACH.env_id)
    rng = np.random.default_rng(0)
    batches = synthetic_batches(PANDA_REACH, config.batch_size, 8, rng)
    steppers = {
        "eager": Stepper(TD3Agent(config, PANDA_REACH), "eager", batches),
        "function": Stepper(TD3Agent(config, PANDA_REACH, jit_compile=False), "function", batches),
        "xla": Stepper(TD3Agent(config, PANDA_REACH, jit_compile=True), "xla", batches),
    }
    tiny_config = config.replace(hidden=TINY_HIDDEN)
    tiny = {
        "function": Stepper(TD3Agent(tiny_config, PANDA_REACH), "function", batches),
        "xla": Stepper(TD3Agent(tiny_config, PANDA_REACH, jit_compile=True), "xla", batches),
    }
    for stepper in tiny.values():
        for _ in range(1 + plan.warmup_steps):
            stepper.step()
    first_call = {}
    for mode, stepper in steppers.items():
        progress(f"td3: first call ({mode})")
        start = time.perf_counter()
        stepper.step()
        first_call[mode] = time.perf_counter() - start
        warmup = config.policy_delay if mode == "eager" else plan.warmup_steps
        for _ in range(warmup):
            stepper.step()

    matmuls = {label: matmul_function(shapes, rng) for label, shapes in MATMULS.items()}
    matmul_calls = {
        label: calls_for(function, plan.matmul_block_seconds) for label, function in matmuls.items()
    }
    step_seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    tiny_seconds: dict[str, list[float]] = {mode: [] for mode in tiny}
    matmul_seconds: dict[str, list[float]] = {label: [] for label in MATMULS}
    for repeat in range(plan.repeats):
        progress(f"td3: repeat {repeat + 1}/{plan.repeats}")
        order = MODES if repeat % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            steps = plan.eager_steps if mode == "eager" else plan.compiled_steps
            step_seconds[mode].append(steppers[mode].seconds_per_step(steps))
        for mode, stepper in tiny.items():
            tiny_seconds[mode].append(stepper.seconds_per_step(plan.compiled_steps))
        for label, function in matmuls.items():
            matmul_seconds[label].append(seconds_per_call(function, matmul_calls[label]))
    flops = update_flops(PANDA_REACH, config)
    return [figure(config, plan, flops, first_call, step_seconds, tiny_seconds, matmul_seconds)]


def figure(
    config: TrainConfig,
    plan: Plan,
    flops: UpdateFlops,
    first_call: dict[str, float],
    step_seconds: dict[str, list[float]],
    tiny_seconds: dict[str, list[float]],
    matmul_seconds: dict[str, list[float]],
) -> Figure:
    """Figure 3's tables from the raw timings."""
    gflops_per_step = flops.amortised / 1e9
    update_rows = []
    achieved = {}
    for mode in MODES:
        seconds = Summary.of(step_seconds[mode])
        achieved[mode] = seconds.map(lambda s: gflops_per_step / s)
        update_rows += [
            Row(f"{MODE_LABELS[mode]}: time per step", "ms", seconds.map(lambda s: s * 1e3)),
            Row(f"{MODE_LABELS[mode]}: steps per second", "steps/s", seconds.map(lambda s: 1 / s)),
            Row(f"{MODE_LABELS[mode]}: achieved matmul throughput", "GFLOP/s", achieved[mode]),
            Row(
                f"{MODE_LABELS[mode]}: first call (trace/compile + 1 step)",
                "s",
                Summary.of([first_call[mode]]),
            ),
        ]
    tiny_width = ",".join(map(str, TINY_HIDDEN))
    overhead_rows = []
    for mode, values in tiny_seconds.items():
        tiny_ms = Summary.of(values).map(lambda s: s * 1e3)
        overhead_rows += [
            Row(f"{MODE_LABELS[mode]}, hidden ({tiny_width}): time per step", "ms", tiny_ms),
            Row.exact(
                f"{MODE_LABELS[mode]}: that fixed cost as a share of the default step",
                "%",
                100 * tiny_ms.median / (1e3 * Summary.of(step_seconds[mode]).median),
            ),
        ]
    peaks = {
        label: Summary.of(matmul_seconds[label]).map(
            lambda s, shapes=shapes: matmul_flops(shapes) / s / 1e9
        )
        for label, shapes in MATMULS.items()
    }
    peak_rows = [Row(f"tf.function matmul {label}", "GFLOP/s", peaks[label]) for label in MATMULS]
    layer_label = "twin hidden layer [2,256,256] @ [2,256,256]"
    large_label = "[2048,2048] @ [2048,2048]"
    for mode in ("function", "xla"):
        for label, name in ((layer_label, "twin-layer"), (large_label, "2048²")):
            peak_rows.append(
                Row.exact(
                    f"{MODE_LABELS[mode]} as a share of the {name} matmul rate",
                    "%",
                    100 * achieved[mode].median / peaks[label].median,
                )
            )
    delay = config.policy_delay
    flop_rows = (
        Row.exact(
            "Every step: target actor fwd + twin target critic fwd + twin critic fwd+bwd",
            "GFLOP",
            flops.critic_step / 1e9,
        ),
        Row.exact(
            f"Every policy_delay-th ({delay}) step also: actor fwd+bwd + critic fwd + bwd-to-input",
            "GFLOP",
            flops.actor_step / 1e9,
        ),
        Row.exact(f"Amortised per step (policy_delay {delay})", "GFLOP", gflops_per_step),
    )
    return Figure(
        section="td3",
        title="TD3 optimisation steps: eager vs tf.function vs XLA, and achieved GFLOP/s",
        description=(
            f"One optimisation step on a batch of {config.batch_size} (PandaReach-v3 dims: "
            f"obs {PANDA_REACH.obs_dim}, goal {PANDA_REACH.goal_dim}, act "
            f"{PANDA_REACH.action_dim}; hidden {','.join(map(str, config.hidden))}; twin "
            f"critics; policy_delay {delay}), NumPy batch in, losses read back, as "
            f"`Trainer.optimise` calls `agent.update`. Per repeat: {plan.eager_steps} eager "
            f"steps, {plan.compiled_steps} compiled steps per variant (default and tiny "
            f"networks), then each reference matmul for ~{plan.matmul_block_seconds:g} s, all "
            "interleaved. Batches are synthetic (8 distinct, cycled); timing does not depend "
            "on their values."
        ),
        tables=(
            Table("Update step", tuple(update_rows)),
            Table(
                "Size-independent overhead: the same update with a tiny network",
                tuple(overhead_rows),
            ),
            Table("FLOP model (matmuls only, multiply-add = 2 FLOPs)", flop_rows),
            Table("float32 matmul reference, same run, same thread pool", tuple(peak_rows)),
        ),
        notes=(
            "First-call times are single measurements (n = 1): they are paid once per process.",
            "Shares are ratios of medians. The twin-layer matmul is the best the update's "
            "largest layers can do at batch 256; the 2048² one is the machine's float32 peak.",
        ),
    )
