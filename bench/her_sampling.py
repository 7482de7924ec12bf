"""Figure 4: HER sampling time per batch of 256 from a full 1e6-transition buffer.

The buffer is filled with synthetic PandaReach-shaped episodes (no env stepping): mostly 50
steps, some shorter (panda-gym ends an episode on success), added until the ring has wrapped,
so sampling sees the real layout (episode boundaries, an invalid tail, rejection draws).
Relabelled rewards use the real panda-gym compute_reward via reward_function(make_env(...)).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.plan import Plan
from bench.results import Figure, Row, Summary, Table
from bench.timing import seconds_per_call
from td3her_cli.config import TrainConfig
from td3her_cli.core.replay import Episode, HerReplayBuffer, RewardFn
from td3her_cli.envs.goal_env import make_env, reward_function

ENV_ID = "PandaReach-v3"
OBS_DIM, GOAL_DIM, ACTION_DIM, EPISODE_STEPS = 6, 3, 3, 50
SHORT_EPISODE_FRACTION = 0.2  # share of episodes that end early (success) with 5..49 steps
OVERFILL = 1.05  # transitions added / capacity: the ring wraps once


def synthetic_episode(length: int, reward_fn: RewardFn, rng: np.random.Generator) -> Episode:
    """A PandaReach-shaped episode: the end effector wanders, the goal stays put."""
    position = np.cumsum(rng.normal(0, 0.01, (length + 1, GOAL_DIM)), axis=0)  # [T+1, goal]
    velocity = rng.normal(0, 0.1, (length + 1, OBS_DIM - GOAL_DIM))
    observation = np.concatenate([position, velocity], axis=1).astype(np.float32)  # [T+1, obs]
    achieved_goal = position.astype(np.float32)  # PandaReach: achieved goal = ee position
    desired_goal = np.repeat(rng.uniform(-0.15, 0.15, (1, GOAL_DIM)), length, 0).astype(np.float32)
    reward = reward_fn(achieved_goal[1:], desired_goal)  # [T]
    return Episode(
        observation=observation,
        achieved_goal=achieved_goal,
        desired_goal=desired_goal,
        action=rng.uniform(-1, 1, (length, ACTION_DIM)).astype(np.float32),
        reward=reward,
        terminated=reward == 0,
        success=bool(reward[-1] == 0),
    )


@dataclass(frozen=True)
class FillStats:
    """How a buffer was filled."""

    episodes: int
    transitions: int
    seconds: float


def fill_buffer(
    buffer: HerReplayBuffer, reward_fn: RewardFn, rng: np.random.Generator
) -> FillStats:
    """Add synthetic episodes until OVERFILL x capacity transitions went in (ring wrapped).

    A pool of 128 distinct episodes is reused: `add` copies, so content repeats, but the
    layout (lengths, boundaries, wrap) is what sampling cost depends on.
    """
    short_lengths = rng.integers(5, EPISODE_STEPS, 64)
    lengths = np.concatenate([np.full(64, EPISODE_STEPS), short_lengths])
    pool = [synthetic_episode(int(length), reward_fn, rng) for length in lengths]
    target = int(OVERFILL * buffer.capacity)
    mean_length = (1 - SHORT_EPISODE_FRACTION) * EPISODE_STEPS + SHORT_EPISODE_FRACTION * float(
        short_lengths.mean()
    )
    count = int(target / mean_length) + 64
    is_short = rng.random(count) < SHORT_EPISODE_FRACTION
    choice = np.where(is_short, 64 + rng.integers(0, 64, count), rng.integers(0, 64, count))
    episodes = transitions = 0
    start = time.perf_counter()
    for index in choice:
        if transitions >= target:
            break
        episode = pool[index]
        buffer.add(episode)
        episodes += 1
        transitions += episode.length
    return FillStats(episodes, transitions, time.perf_counter() - start)


def run(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Measure figure 4 and return it."""
    config = TrainConfig(env_id=ENV_ID)
    env = make_env(ENV_ID)
    try:
        reward_fn = reward_function(env)
        buffer = HerReplayBuffer(
            config.buffer_size,
            OBS_DIM,
            GOAL_DIM,
            ACTION_DIM,
            reward_fn,
            config.her_strategy,
            config.her_k,
            gamma=config.gamma,
        )
        rng = np.random.default_rng(0)
        progress(f"her: filling a {config.buffer_size:,}-transition buffer")
        fill = fill_buffer(buffer, reward_fn, rng)
        batch_size = config.batch_size
        # The relabelled rows of a typical batch, to time compute_reward alone.
        sample = buffer.sample_indices(batch_size, rng)
        achieved = buffer.next_achieved_goal[sample.transition[sample.relabelled]]
        goals = buffer.next_achieved_goal[sample.goal_source[sample.relabelled]]
        # The same draw every call (the generator's state restored): rows stay cache-resident,
        # so sample - warm_sample is the cost of missing the caches on a 100 MB buffer.
        warm_rng = np.random.default_rng(1)
        warm_state = warm_rng.bit_generator.state

        def warm_sample() -> None:
            warm_rng.bit_generator.state = warm_state
            buffer.sample(batch_size, warm_rng)

        pieces = {
            "sample": lambda: buffer.sample(batch_size, rng),
            "warm": warm_sample,
            "indices": lambda: buffer.sample_indices(batch_size, rng),
            "reward": lambda: reward_fn(achieved, goals),
        }
        seconds: dict[str, list[float]] = {name: [] for name in pieces}
        for function in pieces.values():
            function()
        for repeat in range(plan.repeats):
            progress(f"her: repeat {repeat + 1}/{plan.repeats}")
            for name, function in pieces.items():
                seconds[name].append(seconds_per_call(function, plan.her_batches))
    finally:
        env.close()
    micro = {name: Summary.of(values).map(lambda s: s * 1e6) for name, values in seconds.items()}
    return [figure(buffer, fill, micro, len(achieved), plan)]


def figure(
    buffer: HerReplayBuffer, fill: FillStats, micro: dict[str, Summary], relabelled: int, plan
) -> Figure:
    """Figure 4's tables."""
    return Figure(
        section="her",
        title="HER sampling: one batch of 256 from a full 1e6-transition buffer",
        description=(
            f"`HerReplayBuffer.sample(256, rng)` with the default `future` strategy, k = 4 "
            f"(~80% relabelled), PandaReach dims, real panda-gym `compute_reward`. The buffer "
            f"holds {buffer.size:,} valid transitions (capacity {buffer.capacity:,}) after "
            f"{fill.episodes:,} synthetic episodes ({fill.transitions:,} transitions, "
            f"{int(SHORT_EPISODE_FRACTION * 100)}% of episodes shorter than 50 steps; the ring "
            f"wrapped). One repeat = {plan.her_batches} batches per measure."
        ),
        tables=(
            Table(
                "Sampling",
                (
                    Row("buffer.sample(256): one HER batch", "µs/batch", micro["sample"]),
                    Row(
                        "  the same 256 rows every call (cache-warm; restores the RNG state)",
                        "µs/batch",
                        micro["warm"],
                    ),
                    Row(
                        "  sample_indices alone (transitions, goal sources)", "µs", micro["indices"]
                    ),
                    Row(
                        f"  compute_reward alone on {relabelled} relabelled rows",
                        "µs",
                        micro["reward"],
                    ),
                ),
            ),
            Table(
                "Filling (once, synthetic episodes)",
                (
                    Row(
                        "buffer.add, per transition (one fill)",
                        "µs",
                        Summary.of([1e6 * fill.seconds / fill.transitions]),
                    ),
                    Row.exact("Buffer storage (nbytes at capacity)", "MiB", buffer.nbytes / 2**20),
                ),
            ),
        ),
        notes=(
            "The sampled rows are gathered from ~100 MiB of arrays at random: most rows miss "
            "the CPU caches, which is part of what is measured.",
        ),
    )
