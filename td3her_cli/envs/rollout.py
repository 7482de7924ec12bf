"""Running a policy in a goal env: one exploratory episode, or a deterministic evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from td3her_cli.core.replay import Episode
from td3her_cli.core.spec import EnvSpec
from td3her_cli.envs.goal_env import episode_seed, split_observation
from td3her_cli.envs.starts import RESET, EpisodeStart

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]  # ([N, obs], [N, goal]) -> [N, act]
Noise = Callable[[], np.ndarray]
EVALUATE_STREAM = 2  # episode seeds of `td3her evaluate`, apart from training's streams
# `td3her evaluate --seed` values from here up are the held-out test stream: nothing is tuned,
# stopped or selected on them (`td3her evaluate RUN --latest --seed 1000 --episodes 300`).
HELD_OUT_SEED = 1000
HELD_OUT_EPISODES = 300  # the held-out test's episodes in the results' protocol


class EvaluationStopped(Exception):
    """Evaluation episodes given up because a stop was requested (Ctrl-C, SIGTERM)."""


@dataclass(frozen=True)
class EvalResult:
    """Deterministic evaluation over several episodes."""

    success_rate: float
    mean_return: float
    mean_length: float
    episodes: int

    @property
    def successes(self) -> int:
        """How many of the episodes succeeded."""
        return round(self.success_rate * self.episodes)

    @property
    def ci95(self) -> tuple[float, float]:
        """95 % Wilson score interval of the success rate over these episodes."""
        return wilson_interval(self.successes, self.episodes)

    @classmethod
    def from_dict(cls, data: dict) -> EvalResult:
        """The EvalResult `to_dict` described."""
        return cls(data["success_rate"], data["mean_return"], data["mean_length"], data["episodes"])

    def to_dict(self) -> dict:
        """Plain-number dict for JSON."""
        return {
            "success_rate": self.success_rate,
            "mean_return": self.mean_return,
            "mean_length": self.mean_length,
            "episodes": self.episodes,
            "ci95": [round(bound, 4) for bound in self.ci95],
        }


def joined(first: EvalResult, rest: EvalResult) -> EvalResult:
    """One evaluation's result from the results of two parts of its episodes."""
    episodes = first.episodes + rest.episodes

    def mean(a: float, b: float) -> float:
        return (a * first.episodes + b * rest.episodes) / episodes

    return EvalResult(
        (first.successes + rest.successes) / episodes,
        mean(first.mean_return, rest.mean_return),
        mean(first.mean_length, rest.mean_length),
        episodes,
    )


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson, 1927); (0, 1) for no trials.

    Unlike p +/- z*sqrt(p(1-p)/n) it stays inside [0, 1] and is not zero-width at 0 % or 100 %.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def collect_episode(
    env,
    spec: EnvSpec,
    policy: Policy,
    seed: int,
    noise=None,
    rng: np.random.Generator | None = None,
    random_steps: int = 0,
    random_action_prob: float = 0.0,
    start: EpisodeStart = RESET,
) -> Episode:
    """Run one episode from env.reset(seed=seed) until termination or truncation.

    The first `random_steps` actions are uniform in [-1, 1] (needs `rng`); after that the
    policy acts, plus `noise()` if given, clipped to [-1, 1], except that with probability
    `random_action_prob` a step is uniform random instead. `start`: the state the episode
    starts from, made right after the reset (starts.EpisodeStart; the default: the reset's).
    """
    raw, _ = env.reset(seed=seed)
    raw = start.apply(env, raw)
    if noise is not None:
        noise.reset()
    observation, achieved_goal, desired_goal = split_observation(raw)
    observations, achieved_goals = [observation], [achieved_goal]
    desired_goals, actions, rewards, terminations = [], [], [], []
    success = False
    while True:
        if len(actions) < random_steps or (
            random_action_prob > 0 and rng.random() < random_action_prob
        ):
            action = rng.uniform(-1.0, 1.0, spec.action_dim).astype(np.float32)
        else:
            action = policy(observation[None], desired_goal[None])[0]
            if noise is not None:
                action = np.clip(action + noise(), -1.0, 1.0)
        raw, reward, terminated, truncated, info = env.step(spec.scale_action(action))
        desired_goals.append(desired_goal)
        actions.append(np.asarray(action, np.float32))
        rewards.append(float(reward))
        terminations.append(bool(terminated))
        observation, achieved_goal, desired_goal = split_observation(raw)
        observations.append(observation)
        achieved_goals.append(achieved_goal)
        success = bool(info.get("is_success", False))
        if terminated or truncated:
            break
    return Episode(
        observation=np.stack(observations),
        achieved_goal=np.stack(achieved_goals),
        desired_goal=np.stack(desired_goals),
        action=np.stack(actions),
        reward=np.asarray(rewards, np.float32),
        terminated=np.asarray(terminations, bool),
        success=success,
    )


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run elsewhere (a worker process): the env seed, and how it explores."""

    seed: int
    explore: bool = False
    """Noise and random actions as the run's config says; False: deterministic actions."""
    rng_seed: tuple[int, ...] = ()
    """Entropy of the episode's own generator for its noise and random actions."""
    random_steps: int = 0
    """The episode's first steps act uniformly at random (its share of the warm-up)."""
    start: EpisodeStart = RESET
    """The state it starts from (grasped, a near goal, a partly built tower: starts.py)."""


def run_episode_job(env, spec: EnvSpec, policy: Policy, job: EpisodeJob, config=None) -> Episode:
    """Run one EpisodeJob in `env`; an exploratory one needs the run's TrainConfig for its
    noise and random-action probability."""
    if not job.explore:
        return collect_episode(env, spec, policy, job.seed)
    from td3her_cli.core.noise import make_noise

    rng = np.random.default_rng(np.random.SeedSequence(job.rng_seed))
    noise = make_noise(config, spec.action_dim, rng)
    return collect_episode(
        env,
        spec,
        policy,
        job.seed,
        noise,
        rng,
        job.random_steps,
        config.random_action_prob,
        job.start,
    )


def success_and_return(episodes: Sequence[Episode]) -> tuple[float, float]:
    """(success rate, mean return) of some episodes, whatever their order."""
    successes = sum(episode.success for episode in episodes)
    returns = math.fsum(float(episode.reward.sum()) for episode in episodes)
    return successes / len(episodes), returns / len(episodes)


def evaluation_seeds(seed: int, episodes: int) -> list[int]:
    """Episode seeds of `evaluate` and `render` (and sweeps' held-out evaluations, from
    HELD_OUT_SEED): their own stream, apart from training's."""
    return [episode_seed(seed, EVALUATE_STREAM, i) for i in range(episodes)]


def deterministic_episodes(
    env,
    spec: EnvSpec,
    policy: Policy,
    seeds: Sequence[int],
    stop: Callable[[], bool] | None = None,
) -> Iterator[Episode]:
    """One noiseless episode per seed, one after another in `env`. With `stop`,
    EvaluationStopped is raised instead of starting another episode once stop() is true."""
    for seed in seeds:
        if stop is not None and stop():
            raise EvaluationStopped
        yield collect_episode(env, spec, policy, seed)


def evaluate(
    episodes: Iterable[Episode], give_up: Callable[[int, int], bool] | None = None
) -> EvalResult:
    """Success rate, mean return and length of deterministic episodes (e.g.
    `deterministic_episodes`); success is info["is_success"] at an episode's end.

    With `give_up(successes, episodes_run)`, the evaluation stops early once it returns true
    (the result then covers the episodes run so far). The result does not depend on the order
    the episodes come in (parallel workers yield them as they end).
    """
    done, successes = [], 0
    try:
        for episode in episodes:
            done.append(episode)
            successes += episode.success
            if give_up is not None and give_up(successes, len(done)):
                break
    finally:
        close = getattr(episodes, "close", None)  # a generator left early: let it clean up
        if close is not None:
            close()
    success_rate, mean_return = success_and_return(done)
    return EvalResult(
        success_rate=success_rate,
        mean_return=mean_return,
        mean_length=sum(e.length for e in done) / len(done),
        episodes=len(done),
    )
