"""The training loop: epochs -> cycles -> (collect episodes, store, optimise) -> evaluate.

Units (the original TD3-HER design's): an *epoch* is `cycles` cycles followed by
`eval_episodes` deterministic evaluation episodes; a *cycle* collects `episodes_per_cycle`
exploratory episodes into the HER buffer, then runs `optimization_steps` TD3 updates; an
*optimisation step* is one gradient step of the critics on one batch (the actor and the
targets move every `policy_delay` of them); an *env step* is one env.step call.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import TD3Agent, UpdateMetrics
from td3her_cli.core.noise import make_noise
from td3her_cli.core.replay import Episode, HerReplayBuffer
from td3her_cli.envs.aids import TrainingAids
from td3her_cli.envs.goal_env import (
    EnvSpec,
    describe_env,
    episode_seed,
    import_env_modules,
    make_env,
    reward_function,
    success_function,
)
from td3her_cli.envs.rollout import (
    EpisodeJob,
    EvalResult,
    EvaluationStopped,
    collect_episode,
    deterministic_episodes,
    evaluate,
    joined,
    success_and_return,
)
from td3her_cli.envs.starts import EpisodeStart
from td3her_cli.envs.workers import EpisodeWorkers
from td3her_cli.errors import (
    CheckpointError,
    DivergenceError,
    NoCheckpointError,
    Td3HerError,
    UsageError,
)
from td3her_cli.run.best import best_record, cannot_beat, is_better, is_candidate
from td3her_cli.run.checkpoint import (
    DEFAULT_KEEP,
    CheckpointInfo,
    repoint_best,
    resolve_checkpoint,
    restore_trainer,
    resumed_keep,
    save_checkpoint,
)
from td3her_cli.run.host import other_cpu_note
from td3her_cli.run.memory import check_memory
from td3her_cli.run.metrics import METRICS_FILE, MetricsWriter, truncate_metrics, write_atomically
from td3her_cli.run.training_stats import CycleStats, EpochStats
from td3her_cli.strict_json import none_to_nan

# Episode seed streams: training, evaluation and best-checks never share an episode.
TRAIN_STREAM, EVAL_STREAM, BEST_CHECK_STREAM = 0, 1, 3  # 2 is `td3her evaluate`'s
EXPLORATION_RNG = 13  # with the run seed and episode index: a worker episode's noise generator
LOSS_KEYS = ("actor_loss", "critic1_loss", "critic2_loss", "mean_q")


@dataclass(frozen=True)
class CycleWork:
    """What one cycle's collection and updates gave."""

    success_rate: float  # of the cycle's exploratory episodes
    mean_return: float
    updates: list[UpdateMetrics]
    update_seconds: float  # wall seconds of the updates
    env_steps_per_s: float  # collection throughput (of all worker envs together, if any)


@dataclass
class TrainResult:
    """The whole run: where it is, every epoch, and the time spent setting up."""

    run_dir: Path
    epochs: list[EpochStats] = field(default_factory=list)
    setup_seconds: float = 0.0
    wall_time: float = 0.0
    interrupted: bool = False
    last_checkpoint: Path | None = None
    resumed_from: Path | None = None
    empty_buffer: bool = False
    solved_epoch: int | None = None  # the epoch --stop-at-success ended the run at
    solved_check: EvalResult | None = None  # its success on the stop-check episodes
    budget_end: tuple[int, int] | None = None
    """(epochs done, env steps) when the run ended before an epoch that could pass
    --max-env-steps."""


class TrainingObserver(Protocol):
    """Receives progress from the loop (the CLI's Rich display implements it)."""

    def on_start(self, config: TrainConfig, run_dir: Path, notes: Sequence[str] = ()) -> None: ...
    def on_cycle(self, stats: CycleStats) -> None: ...
    def on_epoch(self, stats: EpochStats) -> None: ...


class Trainer:
    """Owns the env, agent, buffer, noise, RNG streams and counters of one run."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        import_env_modules(config.env_modules)
        self.env = make_env(config.env_id)
        # More envs than a cycle has episodes would sit idle: use at most that many.
        workers = min(config.num_envs, config.episodes_per_cycle)
        # Evaluations run in the worker envs when there are some, else in their own env.
        self.eval_env = make_env(config.env_id) if workers == 1 else None
        self.workers = None  # the worker envs, started once the checks below pass
        try:
            self.spec = describe_env(self.env, config.env_id, config.seed)
            if self.spec.max_episode_steps and self.spec.max_episode_steps > config.buffer_size:
                raise UsageError(
                    f"--buffer-size ({config.buffer_size}) cannot hold one {config.env_id} "
                    f"episode ({self.spec.max_episode_steps} steps); raise --buffer-size"
                )
            self.aids = TrainingAids.of(self.env, config)  # easier starts, augmentation
            self.check_budget()
            check_memory(config, self.spec)  # before the networks and buffer are allocated
            terminal_fn = terminal_function(config.terminal_on_success, self.env, self.spec)
        except BaseException:  # a refused config or env: release the envs made above
            self.close()
            raise
        self.agent = TD3Agent(config, self.spec)
        self.buffer = HerReplayBuffer(
            config.buffer_size,
            self.spec.obs_dim,
            self.spec.goal_dim,
            self.spec.action_dim,
            reward_function(self.env),
            config.her_strategy,
            config.her_k,
            terminal_fn,
            gamma=config.gamma,
            n_step=config.n_step,
            random_goals=config.her_random_goals,
        )
        seeds = np.random.SeedSequence([config.seed, 11]).spawn(4)
        self.replay_rng, self.noise_rng, self.action_rng, self.normalizer_rng = (
            np.random.default_rng(s) for s in seeds
        )
        self.noise = make_noise(config, self.spec.action_dim, self.noise_rng)  # one env's
        if workers > 1:
            self.workers = EpisodeWorkers(
                config.env_id, config.env_modules, workers, self.spec, config
            )
        self.env_steps = 0
        self.episodes = 0
        self.opt_steps = 0
        self.update_credit = 0  # env steps not yet paid for by a block (--env-steps-per-block)
        self.steps_at_optimise = 0  # env_steps at the last optimise()
        self.epoch = 0  # epochs completed
        self.cycle = 0  # cycles completed in the epoch under way
        self.epoch_losses: list[dict[str, float]] = []  # per-cycle mean losses of that epoch
        self.random_until = config.random_steps  # env steps before which actions are random
        self.best: dict | None = None  # best.json's record of the best checkpoint so far
        self.solved_streak = 0  # epoch evaluations in a row at or above the stop gate
        self.solved_check: EvalResult | None = None  # the last check of a streak long enough
        self.best_check: tuple[int, EvalResult] | None = None  # (epoch, its whole best check)
        self.elapsed = 0.0  # wall seconds of the loop before this process (resume)
        self.side_seconds = 0.0  # of which spent evaluating and checkpointing
        self.machines: list[dict] = []  # the CPUs the run trained on before this process
        self.start_scale = 1.0  # the easier-start shares' factor (--start-fade)

    def state_dict(self) -> dict:
        """Counters, RNG and noise state as JSON-serialisable data (TF state is separate)."""
        return {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "opt_steps": self.opt_steps,
            "epoch": self.epoch,
            "cycle": self.cycle,
            "epoch_losses": self.epoch_losses,
            "elapsed": self.elapsed,
            "side_seconds": self.side_seconds,
            "random_until": self.random_until,
            "update_credit": self.update_credit,
            "steps_at_optimise": self.steps_at_optimise,
            "best": self.best,
            "solved_streak": self.solved_streak,
            "solved_check": self.solved_check.to_dict() if self.solved_check else None,
            "knobs": self.agent.knobs.values(),
            "start_scale": self.start_scale,
            "rng": {
                "replay": self.replay_rng.bit_generator.state,
                "noise": self.noise_rng.bit_generator.state,
                "action": self.action_rng.bit_generator.state,
                "normalizer": self.normalizer_rng.bit_generator.state,
            },
            "noise_states": [getattr(self.noise, "state", np.zeros(0)).tolist()],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict returned."""
        for key in (
            "env_steps",
            "episodes",
            "opt_steps",
            "epoch",
            "cycle",
            "elapsed",
            "side_seconds",
        ):
            setattr(self, key, state[key])
        # state.json stores a missing loss as null (strict JSON): back to NaN.
        self.epoch_losses = [
            {key: none_to_nan(value) for key, value in losses.items()}
            for losses in state["epoch_losses"]
        ]
        self.random_until = state.get("random_until", self.config.random_steps)
        self.update_credit = state.get("update_credit", 0)
        self.steps_at_optimise = state.get("steps_at_optimise", self.env_steps)
        self.best = state.get("best")
        self.solved_streak = state.get("solved_streak", 0)
        check = state.get("solved_check")
        self.solved_check = None if check is None else EvalResult.from_dict(check)
        # Absent from checkpoints before the knobs: the values the run started with.
        before = {"lr_scale": 1.0, "action_l2": self.config.action_l2}
        self.agent.knobs.set(**state.get("knobs", before))
        self.start_scale = state.get("start_scale", 1.0)  # absent before --start-fade
        self.replay_rng.bit_generator.state = state["rng"]["replay"]
        self.noise_rng.bit_generator.state = state["rng"]["noise"]
        self.action_rng.bit_generator.state = state["rng"]["action"]
        if "normalizer" in state["rng"]:  # absent from checkpoints before it existed
            self.normalizer_rng.bit_generator.state = state["rng"]["normalizer"]
        if hasattr(self.noise, "state") and state["noise_states"]:
            self.noise.state = np.asarray(state["noise_states"][0], dtype=float)

    def close(self) -> None:
        """Release the envs (and the worker processes)."""
        self.env.close()
        if self.eval_env is not None:
            self.eval_env.close()
        if self.workers is not None:
            self.workers.close()

    def run_cycle(self) -> CycleWork:
        """One cycle: `episodes_per_cycle` exploratory episodes into the buffer and
        `optimization_steps` TD3 updates.

        In one env the episodes come first, then the updates. With worker envs the updates
        run while the workers collect, so they sample the buffer as it was before this
        cycle's episodes (which join the next cycle's batches; the first cycle has none to
        update on); the episodes act with the policy as the cycle began, and are stored in
        seed order once all have ended.
        """
        if self.workers is None:
            collect_start = time.perf_counter()
            episodes = self.collect()
            collect_seconds = time.perf_counter() - collect_start
        else:
            self.workers.set_policy(self.agent.numpy_policy().snapshot)
            self.workers.submit(self.collection_jobs())
        update_start = time.perf_counter()
        updates = self.optimise()
        update_seconds = time.perf_counter() - update_start
        if self.workers is not None:
            episodes = self.workers.results()
            for episode in episodes:
                self.store(episode)
            collect_seconds = self.workers.busy_seconds / self.workers.num_workers
        success_rate, mean_return = success_and_return(episodes)
        steps_per_s = sum(e.length for e in episodes) / max(collect_seconds, 1e-9)
        return CycleWork(success_rate, mean_return, updates, update_seconds, steps_per_s)

    def collection_jobs(self) -> list[EpisodeJob]:
        """The cycle's exploratory episodes for the worker envs.

        Episode i has its own noise generator and takes the warm-up's random steps in seed
        order, each at most an episode's length T: remaining - i * T, clipped to [0, T].
        """
        count = self.config.episodes_per_cycle
        remaining = max(0, self.random_until - self.env_steps)
        horizon = self.spec.max_episode_steps or max(remaining, 1)
        starts = [self.exploratory_start(self.episodes + i) for i in range(count)]
        return [
            EpisodeJob(
                seed=seed,
                explore=True,
                rng_seed=(self.config.seed, EXPLORATION_RNG, self.episodes + i),
                random_steps=int(np.clip(remaining - i * horizon, 0, horizon)),
                start=start,
            )
            for i, (seed, start) in enumerate(starts)
        ]

    def exploratory_start(self, index: int) -> tuple[int, EpisodeStart]:
        """The env seed of the run's `index`-th exploratory episode and the state it starts
        from (grasped, a near goal, a partly built tower: starts.py)."""
        seed = episode_seed(self.config.seed, TRAIN_STREAM, index)
        return seed, self.aids.starts.scaled(self.start_scale).draw(seed)

    def collect(self) -> list[Episode]:
        """One cycle's exploratory episodes in the main env, each stored as it ends."""
        policy = self.agent.numpy_policy()  # the weights change only in optimise()
        episodes = []
        for _ in range(self.config.episodes_per_cycle):
            seed, start = self.exploratory_start(self.episodes)
            episode = collect_episode(
                self.env,
                self.spec,
                policy,
                seed,
                self.noise,
                self.action_rng,
                max(0, self.random_until - self.env_steps),
                self.config.random_action_prob,
                start,
            )
            self.store(episode)
            policy.refresh_normalizers()
            episodes.append(episode)
        return episodes

    def store(self, episode: Episode) -> None:
        """Add an episode to the buffer, the normalisers and the counters."""
        self.buffer.add(episode)
        observation, goals = self.aids.statistics_rows(
            episode.observation, self.goals_to_normalize(episode), self.normalizer_rng
        )
        self.agent.update_normalizers(observation, goals)
        self.env_steps += episode.length
        self.episodes += 1

    def goals_to_normalize(self, episode: Episode) -> np.ndarray:
        """Goals for the goal normaliser from a just-stored episode ([N, goal])."""
        if self.config.normalize_goals_from == "her":  # what the critic will be trained on
            return self.buffer.newest_episode_goals(self.normalizer_rng)
        # Goals seen by the critic are desired goals and (via HER) achieved goals.
        return np.concatenate([episode.desired_goal, episode.achieved_goal])

    def restart_warmup(self) -> None:
        """After a resume without a replay buffer: random actions for another random_steps
        env steps, and no updates until the buffer holds a batch (see `optimise`)."""
        self.random_until = self.env_steps + self.config.random_steps

    def optimise(self) -> list[UpdateMetrics]:
        """One cycle's TD3 updates on HER batches, each block of `optimization_steps` run as
        one compiled call.

        None while the buffer holds fewer transitions than a batch: the same few would be
        drawn again and again (a run resumed without its buffer starts nearly empty).
        """
        steps = self.config.optimization_steps
        blocks = self.update_blocks()
        if steps == 0 or self.buffer.size < self.config.batch_size:
            self.update_credit = 0  # nothing is owed for the warm-up's env steps
            return []
        updates = []
        for _ in range(blocks):
            batches = self.buffer.sample_stacked(steps, self.config.batch_size, self.replay_rng)
            batches = self.aids.augment(batches, self.replay_rng)
            updates += self.agent.update_many(batches)
            self.opt_steps += steps
        return updates

    def update_blocks(self) -> int:
        """Blocks of updates this cycle owes: one, or with `env_steps_per_block` N one per N
        env steps stored since the last optimise (the remainder carries to the next cycle)."""
        new_steps = self.env_steps - self.steps_at_optimise
        self.steps_at_optimise = self.env_steps
        per_block = self.config.env_steps_per_block
        if per_block == 0:
            return 1
        blocks, self.update_credit = divmod(self.update_credit + new_steps, per_block)
        return blocks

    def evaluate(self, stop: Callable[[], bool] | None = None) -> EvalResult:
        """Deterministic evaluation episodes with seeds unique to this epoch (the one whose
        cycles are done). Raises EvaluationStopped once stop() turns true."""
        count = self.config.eval_episodes
        seeds = [
            episode_seed(self.config.seed, EVAL_STREAM, self.epoch * count + i)
            for i in range(count)
        ]
        return self.run_evaluation(seeds, stop=stop)

    def run_evaluation(
        self,
        seeds: list[int],
        give_up: Callable[[int, int], bool] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> EvalResult:
        """The evaluated policy's deterministic episodes for these seeds (rollout.evaluate), in
        the worker envs when there are some (the same episodes, sooner)."""
        policy = self.agent.evaluated_policy()
        if self.workers is not None:
            self.workers.set_policy(policy.snapshot)
            episodes = self.workers.episodes([EpisodeJob(seed) for seed in seeds], stop)
        else:
            episodes = deterministic_episodes(self.eval_env, self.spec, policy, seeds, stop)
        return evaluate(episodes, give_up)

    def check_best(
        self, evaluation: EvalResult, epoch: int, stop: Callable[[], bool] | None = None
    ) -> dict | None:
        """best.json's new record if epoch `epoch`'s policy becomes `best`, else None.

        A candidate (its evaluation beats the best's) is re-evaluated on the same
        `best_eval_episodes` episodes as every other candidate before it is promoted. The
        record's `selection_score` is that re-evaluation: the winner's score on the episodes it
        was picked on, not a held-out result (best.py).
        Raises EvaluationStopped once stop() turns true (best is then unchanged).
        """
        if not is_candidate(evaluation, self.best):
            return None
        confirmation = evaluation
        if self.config.best_eval_episodes > 0:
            seeds = best_check_seeds(self.config.seed, self.config.best_eval_episodes)
            # Episodes stop once the candidate can no longer beat the best (same decision).
            give_up = cannot_beat(self.best, len(seeds))
            confirmation = self.run_evaluation(seeds, give_up, stop)
            if confirmation.episodes == len(seeds):  # whole: --stop-at-success may reuse it
                self.best_check = (epoch, confirmation)
        if not is_better(confirmation, self.best):
            return None
        self.best = best_record(epoch, evaluation, confirmation)
        return self.best

    def check_solved(
        self, evaluation: EvalResult, epoch: int, stop: Callable[[], bool] | None = None
    ) -> EvalResult | None:
        """When epoch `epoch`'s evaluation makes the streak of evaluations at the stop gate
        long enough, the policy's success on the first `stop_check_count` episodes of the
        best-check stream, which must reach the target too: 20 noisy episodes do not end a run.
        This epoch's whole best check, the start of that stream, counts for its episodes; only
        the rest are run. None when there is nothing to check.
        Raises EvaluationStopped once stop() turns true."""
        target, count = self.config.stop_at_success, self.config.stop_check_count
        long_enough = self.solved_streak + 1 >= self.config.stop_patience
        if not self.passes_gate(evaluation) or not long_enough or count == 0:
            return None
        done = None
        if self.best_check is not None and self.best_check[0] == epoch:
            done = self.best_check[1]
            if done.episodes == count:
                return done
            if done.episodes > count:  # a longer best check: its first `count` are not known
                done = None
        seeds = best_check_seeds(self.config.seed, count)
        # Episodes stop once the target is out of reach (the same decision).
        out_of_reach = cannot_reach(target, count)
        if done is None:
            return self.run_evaluation(seeds, out_of_reach, stop)
        before = done.successes
        if out_of_reach(before, done.episodes):  # the best check alone rules it out
            return done
        rest = self.run_evaluation(
            seeds[done.episodes :],
            lambda successes, run: out_of_reach(before + successes, done.episodes + run),
            stop,
        )
        return joined(done, rest)

    def count_solved(self, evaluation: EvalResult, check: EvalResult | None = None) -> None:
        """Extend or reset the run of evaluations at or above the stop gate, with the epoch's
        check_solved result; the first evaluation at the gate sets the --gate-* values."""
        reached = self.passes_gate(evaluation)
        if reached:  # from the next cycle on (a no-op once set, or with the defaults)
            self.agent.knobs.set(**self.config.knobs_at_gate)
        self.solved_streak = self.solved_streak + 1 if reached else 0
        self.solved_check = check if reached else None

    def check_budget(self) -> None:
        """Raise UsageError for a --max-env-steps the env's episodes cannot be held to, or
        that no epoch fits in."""
        budget = self.config.max_env_steps
        if budget and not self.spec.max_episode_steps:
            raise UsageError(
                f"--max-env-steps needs episodes of bounded length; {self.config.env_id} has no "
                "time limit"
            )
        longest = self.longest_epoch()
        if budget and budget < longest:
            raise UsageError(
                f"--max-env-steps {budget} is less than one epoch can take ({longest} env steps: "
                "--cycles x --episodes-per-cycle x the episode time limit); raise it"
            )

    def longest_epoch(self) -> int:
        """The env steps of an epoch whose every episode runs to the time limit."""
        return self.config.longest_epoch(self.spec.max_episode_steps or 0)

    def epoch_fits_budget(self) -> bool:
        """Whether one more epoch, every episode at its time limit, stays within
        --max-env-steps (always, without one)."""
        return self.config.epoch_fits_budget(self.env_steps, self.spec.max_episode_steps or 0)

    def fade_starts(self, evaluation: EvalResult) -> None:
        """Set the easier-start shares' factor from the latest epoch evaluation (--start-fade):
        1 - F * its success rate."""
        self.start_scale = 1.0 - self.config.start_fade * evaluation.success_rate

    def passes_gate(self, evaluation: EvalResult) -> bool:
        """Whether an epoch evaluation counts toward --stop-patience (never when the run does
        not stop itself)."""
        gate = self.config.stop_gate_success
        return self.config.stop_at_success > 0 and evaluation.success_rate >= gate

    def solved(self) -> bool:
        """Whether --stop-patience epoch evaluations in a row passed the stop gate and, with
        stop-check episodes, those reached --stop-at-success on all of them."""
        target = self.config.stop_at_success
        if target <= 0 or self.solved_streak < self.config.stop_patience:
            return False
        check = self.solved_check
        count = self.config.stop_check_count
        return count == 0 or (
            check is not None and check.episodes == count and check.success_rate >= target
        )


def best_check_seeds(run_seed: int, count: int) -> list[int]:
    """The first `count` episode seeds of the best-check stream of a run seeded `run_seed`: the
    fixed episodes of best checks and, as far as they go, of --stop-at-success checks."""
    return [episode_seed(run_seed, BEST_CHECK_STREAM, i) for i in range(count)]


def cannot_reach(target: float, episodes: int) -> Callable[[int, int], bool]:
    """A `give_up(successes, run)` test: true once a success rate of `target` over `episodes`
    episodes is out of reach even if every remaining episode succeeds."""
    needed = min(k for k in range(episodes + 1) if k / episodes >= target)  # as solved() reads
    return lambda successes, run: successes + (episodes - run) < needed


def terminal_on_success(mode: str, spec: EnvSpec) -> bool:
    """Whether --terminal-on-success `mode` is on for this env (auto: iff the env itself ends
    episodes on success)."""
    return mode == "on" or (mode == "auto" and spec.terminates_on_success)


def terminal_function(mode: str, env, spec: EnvSpec):
    """The success test that makes a replayed transition terminal, or None (never terminal)."""
    if not terminal_on_success(mode, spec):
        return None
    success = success_function(env, spec.reward_bounds)
    if success is None:
        raise UsageError(
            f"--terminal-on-success {mode}: {spec.env_id} has a dense reward and no success "
            "test (task.is_success); use --terminal-on-success off"
        )
    return success


def terminal_note(config: TrainConfig, spec: EnvSpec) -> str:
    """One line saying whether replayed transitions are terminal on success, and why."""
    mode = config.terminal_on_success
    on = terminal_on_success(mode, spec)
    why = ""
    if mode == "auto":
        ends = "ends" if spec.terminates_on_success else "does not end"
        why = f" (auto: {spec.env_id} {ends} episodes on success)"
    return f"terminal on success: {'on' if on else 'off'}{why}"


def resume_checkpoint(run_dir: Path) -> CheckpointInfo | None:
    """The checkpoint a resumed run continues from (the newest that validates: a damaged
    latest one is passed over, its `warning` says so); None when the run has none yet."""
    try:
        return resolve_checkpoint(run_dir, latest=True, fall_back=True)
    except NoCheckpointError:
        return None


def resume_note(trainer: Trainer, checkpoint: Path) -> str:
    """One line saying where a resumed run continues from, and with what replay data."""
    if trainer.buffer.size:
        return (
            f"resumed from {checkpoint} with its replay buffer "
            f"({trainer.buffer.size:,} transitions)"
        )
    return (
        f"resumed from {checkpoint} without a replay buffer (saved with --no-save-buffer or "
        f"dropped): warming up again with {trainer.config.random_steps} random steps, no updates "
        f"until the buffer holds {trainer.config.batch_size} transitions"
    )


def divergence(trainer: Trainer, updates: list[UpdateMetrics]) -> str | None:
    """What went non-finite in this cycle's updates or the agent's variables, or None.

    The actor loss is not checked: it is NaN by design until the first delayed actor update
    (a diverged actor shows in its weights).
    """
    for update in updates:
        for key in ("critic1_loss", "critic2_loss", "mean_q"):
            value = getattr(update, key)
            if not np.isfinite(value):
                return f"{key.replace('_', ' ')} {value}"
    parts = trainer.agent.non_finite_parts()
    return f"non-finite {', '.join(parts)}" if parts else None


def mean_update(updates: list[UpdateMetrics]) -> dict[str, float]:
    """Average losses over a list of updates (NaN when there were none)."""
    if not updates:
        return dict.fromkeys(LOSS_KEYS, float("nan"))
    # nanmean: the actor loss is NaN until the first delayed actor update.
    return {key: _nanmean([getattr(u, key) for u in updates]) for key in LOSS_KEYS}


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def mean_losses(per_cycle: list[dict[str, float]]) -> dict[str, float]:
    """Average per-cycle mean losses over an epoch (every cycle has as many updates)."""
    if not per_cycle:
        return dict.fromkeys(LOSS_KEYS, float("nan"))
    return {key: _nanmean([losses[key] for losses in per_cycle]) for key in LOSS_KEYS}


def train(
    config: TrainConfig,
    run_dir: Path,
    observer: TrainingObserver | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    resume: bool = False,
    keep: int | None = None,
    save_buffer: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Train for config.epochs epochs in run_dir: config.json, metrics.jsonl, checkpoints/.

    Scalars also go to RUN/tb/ for TensorBoard unless tensorboard=False.
    A checkpoint is written after every epoch, and after the current cycle when should_stop()
    turns true (then the run stops and result.interrupted is set). With resume=True the run
    continues from run_dir's latest checkpoint and metrics rows written after it are dropped.
    The newest `keep` checkpoints are kept besides `best` (None: 3, or on resume the run's own).
    """
    setup_start = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    result = TrainResult(run_dir=run_dir)
    with contextlib.ExitStack() as cleanup:
        trainer = Trainer(config)
        cleanup.callback(trainer.close)
        metrics_path = run_dir / METRICS_FILE
        notes = [terminal_note(config, trainer.spec)]
        info = resume_checkpoint(run_dir) if resume else None
        if keep is None:
            keep = resumed_keep(info) if info is not None else DEFAULT_KEEP
        if info is not None:
            restore_trainer(trainer, info)
            with reported_write_failure(run_dir):
                if info.fell_back:  # past `latest`: best.json may name a passed-over one
                    repoint_best(info, trainer.best)
                truncate_metrics(metrics_path, info.meta["metrics_rows"])
            result.resumed_from = info.path
            result.empty_buffer = trainer.buffer.size == 0
            if result.empty_buffer:
                trainer.restart_warmup()
            notes.append(resume_note(trainer, info.path))
            other_cpu = other_cpu_note(trainer.machines)
            if other_cpu is not None:
                notes.append(other_cpu)
        else:
            if resume:
                notes.append(f"{run_dir} has no checkpoint yet: starting it again from epoch 1")
            with reported_write_failure(run_dir):
                metrics_path.write_text("")
        with reported_write_failure(run_dir):
            # Written on resume too, so that a new --epochs is what the next --resume reads.
            write_atomically(run_dir / "config.json", config.to_json() + "\n")
            writer = MetricsWriter(metrics_path)
        cleanup.callback(writer.close)
        observers = [observer] if observer is not None else []
        if tensorboard:
            from td3her_cli.run.tensorboard import TensorBoardLogger

            board = TensorBoardLogger(run_dir)
            cleanup.callback(board.close)
            observers.append(board)
        result.setup_seconds = time.perf_counter() - setup_start
        if observer is not None:
            observer.on_start(config, run_dir, notes)
        with reported_write_failure(run_dir):  # checkpoints report their own failures
            run_epochs(trainer, run_dir, writer, observers, should_stop, keep, save_buffer, result)
    return result


@contextlib.contextmanager
def reported_write_failure(run_dir: Path):
    """Turn an OSError of the block, writing the run's files (metrics.jsonl, config.json), into
    one line: which file, why, the checkpoint that is intact and the command that goes on from
    it once there is space (as a Ctrl-C stop says). Other OSErrors (a worker's broken pipe,
    a permission) are not about space and pass through unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise Td3HerError(write_failure(run_dir, exc)) from None


def write_failure(run_dir: Path, exc: OSError) -> str:
    """reported_write_failure's line for `exc`."""
    try:
        intact = resolve_checkpoint(run_dir, latest=True, fall_back=True).path
        kept = f"the last complete checkpoint, {intact}, is intact"
    except CheckpointError:
        kept = "no checkpoint was saved yet"
    where = exc.filename or f"to {run_dir}"
    return (
        f"cannot write {where} ({exc.strerror or exc}); {kept}; once there is space, resume "
        f"with: td3her train --resume {run_dir}"
    )


def run_epochs(
    trainer: Trainer,
    run_dir: Path,
    writer: MetricsWriter,
    observers: list,
    should_stop: Callable[[], bool],
    keep: int,
    save_buffer: bool,
    result: TrainResult,
) -> None:
    """The loop proper: from the trainer's counters to config.epochs, or a stop request."""
    config = trainer.config
    start, elapsed_before = time.perf_counter(), trainer.elapsed

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - start

    while trainer.epoch < config.epochs:
        if trainer.cycle == 0 and not trainer.epoch_fits_budget():  # an epoch under way ends
            result.budget_end = (trainer.epoch, trainer.env_steps)
            break
        for cycle in range(trainer.cycle + 1, config.cycles + 1):
            work = trainer.run_cycle()
            updates = work.updates
            problem = divergence(trainer, updates)
            if problem:  # before this cycle is recorded or saved anywhere
                raise DivergenceError(
                    f"training diverged in epoch {trainer.epoch + 1}, cycle {cycle} ({problem}); "
                    f"stopped without saving it{checkpoints_kept(trainer, result)}; lower "
                    "--actor-lr / --critic-lr"
                )
            losses = mean_update(updates)
            trainer.cycle = cycle
            trainer.epoch_losses.append(losses)
            stats = CycleStats(
                epoch=trainer.epoch + 1,
                cycle=cycle,
                env_steps=trainer.env_steps,
                episodes=trainer.episodes,
                opt_steps=trainer.opt_steps,
                wall_time=elapsed(),
                train_success_rate=work.success_rate,
                train_mean_return=work.mean_return,
                env_steps_per_s=work.env_steps_per_s,
                update_seconds=work.update_seconds,
                **losses,
            )
            writer.write({"kind": "cycle", **asdict(stats)})
            for each in observers:
                each.on_cycle(stats)
            if should_stop():
                break
        eval_start = time.perf_counter()
        if trainer.cycle == config.cycles:  # the epoch's cycles are done (not stopped)
            best_before = trainer.best
            try:
                evaluation = trainer.evaluate(should_stop)
                new_best = trainer.check_best(evaluation, trainer.epoch + 1, should_stop)
                solved_check = trainer.check_solved(evaluation, trainer.epoch + 1, should_stop)
            except EvaluationStopped:  # a resume evaluates the same policy on the same seeds
                trainer.best = best_before  # promoted only once the epoch is saved
                trainer.side_seconds += time.perf_counter() - eval_start
            else:
                trainer.epoch, trainer.cycle = trainer.epoch + 1, 0
        if trainer.cycle > 0:  # stopped before the epoch's evaluation ended: keep its cycles
            trainer.elapsed = elapsed()
            result.last_checkpoint = save_checkpoint(
                trainer, run_dir, None, writer.rows, keep, save_buffer
            )
            result.interrupted = True
            break
        trainer.count_solved(evaluation, solved_check)
        trainer.fade_starts(evaluation)
        eval_seconds = time.perf_counter() - eval_start
        trainer.side_seconds += eval_seconds
        epoch_stats = EpochStats(
            epoch=trainer.epoch,
            env_steps=trainer.env_steps,
            episodes=trainer.episodes,
            opt_steps=trainer.opt_steps,
            wall_time=elapsed(),
            train_seconds=elapsed() - trainer.side_seconds,
            eval_seconds=eval_seconds,
            evaluation=evaluation,
            **mean_losses(trainer.epoch_losses),
            stop_check=solved_check,
            start_scale=trainer.start_scale,
        )
        trainer.epoch_losses = []
        writer.write(epoch_row(epoch_stats))
        trainer.elapsed = elapsed()
        save_start = time.perf_counter()
        result.last_checkpoint = save_checkpoint(
            trainer, run_dir, evaluation.to_dict(), writer.rows, keep, save_buffer, new_best
        )
        trainer.side_seconds += time.perf_counter() - save_start
        result.epochs.append(epoch_stats)
        for each in observers:
            each.on_epoch(epoch_stats)
        if trainer.solved():
            result.solved_epoch, result.solved_check = trainer.epoch, trainer.solved_check
            break
        if should_stop():
            result.interrupted = trainer.epoch < config.epochs
            break
    result.wall_time = elapsed()


def checkpoints_kept(trainer: Trainer, result: TrainResult) -> str:
    """What a run that stops on divergence still has: the end of its one line."""
    if result.last_checkpoint is None and result.resumed_from is None:
        return " (the run has no checkpoint yet)"
    if trainer.best is None:  # only checkpoints of an epoch under way: no best yet
        return ", so latest still names a finite checkpoint"
    return ", so latest and best still name finite checkpoints"


def epoch_row(stats: EpochStats) -> dict:
    """The metrics.jsonl row of an epoch (evaluation fields flattened)."""
    row = {"kind": "epoch", **asdict(stats)}
    row.pop("evaluation")
    check = row.pop("stop_check")
    if check is not None:  # the --stop-at-success check's success on the stop-check episodes
        row["stop_check_success"] = check["success_rate"]
        row["stop_check_episodes"] = check["episodes"]
    evaluation = stats.evaluation.to_dict()
    row.update(
        {
            "success_rate": evaluation["success_rate"],
            "mean_return": evaluation["mean_return"],
            "mean_length": evaluation["mean_length"],
            "eval_episodes": evaluation["episodes"],
            "ci95": evaluation["ci95"],
        }
    )
    return row
