"""Figures 1 and 2: raw PandaReach-v3 stepping, and training-time collection with the agent.

Both come from one run whose repeats interleave three kinds of block on the same env and the
same episode seeds, so background drift (another job on the 2 cores) hits all of them alike:

- raw:     env.reset(seed) then env.step(uniform random action) until the episode ends;
- random:  collect_episode with only uniform random actions (its bookkeeping, no policy);
- policy:  collect_episode with the agent's NumpyPolicy (default 3x256 actor, normaliser on)
           plus OU noise, as Trainer.collect runs it after the random warm-up steps.

Agent overhead per repeat = (policy s/step - raw s/step) / raw s/step; the figure is the median
of those per-repeat ratios. The block order alternates between repeats to cancel order effects.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from bench.plan import Plan
from bench.results import Figure, Row, Summary, Table
from bench.timing import seconds_per_call
from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import TD3Agent
from td3her_cli.core.noise import make_noise
from td3her_cli.core.spec import EnvSpec
from td3her_cli.envs.goal_env import describe_env, make_env, split_observation
from td3her_cli.envs.rollout import collect_episode

ENV_ID = "PandaReach-v3"
SEED = 0

Block = Callable[[int], tuple[int, float]]  # first episode seed -> (env steps, seconds)


class TimedPolicy:
    """A policy wrapper that adds up the wall time spent inside the policy's calls.

    Inside the env loop the actor's ~0.5 MB of weights compete with PyBullet for the caches,
    so a call costs more than in a tight loop; this measures it in place (two perf_counter
    reads per step, well under a microsecond).
    """

    def __init__(self, policy) -> None:
        self.policy = policy
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        action = self.policy(observation, desired_goal)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return action

    def reset(self) -> None:
        """Forget the time added so far."""
        self.seconds, self.calls = 0.0, 0


def raw_block(env, episodes: int, rng: np.random.Generator) -> Block:
    """Plain env.reset/env.step with uniform random actions drawn before the clock starts."""
    low, high = env.action_space.low, env.action_space.high
    max_steps = env.spec.max_episode_steps

    def run(first_seed: int) -> tuple[int, float]:
        actions = rng.uniform(low, high, (episodes * max_steps, *low.shape)).astype(np.float32)
        steps = 0
        start = time.perf_counter()
        for episode in range(episodes):
            env.reset(seed=first_seed + episode)
            while True:
                _, _, terminated, truncated, _ = env.step(actions[steps])
                steps += 1
                if terminated or truncated:
                    break
        return steps, time.perf_counter() - start

    return run


def collection_block(
    env,
    spec: EnvSpec,
    policy,
    noise,
    episodes: int,
    rng: np.random.Generator,
    random_actions: bool,
) -> Block:
    """collect_episode as Trainer.collect calls it (policy + noise, or only random steps)."""
    random_steps = spec.max_episode_steps if random_actions else 0

    def run(first_seed: int) -> tuple[int, float]:
        steps = 0
        start = time.perf_counter()
        for episode in range(episodes):
            steps += collect_episode(
                env,
                spec,
                policy,
                seed=first_seed + episode,
                noise=noise,
                rng=rng,
                random_steps=random_steps,
            ).length
        return steps, time.perf_counter() - start

    return run


def warmed_agent(env, spec: EnvSpec, config: TrainConfig) -> TD3Agent:
    """A default agent whose normalisers have seen a few random episodes (realistic stats)."""
    agent = TD3Agent(config, spec)
    rng = np.random.default_rng(SEED)
    for seed in range(3):
        episode = collect_episode(
            env, spec, policy=None, seed=seed, rng=rng, random_steps=spec.max_episode_steps
        )
        agent.update_normalizers(
            episode.observation, np.concatenate([episode.desired_goal, episode.achieved_goal])
        )
    return agent


def run(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Measure figures 1 and 2 (shared raw runs) and return them."""
    config = TrainConfig(env_id=ENV_ID, seed=SEED)
    env = make_env(ENV_ID)
    try:
        spec = describe_env(env, ENV_ID, SEED)
        agent = warmed_agent(env, spec, config)
        policy = agent.numpy_policy()
        timed_policy = TimedPolicy(policy)
        noise = make_noise(config, spec.action_dim, np.random.default_rng(SEED + 1))
        rng = np.random.default_rng(SEED + 2)
        blocks = {
            "raw": raw_block(env, plan.env_episodes, rng),
            "random": collection_block(env, spec, policy, None, plan.env_episodes, rng, True),
            "policy": collection_block(
                env, spec, timed_policy, noise, plan.env_episodes, rng, False
            ),
        }
        for block in blocks.values():  # warm-up: first resets load URDFs, caches fill
            block(10_000)
        seconds_per_step: dict[str, list[float]] = {name: [] for name in blocks}
        in_loop_policy: list[float] = []  # s per policy call inside the "policy" blocks
        for repeat in range(plan.repeats):
            progress(f"env: repeat {repeat + 1}/{plan.repeats}")
            order = list(blocks) if repeat % 2 == 0 else list(reversed(blocks))
            first_seed = 1_000 * (repeat + 1)  # same seeds (goals) for every block of a repeat
            timed_policy.reset()
            for name in order:
                steps, seconds = blocks[name](first_seed)
                seconds_per_step[name].append(seconds / steps)
            in_loop_policy.append(timed_policy.seconds / timed_policy.calls)
        micro = micro_timings(env, spec, agent, policy, noise, plan)
        micro["policy_in_loop"] = Summary.of(in_loop_policy).map(lambda s: s * 1e6)
    finally:
        env.close()
    return [raw_figure(seconds_per_step["raw"], plan), collection_figure(seconds_per_step, micro)]


def micro_timings(env, spec, agent, policy, noise, plan: Plan) -> dict[str, Summary]:
    """Per-call cost of each piece of agent work in the collection loop, interleaved repeats."""
    raw, _ = env.reset(seed=SEED)
    observation, _, desired_goal = split_observation(raw)  # [obs], [goal] float32
    observation_1, goal_1 = observation[None], desired_goal[None]  # [1, obs], [1, goal]
    action = policy(observation_1, goal_1)[0]  # [act]
    actor_input = tf.constant(np.concatenate([observation_1, goal_1], axis=-1))  # [1, obs+goal]
    episode_observations = np.tile(observation, (spec.max_episode_steps + 1, 1))  # [T+1, obs]
    episode_goals = np.tile(desired_goal, (2 * spec.max_episode_steps + 1, 1))  # [2T+1, goal]
    per_step = {
        "policy": lambda: policy(observation_1, goal_1),
        "noise": noise,
        "scale": lambda: spec.scale_action(action),
        "tf_actor": lambda: agent.actor(actor_input).numpy(),
    }
    per_episode = {
        "snapshot": agent.numpy_policy,
        "normalizers": lambda: agent.update_normalizers(episode_observations, episode_goals),
    }
    results: dict[str, list[float]] = {name: [] for name in (*per_step, *per_episode)}
    for function in (*per_step.values(), *per_episode.values()):
        function()  # warm-up (the eager actor call creates its kernels here)
    episode_calls = max(10, plan.micro_calls // 50)  # per-episode work runs 50x less often
    for _ in range(plan.repeats):
        for name, function in per_step.items():
            results[name].append(seconds_per_call(function, plan.micro_calls))
        for name, function in per_episode.items():
            results[name].append(seconds_per_call(function, episode_calls))
    return {name: Summary.of(values).map(lambda s: s * 1e6) for name, values in results.items()}


def raw_figure(raw_seconds: list[float], plan: Plan) -> Figure:
    """Figure 1 from the raw blocks."""
    raw = Summary.of(raw_seconds)
    return Figure(
        section="env",
        title="Raw env throughput: PandaReach-v3 env.step, uniform random actions",
        description=(
            f"`env.reset(seed)` then `env.step(a)` with a ~ U(action box) drawn before the "
            f"clock starts, until the episode ends (50 steps; resets included). One repeat = "
            f"{plan.env_episodes} episodes; repeats interleaved with figure 2's blocks."
        ),
        tables=(
            Table(
                "Env stepping",
                (
                    Row("Raw env steps per second", "steps/s", raw.map(_inv)),
                    Row("Raw time per step (reset amortised)", "ms/step", raw.map(_ms)),
                ),
            ),
        ),
    )


def collection_figure(seconds_per_step: dict[str, list[float]], micro: dict) -> Figure:
    """Figure 2: collection throughput, overheads against the interleaved raw blocks, pieces."""
    raw, random, policy = (
        np.asarray(seconds_per_step[name]) for name in ("raw", "random", "policy")
    )
    overhead = Summary.of(100 * (policy - raw) / raw)  # per repeat: same run, adjacent blocks
    # The share of the extra time per step spent inside the policy call itself, as a ratio of
    # medians (a per-repeat ratio explodes when one repeat's overhead is near zero).
    extra_seconds = float(np.median(policy - raw))  # s/step
    in_loop_seconds = micro["policy_in_loop"].median * 1e-6  # s per call = s per step
    bookkeeping = Summary.of(100 * (random - raw) / raw)
    policy_summary = Summary.of(policy)
    return Figure(
        section="env",
        title="Training-time collection throughput: collect_episode + NumpyPolicy + OU noise",
        description=(
            "`collect_episode` with the default agent's `NumpyPolicy` (3x256 actor, normaliser "
            "on) and OU noise, as `Trainer.collect` runs it after the random warm-up steps. "
            "Overheads are per repeat against the raw blocks of figure 1 in the same repeat: "
            "(collection s/step - raw s/step) / raw s/step."
        ),
        tables=(
            Table(
                "Collection",
                (
                    Row("Collection env steps per second", "steps/s", policy_summary.map(_inv)),
                    Row("Collection time per step", "ms/step", policy_summary.map(_ms)),
                    Row("Agent overhead vs raw env.step", "%", overhead),
                    Row(
                        "  collect_episode bookkeeping alone (random actions, no policy)",
                        "%",
                        bookkeeping,
                    ),
                    Row(
                        "NumpyPolicy forward timed inside the loop (caches shared with PyBullet)",
                        "µs",
                        micro["policy_in_loop"],
                    ),
                    Row.exact(
                        "Share of the overhead spent inside the policy call (ratio of medians)",
                        "%",
                        100 * in_loop_seconds / extra_seconds,
                    ),
                ),
            ),
            Table(
                "Pieces of the overhead, timed alone (per call)",
                (
                    Row(
                        "NumpyPolicy forward alone, tight loop, [1, 6] + [1, 3] -> [1, 3]",
                        "µs",
                        micro["policy"],
                    ),
                    Row("OU noise()", "µs", micro["noise"]),
                    Row("EnvSpec.scale_action", "µs", micro["scale"]),
                    Row("For comparison: eager TF actor call + .numpy()", "µs", micro["tf_actor"]),
                    Row(
                        "agent.numpy_policy() snapshot (once per episode)", "µs", micro["snapshot"]
                    ),
                    Row(
                        "agent.update_normalizers, one 50-step episode (once per episode)",
                        "µs",
                        micro["normalizers"],
                    ),
                ),
            ),
        ),
        notes=(
            "The policy call costs more in the loop than in a tight loop (cold caches). The "
            "rest of the overhead is noise, clipping and action scaling (~12 µs together) "
            "and, presumably, PyBullet slowed by the ~0.5 MB of actor weights evicting its "
            "data from the caches: an inference from the numbers, not measured directly.",
            "The per-episode rows are not part of collect_episode; Trainer.collect pays them "
            "once per episode (divide by 50 for a per-step share).",
        ),
    )


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _inv(seconds: float) -> float:
    return 1.0 / seconds
