"""Training configuration: one frozen, validated dataclass, serialised verbatim to JSON.

Defaults are the original TD3-HER design's hyperparameters (see README, "The loop's units").
A field made with `option(...)` is a `td3her train` option: its help text and --help panel
are declared there, once, and the command line (td3her_cli/cli/options.py) and docs/cli.md
are built from them. Adding a hyperparameter touches only this file (and its test).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from td3her_cli import strict_json
from td3her_cli.errors import UsageError

HER_STRATEGIES = ("future", "final", "episode", "none")
NOISE_KINDS = ("ou", "gaussian")
PRECISIONS = ("float32", "bfloat16")
TERMINAL_MODES = ("auto", "on", "off")
GOAL_STATISTICS = ("episodes", "her")
MAX_NUM_ENVS = 64  # worker processes, each with its own env: more only costs memory on a CPU
START_SHARE_FIELDS = ("grasp_start", "near_goal_share", "tower_start", "touch_start")
"""The fields of the easier starts' shares, each in [0, 1], that --start-fade scales."""

# The --help panels of `td3her train` that list the options (in this order, before Output).
ENVIRONMENT = "Environment"
LOOP = "Loop units"
TD3 = "TD3"
HER = "HER"
EXPLORATION = "Exploration and normalisation"
OPTION = "td3her_option"  # the key of a field's Option in its metadata


@dataclass(frozen=True)
class Option:
    """How a TrainConfig field is given to `td3her train`.

    Attributes:
        help: The option's help text, to which --help adds "(default: X)".
        panel: The --help panel (group) that lists the option.
        flag: The option's name when it is not the field's (`--env` for `env_id`).
        show_default: Whether the help ends with the field's default.
        parser: Turns the option's text into its value as it is parsed (Typer's `parser`),
            for a value written in more than one way: 1e6 as well as 1000000.
        from_text: The option takes text, which this turns into the field's value once the
            options are parsed: "256,256" into (256, 256).
    """

    help: str
    panel: str
    flag: str = ""
    show_default: bool = True
    parser: Callable[[str], Any] | None = None
    from_text: Callable[[str], Any] | None = None

    def flag_of(self, name: str) -> str:
        """The option's name, e.g. `--critic-lr` for the field `critic_lr`."""
        return self.flag or _option(name)


def option(default: Any, help: str, panel: str, **how: Any) -> Any:
    """A TrainConfig field that `td3her train` takes as an option (see `Option`)."""
    return field(default=default, metadata={OPTION: Option(help, panel, **how)})


def option_of(each: dataclasses.Field) -> Option | None:
    """The `td3her train` option of a TrainConfig field, or None when it is not one."""
    return each.metadata.get(OPTION)


def parse_hidden(text: str) -> tuple[int, ...]:
    """Parse '256,256,256', or '256x256x256' as sweep's grid writes it, into (256, 256, 256)."""
    separator = "x" if "x" in text and "," not in text else ","
    try:
        sizes = tuple(int(part) for part in text.split(separator) if part.strip())
    except ValueError:
        raise UsageError(
            f"--hidden must be integers like 256,256,256 or 256x256x256, got {text!r}"
        ) from None
    if not sizes:
        raise UsageError("--hidden needs at least one layer width, e.g. 256,256,256")
    return sizes


def parse_count(text: str, option: str) -> int:
    """A whole number from '1000000' or '1e6' (how large counts are written); UsageError
    naming `option` for anything else."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not number.is_integer():
        raise UsageError(f"{option} must be a whole number like 1000000 or 1e6, got {text!r}")
    return int(number)


def _buffer_size(text: str) -> int:
    return parse_count(text, "--buffer-size")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (not where it is written).

    Each `option(default, help, panel)` field is a `td3her train` option, listed by --help
    in this order; the docstring under a field says what it means. The other fields (the OU
    noise's constants, the clipping bounds, `extra`) are no options: code, presets and a
    sweep's --set and --grid may still set them.
    """

    # --- environment ---
    env_id: str = option("PandaReach-v3", "Gymnasium goal env id.", ENVIRONMENT, flag="--env")
    """Gymnasium id of a goal-conditioned env (Dict observation + compute_reward)."""
    env_modules: tuple[str, ...] = option(
        (),
        "Module to import for envs it registers (repeatable).",
        ENVIRONMENT,
        flag="--env-module",
        show_default=False,
    )
    """Python modules to import first, for envs they register (e.g. a third-party goal env)."""
    seed: int = option(0, "Run seed (all RNGs, every episode).", ENVIRONMENT)
    """Seeds networks, noise, replay sampling and every episode's env reset."""

    # --- loop units ---
    epochs: int = option(10, "Epochs; each ends with an evaluation.", LOOP)
    """Number of epochs; each ends with an evaluation."""
    max_env_steps: int = option(
        0, "End the run before an epoch that could take it past N env steps (0: no limit).", LOOP
    )
    """A budget of env steps: an epoch starts only if, with every episode at its time limit, it
    ends within it. Episodes that end on success make an epoch's env steps vary, so --epochs
    alone does not bound them."""
    cycles: int = option(50, "Cycles per epoch.", LOOP)
    """Cycles per epoch; a cycle collects episodes, then runs optimisation steps."""
    episodes_per_cycle: int = option(16, "Episodes collected per cycle.", LOOP)
    """Episodes collected (with exploration noise) at the start of each cycle."""
    optimization_steps: int = option(40, "TD3 updates per cycle.", LOOP)
    """TD3 gradient steps (one batch each) at the end of each cycle."""
    env_steps_per_block: int = option(
        0,
        "With N > 0, a cycle runs one block of --optimization-steps updates per N env steps "
        "collected, the rest carried over (0: one block per cycle).",
        LOOP,
    )
    """Ties the update count to env steps rather than episodes: episodes that end early on
    success bring fewer updates. Blocks keep the compiled call's shape fixed."""
    eval_episodes: int = option(10, "Evaluation episodes per epoch.", LOOP)
    """Deterministic evaluation episodes after each epoch."""
    best_eval_episodes: int = option(
        100, "Episodes that re-evaluate a best candidate (0: off).", LOOP
    )
    """An epoch that beats the best is re-evaluated on this many fixed episodes before it
    becomes `best` (0: trust the epoch's own evaluation)."""
    stop_check_episodes: int = option(
        0,
        "Episodes of the best-check stream that must reach --stop-at-success too "
        "(0: --best-eval-episodes); the epoch's best check counts as their start.",
        LOOP,
    )
    """`stop_at_success` must also hold on this many episodes of the same fixed stream before
    the run stops (0: `best_eval_episodes`). The epoch's best check, when it ran all its
    episodes, is their first part, so a larger count runs only the rest."""
    stop_at_success: float = option(
        0.0,
        "Stop once the stop-check episodes (without them: the epoch evaluations) reach "
        "this success, after --stop-patience epoch evaluations at the stop gate (0: never).",
        LOOP,
    )
    """Stop once the epoch evaluation's success rate is at least `stop_gate` for
    `stop_patience` epochs in a row and the stop-check episodes reach this (0: never)."""
    stop_patience: int = option(
        1, "Evaluations in a row at the stop gate before it stops the run.", LOOP
    )
    """Epoch evaluations in a row at or above the stop gate before the run may end."""
    stop_gate: float = option(
        0.0,
        "Epoch evaluations at or above this start the stop check, which must reach "
        "--stop-at-success (0, above it, or no stop-check episodes: --stop-at-success).",
        LOOP,
    )
    """Epoch evaluations at or above this count toward `stop_patience` and start the stop
    check, which must reach `stop_at_success`. Below the target, it lets a few noisy epoch
    episodes fail (19 of 20 is 95 %) while the check holds the policy to the target. 0, a gate
    above the target, or a run without stop-check episodes: the target itself."""
    num_envs: int = option(1, "Worker processes collecting while the updates run.", LOOP)
    """Worker processes, one env each, that run a cycle's episodes while the updates run
    (1: one env in the main process, collection then updates)."""

    # --- TD3 ---
    batch_size: int = option(256, "Batch size.", TD3)
    """Transitions per optimisation step."""
    buffer_size: int = option(1_000_000, "Replay capacity (transitions).", TD3, parser=_buffer_size)
    """Replay capacity in transitions."""
    actor_lr: float = option(1e-3, "Actor learning rate.", TD3)
    """Adam learning rate of the actor."""
    critic_lr: float = option(5e-4, "Critic learning rate.", TD3)
    """Adam learning rate of the twin critics."""
    gamma: float = option(0.99, "Discount factor in (0, 1].", TD3)
    """Discount factor, in (0, 1]."""
    tau: float = option(0.001, "Polyak coefficient in (0, 1].", TD3)
    """Polyak coefficient of the target networks, in (0, 1]."""
    policy_delay: int = option(3, "Critic updates per actor update.", TD3)
    """The actor and the targets are updated once every this many critic updates."""
    policy_average: float = option(
        0.0,
        "Polyak coefficient of the averaged actor that evaluations, checks and saved "
        "policies use (0: evaluate the actor itself).",
        TD3,
    )
    """Polyak coefficient of an averaged copy of the actor, moved toward it at each actor
    update (by max(this, 1/n) at the n-th: the plain mean of the first actors): evaluations,
    best and stop checks and the saved policies use the copy, while exploration uses the
    actor itself (0: no copy; the actor is evaluated)."""
    gate_lr_scale: float = option(
        1.0,
        "Learning rates are multiplied by this from the first epoch evaluation at the stop "
        "gate on (1: unchanged; needs --stop-at-success).",
        TD3,
    )
    """Once an epoch evaluation first reaches the stop gate, the actor's and critics' Adam
    learning rates are multiplied by this for the rest of the run: smaller steps once the
    policy is nearly solved (1: the rates never change)."""
    gate_action_l2: float = option(
        -1.0,
        "The action penalty from the first epoch evaluation at the stop gate on (-1: "
        "--action-l2 throughout; needs --stop-at-success).",
        TD3,
    )
    """Once an epoch evaluation first reaches the stop gate, the actor's squared-action
    penalty becomes this for the rest of the run: gentler actions once the task is nearly
    solved, without slowing the learning before (-1: `action_l2` throughout)."""
    target_noise: float = option(0.2, "Target smoothing noise std.", TD3)
    """Std of the Gaussian noise added to target actions (target policy smoothing)."""
    target_noise_clip: float = option(0.5, "Target smoothing noise clip.", TD3)
    """Target smoothing noise is clipped to +/- this value."""
    hidden: tuple[int, ...] = option(
        (256, 256, 256),
        "Hidden layer widths: 256,256,256 or 256x256x256.",
        TD3,
        from_text=parse_hidden,
    )
    """Hidden layer widths of the actor and of each critic."""
    action_l2: float = option(0.0, "L2 penalty on actor actions.", TD3)
    """Weight of the L2 penalty on the actor's (pre-scaling) actions."""
    critics: int = option(2, "Critics in the ensemble (2: TD3; more: REDQ-style).", TD3)
    """Critics in the ensemble: 2 is TD3's twin; more is REDQ-style (Chen et al., 2021)."""
    target_critics: int = option(
        2, "Critics in the TD target's minimum, a random subset per update (REDQ's M).", TD3
    )
    """Critics whose minimum forms the TD target: a random subset of this size, drawn afresh
    each update, when it is smaller than `critics` (REDQ's M); all of them otherwise."""
    crossq: bool = option(False, "CrossQ: batch-renormalised critics and no target networks.", TD3)
    """CrossQ (Bhatt et al., 2024, ICLR): the critics batch-renormalise every hidden layer, and
    the TD target comes from the online critics, run on (s, a) and (s', a') as one batch; no
    target networks (tau unused). The actor follows the critics in inference mode. Otherwise
    TD3's update: clipped double Q, target policy smoothing, delayed actor updates."""
    quantiles: int = option(
        0, "TQC: quantiles per critic, the target's top ones dropped (0: TD3's one value).", TD3
    )
    """Truncated quantile critics (TQC, Kuznetsov et al., ICML 2020): each critic outputs this
    many quantiles of the return; the TD target is the pooled next-state quantiles of all
    target critics, sorted, with the top `drop_quantiles` per critic dropped; the critics
    learn by the quantile Huber loss and the actor follows the mean of every quantile
    (0: TD3's clipped double Q)."""
    drop_quantiles: int = option(2, "TQC: top quantiles dropped per critic from the target.", TD3)
    """With `quantiles`, how many of each critic's quantiles the target drops from the top of
    the pooled, sorted atoms (the paper's d: its overestimation control)."""
    xla: bool = option(True, "Compile the update loop with XLA.", TD3)
    """Compile the update loop with XLA (jit_compile): 1.1-4x faster steps here, ~1-2 s compile."""
    precision: str = option(
        "float32",
        "Hidden layers' dtype in the update: float32 or bfloat16 (use with --no-xla).",
        TD3,
    )
    """Dtype of the hidden layers in the update: float32, or bfloat16 (mixed precision: weights,
    gradients, optimiser state, output layers, acting and checkpoints stay float32)."""

    # --- HER ---
    her_strategy: str = option("future", "future, final, episode or none.", HER)
    """Relabelling strategy: future, final, episode, or none."""
    her_k: int = option(4, "Relabelled goals per real one.", HER)
    """Relabelled goals per real one: a fraction k/(k+1) of each batch is relabelled."""
    her_random_goals: float = option(
        0.0, "Share of relabelled goals that are another stored transition's goal (0: none).", HER
    )
    """Of the relabelled rows, this share takes as goal the desired goal of a uniformly random
    stored transition (a draw from the env's own goal distribution) instead of a goal the
    episode achieved: goals the agent has not reached yet, for coverage (Corrado & Hanna,
    2023, arXiv:2310.17786, `translate_goal`). 0: every relabelled goal is an achieved one."""
    augment_shift: float = option(
        0.0,
        "Translate replayed rows in the table plane by up to this many metres (0: off).",
        HER,
    )
    """A share (`augment_share`) of every replayed batch is moved in the table plane: gripper,
    objects and goal by one random (dx, dy) per row, each uniform in [-shift, shift] metres,
    a transition the env could have produced (Corrado & Hanna, 2023, arXiv:2310.17786;
    core/augment.py). End-effector-controlled panda-gym tasks and Fetch tasks. 0: off."""
    augment_share: float = option(
        0.5, "Share of replayed rows translated when --augment-shift > 0.", HER
    )
    """Share of each batch's rows that `augment_shift` translates; the rest stay as stored."""
    augment_reflect: float = option(
        0.0, "Share of replayed rows mirrored through the robot's vertical plane (0: off).", HER
    )
    """A share of every replayed batch is reflected through the vertical plane y = 0 that holds
    the robot's base: each y, y-velocity and the action's dy change sign, and the objects'
    roll, yaw and spins about x and z (core/augment.py), a transition of the mirrored scene;
    on Flip the x and z of the cube's and the goal's quaternions. End-effector-controlled
    panda-gym tasks. 0: off."""
    augment_faces: float = option(
        0.0, "Share of replayed PandaFlip rows whose cube faces are renamed (0: off).", HER
    )
    """A share of every replayed batch has its cube's faces renamed by one of the 24 turns that
    map the cube onto itself, drawn per row: the cube's and the goal's quaternions q become
    q·s (core/augment.py). Nothing in the scene moves and the reward is unchanged. The
    normalisers learn from stored episodes with the same share renamed. PandaFlip. 0: off."""
    n_step: int = option(1, "Transitions summed into each replayed return (1: one-step TD3).", HER)
    """Transitions summed into each replayed return (1: TD3's one-step target; more: an
    uncorrected n-step return on the row's HER goal, cut at a terminal or the episode's end)."""
    terminal_on_success: str = option(
        "auto",
        "Replayed transitions end where their goal is reached: auto (if the env ends "
        "episodes on success), on, off.",
        HER,
    )
    """A replayed transition is terminal when its (relabelled) goal is reached: on, off, or
    auto (on exactly when the env ends episodes on success, as panda-gym does)."""

    # --- exploration ---
    noise: str = option("ou", "Exploration noise: ou or gaussian.", EXPLORATION)
    """Exploration noise: ou (Ornstein-Uhlenbeck) or gaussian."""
    noise_sigma: float = option(0.2, "Exploration noise scale.", EXPLORATION)
    """Scale of the exploration noise, in action units ([-1, 1])."""
    ou_theta: float = 0.15
    """Mean reversion rate of the OU noise."""
    ou_dt: float = 1e-2
    """Time step of the OU noise."""
    random_steps: int = option(1000, "Initial env steps with uniform random actions.", EXPLORATION)
    """The first this many env steps take uniform random actions."""
    random_action_prob: float = option(
        0.0, "Probability of a uniform random exploratory step.", EXPLORATION
    )
    """After that, each exploratory step is uniform random with this probability (OpenAI HER)."""
    grasp_start: float = option(
        0.0,
        "Fraction of exploratory episodes starting with the object in the gripper "
        "(panda-gym PickAndPlace; Stack: the top cube).",
        EXPLORATION,
    )
    """Fraction of exploratory episodes that start with the object held in the gripper (the
    HER paper's pick-and-place trick; panda-gym tasks whose goal is their objects' positions
    and whose gripper opens: PickAndPlace, and Stack with its top cube held)."""
    near_goal_share: float = option(
        0.0,
        "Fraction of exploratory episodes whose goal is pulled toward the object's position "
        "or orientation (panda-gym Push, Slide, PickAndPlace, Stack, Flip).",
        EXPLORATION,
    )
    """Fraction of exploratory episodes whose goal is moved a uniformly drawn fraction of the
    way from what the object achieves at the start (its position, Stack's bottom cube for the
    tower's base, or Flip's orientation; envs/near_goal.py); easy goals mixed into hard ones."""
    tower_start: float = option(
        0.0,
        "Fraction of exploratory episodes starting with the bottom cube on its goal "
        "(panda-gym Stack).",
        EXPLORATION,
    )
    """Fraction of exploratory episodes that start with every goal object but the top one on its
    goal, the top one and the arm where the reset left them (envs/grasp.py): a partly built
    tower, the rung between a grasped start and the full task; about a quarter of them start
    solved. Drawn apart from --grasp-start, which wins when both are drawn."""
    touch_start: float = option(
        0.0,
        "Fraction of exploratory episodes starting with the closed fingertips on the cube's "
        "top (panda-gym Flip).",
        EXPLORATION,
    )
    """Fraction of exploratory episodes that start with the arm placed, fingers closed, so that
    the fingertips rest on the cube's top at a uniformly drawn point (envs/touch.py): pressing
    there near an edge and moving outward tips the cube, the motion Flip needs and exploration
    rarely makes."""
    start_fade: float = option(
        0.0,
        "The easier-start shares times 1 - F*s, s the latest epoch evaluation's success "
        "(0: fixed shares).",
        EXPLORATION,
    )
    """A curriculum on the easier starts (--grasp-start, --near-goal-share, --tower-start,
    --touch-start): the better the policy does from the env's own reset, the fewer episodes
    start easier; 0 keeps the shares fixed. With near goals, the mean goal distance grows with
    success."""

    # --- normalisation ---
    normalize: bool = option(True, "Normalise observations and goals.", EXPLORATION)
    """Normalise observations and goals with running mean/std."""
    clip_obs: float = 200.0
    """Raw observations and goals are clipped to +/- this before normalising."""
    clip_normalized: float = 5.0
    """Normalised values are clipped to +/- this."""
    normalize_goals_from: str = option(
        "episodes",
        "Goal statistics from stored episodes' goals (episodes) or HER's relabelled goals (her).",
        EXPLORATION,
    )
    """Goal statistics from each stored episode's desired and achieved goals (episodes), or
    from the goals HER relabels its transitions with (her, as OpenAI's HER)."""

    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Free-form notes carried into metadata (e.g. the preset name)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "env_modules", tuple(self.env_modules))
        _validate(self)

    @property
    def her_relabel_fraction(self) -> float:
        """Fraction of each batch whose goal is replaced by HER."""
        if self.her_strategy == "none":
            return 0.0
        return self.her_k / (self.her_k + 1.0)

    @property
    def knobs_at_gate(self) -> dict[str, float]:
        """The update's run-time values from the first epoch evaluation at the stop gate on."""
        l2 = self.action_l2 if self.gate_action_l2 == -1 else self.gate_action_l2
        return {"lr_scale": self.gate_lr_scale, "action_l2": l2}

    @property
    def stop_gate_success(self) -> float:
        """The success an epoch evaluation needs to count toward `stop_patience`."""
        if self.stop_check_count == 0:  # the epoch evaluations alone decide: the target
            return self.stop_at_success
        return min(self.stop_gate or self.stop_at_success, self.stop_at_success)

    @property
    def stop_check_count(self) -> int:
        """Episodes of the best-check stream that `stop_at_success` must hold on (0: none)."""
        return self.stop_check_episodes or self.best_eval_episodes

    def longest_epoch(self, episode_limit: int) -> int:
        """The env steps of an epoch whose every episode runs to `episode_limit` steps."""
        return self.cycles * self.episodes_per_cycle * episode_limit

    def epoch_fits_budget(self, env_steps: int, episode_limit: int) -> bool:
        """Whether one more epoch from `env_steps`, every episode at `episode_limit` steps,
        stays within `max_env_steps` (always, without one)."""
        budget = self.max_env_steps
        return not budget or env_steps + self.longest_epoch(episode_limit) <= budget

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        data["env_modules"] = list(self.env_modules)
        return data

    def to_json(self) -> str:
        """The config as pretty JSON."""
        return strict_json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config from `to_dict` output; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UsageError(f"unknown config keys: {', '.join(unknown)}")
        problem = config_problem(data)
        if problem:
            raise UsageError(problem)
        values = dict(data)
        for key in ("hidden", "env_modules"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@functools.cache
def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _is_json_value(value: Any, kind: Any) -> bool:
    """Whether a JSON value can be a field of type `kind` (a float field takes 3, a tuple field
    a list; true is no number)."""
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return isinstance(value, (list, tuple)) and all(_is_json_value(v, item) for v in value)
    if typing.get_origin(kind) is dict:
        return isinstance(value, dict)
    if kind is float:
        return is_float_value(value)
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def is_float_value(value: Any) -> bool:
    """A JSON number that a float holds: JSON integers can be of any length; true is none."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, float) or abs(value) <= sys.float_info.max


def is_count(value: Any, least: int = 1) -> bool:
    """A JSON integer from least to 2**63 - 1, which an int64 holds (JSON has integers of any
    length); true is none."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value < 2**63


def config_problem(data: dict[str, Any]) -> str | None:
    """Why a saved config's values (as JSON holds them) cannot be TrainConfig fields, e.g.
    "env_modules is 5, not a list of strings"; None if they can. Unknown keys are not checked."""
    types = _field_types()
    for name, value in data.items():
        if name in types and not _is_json_value(value, types[name]):
            return f"{name} is {json_text(value)}, not {_kind_text(types[name])}"
    return None


def _kind_text(kind: Any) -> str:
    """What a field of type `kind` takes in JSON: "a number", "a list of integers"."""
    if typing.get_origin(kind) is tuple:
        return "a list of " + {int: "integers"}.get(typing.get_args(kind)[0], "strings")
    if typing.get_origin(kind) is dict:
        return "an object"
    return {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "a string")


def json_text(value: Any, limit: int = 40) -> str:
    """A JSON value as a message shows it, cut to `limit` characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_flag(name: str) -> str:
    """The `td3her train` option of TrainConfig field `name`, e.g. `--near-goal-share`."""
    metadata = TrainConfig.__dataclass_fields__[name].metadata
    return metadata[OPTION].flag_of(name) if OPTION in metadata else _option(name)


def _validate(config: TrainConfig) -> None:
    def positive(name: str) -> None:
        value = getattr(config, name)
        if not value > 0:
            raise UsageError(f"{_option(name)} must be > 0, got {value}")

    def non_negative(name: str) -> None:
        value = getattr(config, name)
        if not value >= 0:
            raise UsageError(f"{_option(name)} must be >= 0, got {value}")

    def in_unit_interval(name: str) -> None:
        value = getattr(config, name)
        if not 0 < value <= 1:
            raise UsageError(f"{_option(name)} must be in (0, 1], got {value}")

    for each in dataclasses.fields(config):
        value = getattr(config, each.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{_option(each.name)} must be a finite number, got {value}")
    if not config.env_id:
        raise UsageError("--env must name a gymnasium env id, e.g. PandaReach-v3")
    for name in (
        "epochs",
        "cycles",
        "episodes_per_cycle",
        "eval_episodes",
        "num_envs",
        "batch_size",
        "buffer_size",
        "actor_lr",
        "critic_lr",
        "policy_delay",
        "n_step",
        "clip_obs",
        "clip_normalized",
        "ou_dt",
    ):
        positive(name)
    if config.num_envs > MAX_NUM_ENVS:
        raise UsageError(f"--num-envs must be at most {MAX_NUM_ENVS}, got {config.num_envs}")
    for name in (
        "optimization_steps",
        "env_steps_per_block",
        "best_eval_episodes",
        "stop_check_episodes",
        "target_noise",
        "target_noise_clip",
        "noise_sigma",
        "ou_theta",
        "random_steps",
        "her_k",
        "action_l2",
    ):
        non_negative(name)
    for name in ("gamma", "tau"):
        in_unit_interval(name)
    if config.critics < 2:
        raise UsageError(f"--critics must be >= 2, got {config.critics}")
    if not 1 <= config.target_critics <= config.critics:
        raise UsageError(
            f"--target-critics must be in [1, --critics ({config.critics})], "
            f"got {config.target_critics}"
        )
    if not 0 <= config.stop_at_success <= 1:
        raise UsageError(f"--stop-at-success must be in [0, 1], got {config.stop_at_success}")
    if not 0 <= config.policy_average <= 1:
        raise UsageError(f"--policy-average must be in [0, 1], got {config.policy_average}")
    if not 0 < config.gate_lr_scale <= 1:
        raise UsageError(f"--gate-lr-scale must be in (0, 1], got {config.gate_lr_scale}")
    if config.gate_action_l2 < 0 and config.gate_action_l2 != -1:
        raise UsageError(
            f"--gate-action-l2 must be >= 0, or -1 for --action-l2, got {config.gate_action_l2}"
        )
    for name, unchanged in (("gate_lr_scale", 1.0), ("gate_action_l2", -1.0)):
        if getattr(config, name) != unchanged and config.stop_at_success == 0:
            raise UsageError(f"{_option(name)} needs a stop gate: set --stop-at-success")
    if not 0 <= config.stop_gate <= 1:
        raise UsageError(f"--stop-gate must be in [0, 1], got {config.stop_gate}")
    if config.stop_patience < 1:
        raise UsageError(f"--stop-patience must be >= 1, got {config.stop_patience}")
    if not 0 <= config.random_action_prob <= 1:
        raise UsageError(f"--random-action-prob must be in [0, 1], got {config.random_action_prob}")
    for name in START_SHARE_FIELDS:
        if not 0 <= getattr(config, name) <= 1:
            raise UsageError(f"{_option(name)} must be in [0, 1], got {getattr(config, name)}")
    if config.max_env_steps < 0:
        raise UsageError(f"--max-env-steps must be >= 0 (0: no limit), got {config.max_env_steps}")
    if not 0 <= config.start_fade <= 1:
        raise UsageError(f"--start-fade must be in [0, 1], got {config.start_fade}")
    if config.start_fade > 0 and not any(getattr(config, name) for name in START_SHARE_FIELDS):
        raise UsageError(
            "--start-fade needs an easier start to fade: set --grasp-start, --near-goal-share, "
            "--tower-start or --touch-start"
        )
    if not 0 <= config.her_random_goals <= 1:
        raise UsageError(f"--her-random-goals must be in [0, 1], got {config.her_random_goals}")
    if config.augment_shift < 0:
        raise UsageError(f"--augment-shift must be >= 0 (metres), got {config.augment_shift}")
    if not 0 <= config.augment_share <= 1:
        raise UsageError(f"--augment-share must be in [0, 1], got {config.augment_share}")
    if not 0 <= config.augment_reflect <= 1:
        raise UsageError(f"--augment-reflect must be in [0, 1], got {config.augment_reflect}")
    if not 0 <= config.augment_faces <= 1:
        raise UsageError(f"--augment-faces must be in [0, 1], got {config.augment_faces}")
    if config.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {config.seed}")
    if config.batch_size > config.buffer_size:
        raise UsageError(
            f"--batch-size ({config.batch_size}) is larger than --buffer-size "
            f"({config.buffer_size}); lower the batch or raise the buffer"
        )
    if config.her_strategy not in HER_STRATEGIES:
        raise UsageError(
            f"--her-strategy must be one of {', '.join(HER_STRATEGIES)}, "
            f"got {config.her_strategy!r}"
        )
    if config.terminal_on_success not in TERMINAL_MODES:
        raise UsageError(
            f"--terminal-on-success must be one of {', '.join(TERMINAL_MODES)}, "
            f"got {config.terminal_on_success!r}"
        )
    if config.normalize_goals_from not in GOAL_STATISTICS:
        raise UsageError(
            f"--normalize-goals-from must be one of {', '.join(GOAL_STATISTICS)}, "
            f"got {config.normalize_goals_from!r}"
        )
    if config.precision not in PRECISIONS:
        raise UsageError(
            f"--precision must be one of {', '.join(PRECISIONS)}, got {config.precision!r}"
        )
    if config.quantiles < 0:
        raise UsageError(f"--quantiles must be >= 0, got {config.quantiles}")
    if config.quantiles:
        if not 0 <= config.drop_quantiles < config.quantiles:
            raise UsageError(
                f"--drop-quantiles must be in [0, --quantiles ({config.quantiles})), "
                f"got {config.drop_quantiles}"
            )
        if config.crossq:
            raise UsageError("--quantiles (TQC) and --crossq are two critics' designs: pick one")
        if config.target_critics != config.critics:
            raise UsageError("--quantiles (TQC) pools every target critic: drop --target-critics")
    if config.crossq and config.precision != "float32":
        raise UsageError("--crossq runs its critics in float32: drop --precision")
    if config.noise not in NOISE_KINDS:
        raise UsageError(f"--noise must be one of {', '.join(NOISE_KINDS)}, got {config.noise!r}")
    if not config.hidden or any(h <= 0 for h in config.hidden):
        raise UsageError(f"--hidden widths must be positive integers, got {config.hidden}")
