"""What the training loop reports after each cycle and epoch."""

from __future__ import annotations

from dataclasses import dataclass

from td3her_cli.envs.rollout import EvalResult


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
    env_steps_per_s: float  # collection throughput (of all worker envs together, if any)
    update_seconds: float = 0.0  # wall seconds of the cycle's updates


@dataclass(frozen=True)
class EpochStats:
    """An epoch's end: counters and the deterministic evaluation."""

    epoch: int
    env_steps: int
    episodes: int
    opt_steps: int
    wall_time: float
    train_seconds: float
    """Wall seconds of the loop so far, less evaluation and checkpointing."""
    eval_seconds: float
    """Seconds this epoch's evaluation took."""
    evaluation: EvalResult
    actor_loss: float
    critic1_loss: float
    critic2_loss: float
    mean_q: float
    stop_check: EvalResult | None = None
    """The --stop-at-success check on the stop-check episodes, if this epoch ran one."""
    start_scale: float = 1.0
    """What the easier-start shares are multiplied by from this evaluation on (--start-fade)."""
