"""Figure 3: TD3 optimisation steps/s (eager, tf.function, XLA; per call and fused) and GFLOP/s.

Default networks (3x256, twin critics), batch 256, PandaReach-v3 dims (obs 6, goal 3, act 3),
and the fast preset's small networks (2x64, batch 128). Five ways to run a step:

- eager:    agent._update_step op by op (no tf.function);
- per call: agent.update(batch), one compiled call per step, as with tf.function or XLA;
- fused:    agent.update_many(batches [K, B, ...]), K steps in one compiled call (a tf.while
            loop), as Trainer.optimise runs a cycle; K = the default optimisation steps per cycle.

One agent per jit_compile setting (same seed, same initial weights) serves its per-call and its
fused function; eager runs on the tf.function agent. The first call of each variant is timed
alone (tracing, and XLA compilation for jit_compile=True); then untimed warm-up; then repeats
that interleave every variant of both networks and the reference matmuls, so drift from a
background job is shared. Step counts per repeat are multiples of policy_delay where the plan
allows, so timed blocks have the true mix of critic-only and critic+actor steps.

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
from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import Batch, TD3Agent
from td3her_cli.core.spec import EnvSpec
from td3her_cli.presets import preset_values

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

MODES = ("eager", "function", "xla", "function_fused", "xla_fused")
COMPILED_MODES = MODES[1:]
PER_CALL = {"function_fused": "function", "xla_fused": "xla"}
"""Each fused variant and the per-call variant it replaces."""
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
LAYER_MATMUL = "twin hidden layer [2,256,256] @ [2,256,256]"
LARGE_MATMUL = "[2048,2048] @ [2048,2048]"


def mode_label(mode: str, fused_steps: int) -> str:
    """How a variant runs its steps, for row labels."""
    return {
        "eager": "eager (agent._update_step op by op)",
        "function": "tf.function, one call per step",
        "xla": "XLA, one call per step",
        "function_fused": f"tf.function update_many, {fused_steps} steps per call",
        "xla_fused": f"XLA update_many, {fused_steps} steps per call",
    }[mode]


def jit_compile(mode: str) -> bool:
    """The jit_compile setting of the agent that runs `mode` (eager runs on the non-XLA one)."""
    return mode.startswith("xla")


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
    """Count the matmul FLOPs of the update in td3her_cli.core.agent for this spec and config."""
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
            discount=np.full(batch_size, 0.98, np.float32),
        )
        for _ in range(count)
    ]


def stack_batches(batches: list[Batch], steps: int) -> Batch:
    """`steps` batches cycled from `batches`, stacked: every field [steps, B, ...]."""
    chosen = [batches[k % len(batches)] for k in range(steps)]
    return Batch(*(np.stack(fields) for fields in zip(*chosen)))


class Stepper:
    """Runs optimisation steps of one agent in one mode over a cycle of batches."""

    def __init__(self, agent: TD3Agent, mode: str, batches: list[Batch], fused_steps: int) -> None:
        self.agent = agent
        self.mode = mode
        self.batches = batches
        self.index = 0
        self.fused = mode in PER_CALL
        self.stacked = stack_batches(batches, fused_steps) if self.fused else None

    @property
    def steps_per_call(self) -> int:
        """Optimisation steps one call runs (K when fused, else 1)."""
        return len(self.stacked.reward) if self.stacked is not None else 1

    def call(self) -> None:
        """One call (synchronous: its losses are read back to NumPy)."""
        if self.stacked is not None:
            self.agent.update_many(self.stacked)
            return
        batch = self.batches[self.index % len(self.batches)]
        self.index += 1
        if self.mode == "eager":
            # The uncompiled Python step, op by op, with the same float32 inputs.
            self.agent._update_step(*(tf.constant(array) for array in batch)).numpy()
        else:
            self.agent.update(batch)

    def seconds_per_step(self, steps: int) -> float:
        """Mean wall seconds per optimisation step over `steps` steps (whole calls)."""
        calls = max(1, steps // self.steps_per_call)
        return seconds_per_call(self.call, calls) / self.steps_per_call


@dataclass
class NetworkTimings:
    """Raw timings of every variant of one network size."""

    name: str
    config: TrainConfig
    modes: tuple[str, ...]
    fused_steps: int
    first_call: dict[str, float]
    step_seconds: dict[str, list[float]]

    @property
    def flops(self) -> UpdateFlops:
        """The FLOP model of this network's update."""
        return update_flops(PANDA_REACH, self.config)

    def seconds(self, mode: str) -> Summary:
        """Seconds per optimisation step over repeats."""
        return Summary.of(self.step_seconds[mode])


def make_steppers(
    config: TrainConfig, modes: tuple[str, ...], fused_steps: int, rng: np.random.Generator
) -> dict[str, Stepper]:
    """One agent per jit_compile setting; a Stepper per mode on the matching agent."""
    batches = synthetic_batches(PANDA_REACH, config.batch_size, 8, rng)
    settings = {jit_compile(mode) for mode in modes}
    agents = {jit: TD3Agent(config, PANDA_REACH, jit_compile=jit) for jit in settings}
    return {mode: Stepper(agents[jit_compile(mode)], mode, batches, fused_steps) for mode in modes}


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


def steps_per_repeat(mode: str, plan: Plan, fused_steps: int) -> int:
    """Timed optimisation steps of `mode` in one repeat."""
    if mode == "eager":
        return plan.eager_steps
    if mode in PER_CALL:
        return plan.fused_calls * fused_steps
    return plan.compiled_steps


def first_calls(
    steppers: dict[str, Stepper], plan: Plan, config: TrainConfig, progress, name: str
) -> dict[str, float]:
    """Time each variant's first call alone, then warm it up untimed."""
    first_call = {}
    for mode, stepper in steppers.items():
        progress(f"td3: first call ({name}, {mode})")
        start = time.perf_counter()
        stepper.call()
        first_call[mode] = time.perf_counter() - start
        if mode == "eager":
            warmup = config.policy_delay
        elif stepper.fused:
            warmup = 1
        else:
            warmup = plan.warmup_steps
        for _ in range(warmup):
            stepper.call()
    return first_call


def run(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Measure figure 3 and return it."""
    rng = np.random.default_rng(0)
    config = TrainConfig(env_id=PANDA_REACH.env_id)
    fused_steps = config.optimization_steps  # the default K of one cycle
    small_config = config.replace(**preset_values("fast"))
    networks = {
        "default": (config, MODES),
        "small": (small_config, COMPILED_MODES),
    }
    steppers = {
        name: make_steppers(net_config, modes, fused_steps, rng)
        for name, (net_config, modes) in networks.items()
    }
    tiny = make_steppers(config.replace(hidden=TINY_HIDDEN), ("function", "xla"), 1, rng)
    for stepper in tiny.values():
        for _ in range(1 + plan.warmup_steps):
            stepper.call()
    timings = {
        name: NetworkTimings(
            name,
            net_config,
            modes,
            fused_steps,
            first_calls(steppers[name], plan, net_config, progress, name),
            {mode: [] for mode in modes},
        )
        for name, (net_config, modes) in networks.items()
    }

    matmuls = {label: matmul_function(shapes, rng) for label, shapes in MATMULS.items()}
    matmul_calls = {
        label: calls_for(function, plan.matmul_block_seconds) for label, function in matmuls.items()
    }
    tiny_seconds: dict[str, list[float]] = {mode: [] for mode in tiny}
    matmul_seconds: dict[str, list[float]] = {label: [] for label in MATMULS}
    for repeat in range(plan.repeats):
        progress(f"td3: repeat {repeat + 1}/{plan.repeats}")
        for name, network in timings.items():
            order = network.modes if repeat % 2 == 0 else tuple(reversed(network.modes))
            for mode in order:
                steps = steps_per_repeat(mode, plan, fused_steps)
                network.step_seconds[mode].append(steppers[name][mode].seconds_per_step(steps))
        for mode, stepper in tiny.items():
            tiny_seconds[mode].append(stepper.seconds_per_step(plan.compiled_steps))
        for label, function in matmuls.items():
            matmul_seconds[label].append(seconds_per_call(function, matmul_calls[label]))
    return [figure(plan, timings["default"], timings["small"], tiny_seconds, matmul_seconds)]


def update_rows(network: NetworkTimings) -> tuple[list[Row], dict[str, Summary]]:
    """Per-variant time, rate, GFLOP/s and first call; fused-vs-per-call speed-ups."""
    gflops_per_step = network.flops.amortised / 1e9
    fused_steps = network.fused_steps
    rows, achieved = [], {}
    for mode in network.modes:
        label = mode_label(mode, fused_steps)
        seconds = network.seconds(mode)
        achieved[mode] = seconds.map(lambda s: gflops_per_step / s)
        if mode == "eager":
            first_what = "1 step"
        elif mode in PER_CALL:
            first_what = f"trace/compile + {fused_steps} steps"
        else:
            first_what = "trace/compile + 1 step"
        rows += [
            Row(f"{label}: time per step", "ms", seconds.map(lambda s: s * 1e3)),
            Row(f"{label}: steps per second", "steps/s", seconds.map(lambda s: 1 / s)),
            Row(f"{label}: achieved matmul throughput", "GFLOP/s", achieved[mode]),
            Row(
                f"{label}: first call ({first_what})",
                "s",
                Summary.of([network.first_call[mode]]),
            ),
        ]
    for fused, per_call in PER_CALL.items():
        rows.append(
            Row.exact(
                f"{mode_label(fused, fused_steps)}: speed-up over one call per step",
                "×",
                network.seconds(per_call).median / network.seconds(fused).median,
            )
        )
    rows.append(
        Row.exact(
            f"XLA over tf.function, both fused ({fused_steps} steps per call): speed-up",
            "×",
            network.seconds("function_fused").median / network.seconds("xla_fused").median,
        )
    )
    for fused in PER_CALL:
        rows.append(
            Row.exact(
                f"{mode_label(fused, fused_steps)}: first call less its {fused_steps} steps "
                "at the median rate (~ trace/compile alone)",
                "s",
                network.first_call[fused] - fused_steps * network.seconds(fused).median,
            )
        )
    return rows, achieved


def figure(
    plan: Plan,
    default: NetworkTimings,
    small: NetworkTimings,
    tiny_seconds: dict[str, list[float]],
    matmul_seconds: dict[str, list[float]],
) -> Figure:
    """Figure 3's tables from the raw timings."""
    fused_steps = default.fused_steps
    default_rows, default_achieved = update_rows(default)
    small_rows, small_achieved = update_rows(small)
    tiny_width = ",".join(map(str, TINY_HIDDEN))
    overhead_rows = []
    for mode, values in tiny_seconds.items():
        tiny_ms = Summary.of(values).map(lambda s: s * 1e3)
        label = mode_label(mode, fused_steps)
        overhead_rows += [
            Row(f"{label}, hidden ({tiny_width}): time per step", "ms", tiny_ms),
            Row.exact(
                f"{label}: that fixed cost as a share of the default step",
                "%",
                100 * tiny_ms.median / (1e3 * default.seconds(mode).median),
            ),
        ]
    peaks = {
        label: Summary.of(matmul_seconds[label]).map(
            lambda s, shapes=shapes: matmul_flops(shapes) / s / 1e9
        )
        for label, shapes in MATMULS.items()
    }
    peak_rows = [Row(f"tf.function matmul {label}", "GFLOP/s", peaks[label]) for label in MATMULS]
    share_of = (("default", default_achieved, LAYER_MATMUL, "twin-layer"),)
    share_of += (("default", default_achieved, LARGE_MATMUL, "2048²"),)
    share_of += (("small", small_achieved, LARGE_MATMUL, "2048²"),)
    for network, achieved, matmul, matmul_name in share_of:
        for mode in COMPILED_MODES:
            peak_rows.append(
                Row.exact(
                    f"{network} network, {mode_label(mode, fused_steps)}: share of the "
                    f"{matmul_name} matmul rate",
                    "%",
                    100 * achieved[mode].median / peaks[matmul].median,
                )
            )
    flops, small_flops = default.flops, small.flops
    delay = flops.policy_delay
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
        Row.exact(f"Amortised per step (policy_delay {delay})", "GFLOP", flops.amortised / 1e9),
        Row.exact(
            f"Small network: amortised per step (policy_delay {small_flops.policy_delay})",
            "GFLOP",
            small_flops.amortised / 1e9,
        ),
    )
    small_config = small.config
    fused_total = plan.fused_calls * fused_steps
    exact_mix = fused_total % delay == 0
    mix_error = 100 * flops.actor_step / (fused_total * flops.amortised)  # one actor step, in %
    return Figure(
        section="td3",
        title="TD3 optimisation steps: eager, tf.function, XLA, per call and fused; GFLOP/s",
        description=(
            f"Optimisation steps on batches of {default.config.batch_size} (PandaReach-v3 dims: "
            f"obs {PANDA_REACH.obs_dim}, goal {PANDA_REACH.goal_dim}, act "
            f"{PANDA_REACH.action_dim}; hidden {','.join(map(str, default.config.hidden))}; "
            f"twin critics; policy_delay {delay}), NumPy batches in, losses read back. "
            "*One call per step* is `agent.update(batch)`; *update_many* is "
            f"`agent.update_many(batches)` on [{fused_steps}, B, ...] stacks, {fused_steps} "
            "steps in one compiled tf.while call, as `Trainer.optimise` runs a cycle. "
            "tf.function = jit_compile=False, XLA = jit_compile=True. The small network is the "
            f"fast preset's (hidden {','.join(map(str, small_config.hidden))}, batch "
            f"{small_config.batch_size}, policy_delay {small_config.policy_delay}; the preset "
            f"itself runs {small_config.optimization_steps} steps per call). Per repeat: "
            f"{plan.eager_steps} eager steps, {plan.compiled_steps} per-call steps and "
            f"{plan.fused_calls} fused call(s) ({fused_total} steps) per variant and network, "
            f"the tiny network, then each reference matmul for ~{plan.matmul_block_seconds:g} "
            "s, all interleaved. Batches are synthetic (8 distinct, cycled); timing does not "
            "depend on their values."
        ),
        tables=(
            Table(
                f"Update step, default network ({default.config.batch_size} x 3x256)",
                tuple(default_rows),
            ),
            Table(
                f"Update step, fast preset's small network ({small_config.batch_size} x "
                f"{'x'.join(map(str, small_config.hidden))}): the per-call overhead fusing removes",
                tuple(small_rows),
            ),
            Table(
                "Size-independent overhead: the same per-call update with a tiny network",
                tuple(overhead_rows),
            ),
            Table("FLOP model (matmuls only, multiply-add = 2 FLOPs)", flop_rows),
            Table("float32 matmul reference, same run, same thread pool", tuple(peak_rows)),
        ),
        notes=(
            "First-call times are single measurements (n = 1): they are paid once per process "
            "(per network and jit setting). A fused first call includes its "
            f"{fused_steps} steps; the derived row subtracts them at the median rate.",
            "Speed-ups and shares are ratios of medians. The twin-layer matmul is what the "
            "update's largest layers get at batch 256 from one tf.function call each, dispatch "
            f"included, so a fused update (one dispatch per {fused_steps} steps) can "
            "pass 100 % of it; the 2048² one is the machine's float32 peak.",
            *(
                []
                if exact_mix
                else [
                    f"{fused_total} fused steps per repeat is not a multiple of policy_delay "
                    f"{delay}: a repeat has one actor update more or less than the amortised "
                    f"FLOP model assumes (at most {mix_error:.1f} % "
                    "of its FLOPs), and the phase rotates between repeats."
                ]
            ),
        ),
    )
