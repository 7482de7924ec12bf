"""The training loop: epochs -> cycles -> (collect episodes, store, optimise) -> evaluate.

Units (the original TD3-HER design's): an *epoch* is `cycles` cycles followed by
`eval_episodes` deterministic evaluation episodes; a *cycle* collects `episodes_per_cycle`
exploratory episodes into the HER buffer, then runs `optimization_steps` TD3 updates; an
*optimisation step* is one gradient step of the critics on one batch (the actor and the
targets move every `policy_delay` of them); an *env step* is one env.step call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from td3her_cli.agent import TD3Agent, UpdateMetrics
from td3her_cli.config import TrainConfig
from td3her_cli.envs import describe_env, episode_seed, make_env, reward_function
from td3her_cli.metrics import METRICS_FILE, MetricsWriter
from td3her_cli.noise import make_noise
from td3her_cli.replay import HerReplayBuffer
from td3her_cli.rollout import EvalResult, collect_episode, evaluate

TRAIN_STREAM, EVAL_STREAM = 0, 1  # episode seed streams: training and evaluation never share


@dataclass(frozen=True)
class CycleStats:
    """What one cycle did and measured."""

    epoch: int
    cycle: int
    env_steps: int
    episodes: int
    opt_steps: int
    wall_time: float
    train_success_rate: float
    train_mean_return: float
    actor_loss: float
    critic1_loss: float
    critic2_loss: float
    mean_q: float
    env_steps_per_s: float


@dataclass(frozen=True)
class EpochStats:
    """An epoch's end: counters and the deterministic evaluation."""

    epoch: int
    env_steps: int
    episodes: int
    opt_steps: int
    wall_time: float
    evaluation: EvalResult
    actor_loss: float
    critic1_loss: float
    critic2_loss: float
    mean_q: float


@dataclass
class TrainResult:
    """The whole run: where it is, every epoch, and the time spent setting up."""

    run_dir: Path
    epochs: list[EpochStats] = field(default_factory=list)
    setup_seconds: float = 0.0
    wall_time: float = 0.0


class TrainingObserver(Protocol):
    """Receives progress from the loop (the CLI's Rich display implements it)."""

    def on_start(self, config: TrainConfig, run_dir: Path) -> None: ...
    def on_cycle(self, stats: CycleStats) -> None: ...
    def on_epoch(self, stats: EpochStats) -> None: ...


class Trainer:
    """Owns the env, agent, buffer, noise, RNG streams and counters of one run."""

    def __init__(self, config: TrainConfig, jit_compile: bool = False) -> None:
        self.config = config
        self.env = make_env(config.env_id)
        self.eval_env = make_env(config.env_id)
        self.spec = describe_env(self.env, config.env_id, config.seed)
        self.agent = TD3Agent(config, self.spec, jit_compile=jit_compile)
        self.buffer = HerReplayBuffer(
            config.buffer_size,
            self.spec.obs_dim,
            self.spec.goal_dim,
            self.spec.action_dim,
            reward_function(self.env),
            config.her_strategy,
            config.her_k,
        )
        seeds = np.random.SeedSequence([config.seed, 11]).spawn(3)
        self.replay_rng, self.noise_rng, self.action_rng = (np.random.default_rng(s) for s in seeds)
        self.noise = make_noise(config, self.spec.action_dim, self.noise_rng)
        self.env_steps = 0
        self.episodes = 0
        self.opt_steps = 0
        self.epoch = 0  # epochs completed

    def close(self) -> None:
        """Release the envs."""
        self.env.close()
        self.eval_env.close()

    def collect(self) -> tuple[float, float]:
        """One cycle's exploratory episodes into the buffer: (success rate, mean return)."""
        successes, returns = [], []
        for _ in range(self.config.episodes_per_cycle):
            episode = collect_episode(
                self.env,
                self.spec,
                self.agent.numpy_policy(),  # fresh weights and normaliser statistics
                seed=episode_seed(self.config.seed, TRAIN_STREAM, self.episodes),
                noise=self.noise,
                rng=self.action_rng,
                random_steps=max(0, self.config.random_steps - self.env_steps),
            )
            self.buffer.add(episode)
            # Goals seen by the critic are desired goals and (via HER) achieved goals.
            self.agent.update_normalizers(
                episode.observation, np.concatenate([episode.desired_goal, episode.achieved_goal])
            )
            self.env_steps += episode.length
            self.episodes += 1
            successes.append(episode.success)
            returns.append(float(episode.reward.sum()))
        return float(np.mean(successes)), float(np.mean(returns))

    def optimise(self) -> list[UpdateMetrics]:
        """One cycle's TD3 updates on HER batches."""
        updates = []
        for _ in range(self.config.optimization_steps):
            batch = self.buffer.sample(self.config.batch_size, self.replay_rng)
            updates.append(self.agent.update(batch))
            self.opt_steps += 1
        return updates

    def evaluate(self) -> EvalResult:
        """Deterministic evaluation episodes with seeds unique to this epoch."""
        count = self.config.eval_episodes
        seeds = [
            episode_seed(self.config.seed, EVAL_STREAM, self.epoch * count + i)
            for i in range(count)
        ]
        return evaluate(self.eval_env, self.spec, self.agent.numpy_policy(), seeds)


def mean_update(updates: list[UpdateMetrics]) -> dict[str, float]:
    """Average losses over a list of updates (NaN when there were none)."""
    keys = ("actor_loss", "critic1_loss", "critic2_loss", "mean_q")
    if not updates:
        return dict.fromkeys(keys, float("nan"))
    return {key: float(np.mean([getattr(u, key) for u in updates])) for key in keys}


def train(
    config: TrainConfig,
    run_dir: Path,
    observer: TrainingObserver | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    jit_compile: bool = False,
) -> TrainResult:
    """Train an agent for config.epochs epochs, writing config.json and metrics.jsonl in run_dir."""
    setup_start = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(config.to_json() + "\n")
    trainer = Trainer(config, jit_compile=jit_compile)
    writer = MetricsWriter(run_dir / METRICS_FILE)
    result = TrainResult(run_dir=run_dir, setup_seconds=time.perf_counter() - setup_start)
    if observer is not None:
        observer.on_start(config, run_dir)
    start = time.perf_counter()
    try:
        while trainer.epoch < config.epochs and not should_stop():
            epoch_updates = []
            for cycle in range(1, config.cycles + 1):
                cycle_start, steps_before = time.perf_counter(), trainer.env_steps
                success_rate, mean_return = trainer.collect()
                steps_per_s = (trainer.env_steps - steps_before) / (
                    time.perf_counter() - cycle_start
                )
                updates = trainer.optimise()
                epoch_updates += updates
                stats = CycleStats(
                    epoch=trainer.epoch + 1,
                    cycle=cycle,
                    env_steps=trainer.env_steps,
                    episodes=trainer.episodes,
                    opt_steps=trainer.opt_steps,
                    wall_time=time.perf_counter() - start,
                    train_success_rate=success_rate,
                    train_mean_return=mean_return,
                    env_steps_per_s=steps_per_s,
                    **mean_update(updates),
                )
                writer.write({"kind": "cycle", **asdict(stats)})
                if observer is not None:
                    observer.on_cycle(stats)
                if should_stop():
                    break
            else:
                evaluation = trainer.evaluate()
                trainer.epoch += 1
                epoch_stats = EpochStats(
                    epoch=trainer.epoch,
                    env_steps=trainer.env_steps,
                    episodes=trainer.episodes,
                    opt_steps=trainer.opt_steps,
                    wall_time=time.perf_counter() - start,
                    evaluation=evaluation,
                    **mean_update(epoch_updates),
                )
                writer.write(epoch_row(epoch_stats))
                result.epochs.append(epoch_stats)
                if observer is not None:
                    observer.on_epoch(epoch_stats)
    finally:
        writer.close()
        trainer.close()
    result.wall_time = time.perf_counter() - start
    return result


def epoch_row(stats: EpochStats) -> dict:
    """The metrics.jsonl row of an epoch (evaluation fields flattened)."""
    row = {"kind": "epoch", **asdict(stats)}
    evaluation = row.pop("evaluation")
    row.update(
        {
            "success_rate": evaluation["success_rate"],
            "mean_return": evaluation["mean_return"],
            "mean_length": evaluation["mean_length"],
            "eval_episodes": evaluation["episodes"],
        }
    )
    return row


def load_config(path: Path) -> TrainConfig:
    """Read a config.json written by `train`."""
    return TrainConfig.from_dict(json.loads(Path(path).read_text()))
