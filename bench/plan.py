"""How much each benchmark measures: the full run (~5 min on 2 busy cores) or --quick (~2 min).

Most of either is figure 6, which trains the fast preset once per seed in a fresh process
(~15-25 s each); the in-process figures take the rest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """Repeat counts and block sizes. Every figure is a median over `repeats` repeats."""

    name: str
    """"full" or "quick" (shown in the report)."""
    repeats: int
    """Interleaved repeats of each in-process measurement."""
    env_episodes: int
    """Episodes per env/collection block (50 steps each for PandaReach)."""
    micro_calls: int
    """Calls per timed block of a microsecond-scale operation (policy forward, noise, ...)."""
    eager_steps: int
    """Eager TD3 steps per repeat (slow; a multiple of policy_delay keeps the mix exact)."""
    compiled_steps: int
    """tf.function / XLA TD3 steps per repeat, one call each (a multiple of policy_delay)."""
    fused_calls: int
    """update_many calls per repeat, each of the default optimization_steps (40) steps."""
    warmup_steps: int
    """Untimed TD3 steps after the first (tracing) call."""
    matmul_block_seconds: float
    """Target duration of one timed block of the reference matmuls."""
    her_batches: int
    """HER batches sampled per repeat."""
    memory_repeats: int
    """Child processes started for the memory figure."""
    fast_seeds: tuple[int, ...]
    """Seeds of the fast-preset training runs (one fresh process each, ~15-25 s)."""
    tf_imports: int
    """Bare `python -c "import tensorflow"` runs (~3-4 s), one before each of the first seeds."""
    breakdown_block_seconds: float
    """Least duration of one timed block in the update breakdown (whole calls, at least one)."""


FULL = Plan(
    name="full",
    repeats=11,
    env_episodes=10,
    micro_calls=4000,
    eager_steps=3,
    compiled_steps=60,
    fused_calls=3,  # 120 steps: a multiple of policy_delay 3 (and of the fast preset's 2)
    warmup_steps=6,
    matmul_block_seconds=0.3,
    her_batches=400,
    memory_repeats=3,
    fast_seeds=(0, 1, 2, 3, 4),
    tf_imports=5,
    breakdown_block_seconds=0.3,
)

QUICK = Plan(
    name="quick",
    repeats=5,
    env_episodes=3,
    micro_calls=1000,
    eager_steps=3,
    compiled_steps=24,
    fused_calls=1,
    warmup_steps=3,
    matmul_block_seconds=0.1,
    her_batches=100,
    memory_repeats=2,
    fast_seeds=(0, 1, 2),
    tf_imports=1,
    breakdown_block_seconds=0.1,
)
