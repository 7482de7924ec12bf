"""How an exploratory episode starts: from the env's reset, or from a state made easier right
after it. Each easier start is a share of the exploratory episodes, drawn per episode seed:

- `--grasp-start`: the object in the gripper (grasp.py);
- `--near-goal-share`: the goal pulled toward the object (near_goal.py);
- `--tower-start`: Stack's bottom cube already on its goal (grasp.py);
- `--touch-start`: Flip's cube with the closed fingertips on its top (touch.py).

Evaluation episodes always start from the reset.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from td3her_cli.envs.grasp import (
    build_tower,
    check_grasp_start,
    check_tower_start,
    grasp_object,
    starts_built,
    starts_grasped,
)
from td3her_cli.envs.near_goal import check_near_goal_share, goal_fraction, pull_goal
from td3her_cli.envs.touch import check_touch_start, touch_object, touch_point


@dataclass(frozen=True)
class EpisodeStart:
    """One episode's start; the defaults are the env's reset."""

    grasped: bool = False
    """The object starts in the gripper (`--grasp-start`; on Stack the bottom cube placed too)."""
    goal_fraction: float = 1.0
    """The goal lies this fraction of the way from what the object achieves at the start to
    the goal the reset drew (`--near-goal-share`, near_goal.py; 1: the reset's goal, 0: the
    object's own position or orientation; Stack: its tower's base on the bottom cube)."""
    built: bool = False
    """Every goal object but the top one starts on its goal (`--tower-start`); never with
    `grasped`, which places them too."""
    touch: tuple[float, float] | None = None
    """Where the closed fingertips start on the cube's top (`--touch-start`, touch.py:
    fractions of the half-side along x and y); None: where the reset left the arm."""

    def apply(self, env, raw: dict) -> dict:
        """Turn the state env.reset() just gave (its observation `raw`) into this start; the
        env's observation from it."""
        if self.goal_fraction < 1.0:
            raw = pull_goal(env, self.goal_fraction)
        if self.grasped:
            raw = grasp_object(env)
        elif self.built:
            raw = build_tower(env)
        if self.touch is not None:
            raw = touch_object(env, self.touch)
        return raw


RESET = EpisodeStart()
"""The env's own reset: what evaluation episodes, and most exploratory ones, start from."""


@dataclass(frozen=True)
class StartShares:
    """The shares of exploratory episodes that start easier (TrainConfig fields of one name)."""

    grasp_start: float = 0.0
    near_goal_share: float = 0.0
    tower_start: float = 0.0
    touch_start: float = 0.0

    @classmethod
    def of(cls, config) -> StartShares:
        """The shares a TrainConfig asks for."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def check(self, env, env_id: str) -> None:
        """Raise UsageError for a start env cannot give."""
        check_grasp_start(env, self.grasp_start, env_id)
        check_near_goal_share(env, self.near_goal_share, env_id)
        check_tower_start(env, self.tower_start, env_id)
        check_touch_start(env, self.touch_start, env_id)

    def scaled(self, factor: float) -> StartShares:
        """These shares times `factor` (--start-fade's curriculum)."""
        return StartShares(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def draw(self, seed: int) -> EpisodeStart:
        """The start of the exploratory episode with this env seed (fixed per seed)."""
        grasped = starts_grasped(self.grasp_start, seed)
        return EpisodeStart(
            grasped=grasped,
            goal_fraction=goal_fraction(self.near_goal_share, seed),
            built=starts_built(self.tower_start, seed) and not grasped,
            touch=touch_point(self.touch_start, seed),
        )
