"""Goal-conditioned env creation and checks, float32 at the boundary, per-episode seeds."""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Callable

import numpy as np

from td3her_cli.core.spec import EnvSpec
from td3her_cli.errors import EnvCrashError, EnvError, NotAGoalEnvError, Td3HerError, one_line
from td3her_cli.quiet import quiet_native_output

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")
OUT_OF_BOUNDS_OBSERVATION = r".*obs returned by the `(reset|step)\(\)` method is not within"
"""gymnasium's env checker's warning when an observation leaves the space's bounds. panda-gym
declares every observation within +-10, but its cubes can spin faster than 10 rad/s (Stack and
PickAndPlace, more often when an episode starts grasped); td3her normalises observations from
running statistics and never reads those bounds, so for panda-gym the warning is noise."""
CAUSE_CHARS = 300  # longest cause an error line quotes from an env or env module

RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def import_env_modules(modules: tuple[str, ...] = ()) -> None:
    """Import panda_gym and any extra modules that register gymnasium envs.

    Like `python -m`, the current directory is searched too, so a local module works.
    """
    if modules:
        _search_current_directory()
    with quiet_native_output():
        for name in ("panda_gym", *modules):
            try:
                importlib.import_module(name)
            except ImportError as exc:
                raise EnvError(
                    f"cannot import env module {name!r} ({exc}); install it or fix --env-module"
                ) from None
            except Exception as exc:  # noqa: BLE001 - the module's own bug, named in one line
                raise EnvError(
                    f"env module {name!r} raised {one_line(exc, CAUSE_CHARS)} while being "
                    "imported; fix the module or drop --env-module"
                ) from exc
            except SystemExit as exc:  # a module that exits must not end td3her silently
                raise EnvError(
                    f"env module {name!r} called sys.exit({exc.code!r}) while being imported; "
                    "fix the module or drop --env-module"
                ) from None
    _supply_missing_panda_texture()


def _search_current_directory() -> None:
    """Let imports find modules in the current directory, as `python -m` does."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())


def _supply_missing_panda_texture() -> None:
    """panda-gym 3.0.7's wheel lacks assets/colored_cube.png, so every Flip env fails with
    'Error loading texture' (qgallouedec/panda-gym#71). Textures are its only assets: when
    that file is missing, point panda-gym at td3her's own copy of a cube texture."""
    import panda_gym.assets

    if os.path.exists(os.path.join(panda_gym.assets.get_data_path(), "colored_cube.png")):
        return
    ours = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets")
    panda_gym.assets.get_data_path = lambda: ours


def make_env(env_id: str, render_mode: str | None = None, **kwargs):
    """Create a gymnasium goal env, silencing PyBullet's stdout chatter, and check its API.

    Envs that would carry simulator state from one episode into the next get a fresh scene
    at each reset (FreshSimulationOnReset), so an episode depends only on its seed and actions.
    """
    env = _make_goal_env(env_id, render_mode, **kwargs)
    if keeps_state_across_resets(env):
        env = FreshSimulationOnReset(env, lambda: _make_goal_env(env_id, render_mode, **kwargs))
    return NamedCrashes(env, env_id)


def _make_goal_env(env_id: str, render_mode: str | None = None, **kwargs):
    import gymnasium as gym

    import_env_modules()
    if ":" in env_id:  # gymnasium's "module:EnvId" imports module: local as for --env-module
        _search_current_directory()
    try:
        with quiet_native_output():
            if render_mode is not None:
                kwargs["render_mode"] = render_mode
            env = gym.make(env_id, **kwargs)
    except (gym.error.NameNotFound, gym.error.VersionNotFound, gym.error.NamespaceNotFound) as exc:
        raise EnvError(
            f"unknown env {env_id!r} ({exc.__class__.__name__}); "
            "run `td3her envs` or check the id, e.g. PandaReach-v3; an env another package "
            "registers needs --env-module PACKAGE (Fetch: gymnasium_robotics)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the env's constructor failed: name it and why
        raise EnvError(f"cannot create env {env_id!r}: {one_line(exc, CAUSE_CHARS)}") from exc
    try:
        check_goal_env(env, env_id)
    except EnvError:
        env.close()
        raise
    if is_panda_gym(env):
        warnings.filterwarnings("ignore", message=OUT_OF_BOUNDS_OBSERVATION)
        _mend_flip(env.unwrapped)
    return env


def _mend_flip(unwrapped) -> None:
    """Mends to panda-gym 3.0.7's Flip, the same task otherwise:
    - it draws its goal with scipy's Rotation.random() from numpy's global generator, so
      reset(seed=...) does not fix it: draw it (the same uniform random rotation) from the
      task's own generator, which reset(seed=...) seeds, as the other tasks do;
    - half its goal quaternions have w < 0, the other sign of the same orientation, where the
      cube's own (PyBullet's, from upright) has w > 0 until it turns past half a turn: write
      each goal with w >= 0 (success and reward ignore the sign);
    - its angle_distance takes np.inner of two batches ([B, B]), so relabelled rewards took one
      call per row: give its reward and success the row-wise distance, one call per batch."""
    from panda_gym.envs.tasks.flip import Flip
    from scipy.spatial.transform import Rotation

    task = unwrapped.task
    if not isinstance(task, Flip):
        return
    task._sample_goal = lambda: Rotation.random(rng=task.np_random).as_quat(canonical=True)

    def distance(achieved, desired) -> np.ndarray:
        """panda-gym's 1 - <a, d>^2, row by row."""
        return 1 - np.sum(np.asarray(achieved) * np.asarray(desired), axis=-1) ** 2

    def is_success(achieved, desired) -> np.ndarray:
        return np.array(distance(achieved, desired) < task.distance_threshold, dtype=bool)

    def compute_reward(achieved, desired, info=None) -> np.ndarray:
        d = distance(achieved, desired)
        if task.reward_type == "sparse":
            return -np.array(d > task.distance_threshold, dtype=np.float32)
        return -d.astype(np.float32)

    task.is_success, task.compute_reward = is_success, compute_reward
    unwrapped.compute_reward = compute_reward  # the env bound the task's at construction


def is_panda_gym(env) -> bool:
    """Whether env (or what it wraps) is one of panda-gym's tasks."""
    return type(env.unwrapped).__module__.startswith("panda_gym")


def keeps_state_across_resets(env) -> bool:
    """panda-gym tasks with objects (Push, Slide, PickAndPlace, Stack, Flip).

    Their reset() teleports the objects, but PyBullet keeps contact state from earlier
    episodes: a used env and a fresh one, given the same seed and actions, drift apart (by
    ~5e-3 in object velocity on Push within a step; saveState/restoreState does not help).
    Reach has no object and is exactly reproducible.
    """
    task = getattr(env.unwrapped, "task", None)
    if task is None or not is_panda_gym(env):
        return False
    return np.asarray(task.get_obs()).size > 0


def rebuild_scene(env) -> None:
    """Replace every body of a panda-gym env but the robot with a newly created one.

    The contact state PyBullet carries across resets belongs to the scene's bodies (objects,
    table, plane): with them re-created, the next episode is bit for bit a fresh env's
    (tests/test_envs.py), for ~2 ms instead of ~135 ms to rebuild the whole simulation
    (loading the robot's URDF is what costs).
    """
    unwrapped = env.unwrapped
    sim = unwrapped.sim
    robot = unwrapped.robot.body_name
    for name, body in list(sim._bodies_idx.items()):
        if name != robot:
            sim.physics_client.removeBody(body)
            del sim._bodies_idx[name]
    with sim.no_rendering():
        unwrapped.task._create_scene()


class FreshSimulationOnReset:
    """A gymnasium env wrapper that gives every reset but the first a fresh scene, so an
    episode is a function of its seed and actions only.

    Each reset re-creates the scene's bodies (rebuild_scene); every `full_rebuild_every`
    resets the whole simulation is built again instead, which bounds what re-created bodies
    leave behind in PyBullet (PandaFlip's cube texture: ~85 KB each). Reward and success
    functions taken from the first env stay valid after it is closed: panda-gym's
    compute_reward and is_success are pure functions of the goals.
    """

    def __init__(self, env, rebuild: Callable[[], object], full_rebuild_every: int = 500) -> None:
        self.env = env
        self._rebuild = rebuild
        self.full_rebuild_every = full_rebuild_every
        self._resets = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset from a fresh scene (the first reset uses the one built)."""
        if self._resets > 0 and self._resets % self.full_rebuild_every == 0:
            self.env.close()
            self.env = self._rebuild()
        elif self._resets > 0:
            rebuild_scene(self.env)
        self._resets += 1
        return self.env.reset(seed=seed, options=options)

    def __getattr__(self, name: str):
        return getattr(self.env, name)


class NamedCrashes:
    """A gymnasium env proxy: an exception raised inside the env's reset() or step() becomes
    an EnvCrashError naming the env, the call and the cause (the original stays its cause)."""

    def __init__(self, env, env_id: str) -> None:
        self.env = env
        self.env_id = env_id

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """env.reset, with a crash named."""
        try:
            return self.env.reset(seed=seed, options=options)
        except Td3HerError:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug inside the env
            raise EnvCrashError(self._message("reset", exc, seed)) from exc

    def step(self, action):
        """env.step, with a crash named."""
        try:
            return self.env.step(action)
        except Td3HerError:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug inside the env
            raise EnvCrashError(self._message("step", exc)) from exc

    def _message(self, call: str, exc: Exception, seed: int | None = None) -> str:
        where = f" (episode seed {seed})" if seed is not None else ""
        return f"env {self.env_id} crashed in {call}(){where}: {one_line(exc, CAUSE_CHARS)}"

    def __getattr__(self, name: str):
        return getattr(self.env, name)


def check_goal_env(env, env_id: str) -> None:
    """Raise EnvError unless env has a Dict observation with goal keys and compute_reward."""
    from gymnasium import spaces

    obs_space = env.observation_space
    if not isinstance(obs_space, spaces.Dict) or not all(k in obs_space.spaces for k in GOAL_KEYS):
        raise NotAGoalEnvError(
            f"{env_id} is not a goal-conditioned env: its observation must be a Dict with "
            f"keys {', '.join(GOAL_KEYS)}; use a goal env such as PandaReach-v3"
        )
    for key in GOAL_KEYS:
        space = obs_space.spaces[key]
        if not isinstance(space, spaces.Box) or space.shape is None:
            raise NotAGoalEnvError(
                f"{env_id}'s {key} is a {type(space).__name__} space; td3her needs float "
                "vectors (Box spaces) for the observation and both goals"
            )
    if not callable(getattr(env.unwrapped, "compute_reward", None)):
        raise NotAGoalEnvError(f"{env_id} has no compute_reward(achieved_goal, desired_goal, info)")
    if not isinstance(env.action_space, spaces.Box):
        raise NotAGoalEnvError(f"{env_id} needs a continuous (Box) action space for TD3")


def reward_function(env) -> RewardFn:
    """Vectorised reward of (achieved_goal [B, G], desired_goal [B, G]) -> [B] float32."""
    compute_reward = env.unwrapped.compute_reward
    return batched_goal_function(
        lambda achieved, desired: compute_reward(achieved, desired, {}),
        env.observation_space["desired_goal"].shape,
    )


def batched_goal_function(goal_fn, goal_shape: tuple[int, ...]) -> RewardFn:
    """goal_fn(achieved, desired) over a batch: [B, G], [B, G] -> [B] float32.

    goal_fn is called once on the whole batch when it is vectorised. Functions that are not
    (probed here against row-by-row calls; e.g. PandaFlip's compute_reward and is_success in
    panda-gym 3.0.7, whose angle_distance uses np.inner and returns [B, B]) fall back to one
    call per row.
    """

    def batched(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        return np.asarray(goal_fn(achieved_goal, desired_goal), dtype=np.float32)

    def row_by_row(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        values = [goal_fn(a, d) for a, d in zip(achieved_goal, desired_goal)]
        return np.asarray(values, dtype=np.float32).reshape(-1)

    rng = np.random.default_rng(0)
    achieved = rng.uniform(-1.0, 1.0, (5, *goal_shape)).astype(np.float32)
    desired = achieved.copy()
    desired[1:] += rng.normal(0.0, 0.5, desired[1:].shape).astype(np.float32)
    try:
        probe = batched(achieved, desired)
        vectorised = probe.shape == (5,) and np.allclose(probe, row_by_row(achieved, desired))
    except Exception:  # noqa: BLE001 - any failure on a batch means: not vectorised
        vectorised = False
    return batched if vectorised else row_by_row


def success_function(env, reward_bounds: tuple[float, float] | None) -> RewardFn | None:
    """Batched success (1.0) or not (0.0) of (achieved_goal, desired_goal), or None if unknown.

    panda-gym tasks have is_success (the very test their step() terminates on); other goal
    envs with a sparse reward (`reward_bounds`, as describe_env probed them) succeed exactly
    when the reward takes its top value.
    """
    goal_shape = env.observation_space["desired_goal"].shape
    is_success = getattr(getattr(env.unwrapped, "task", None), "is_success", None)
    if callable(is_success):
        return batched_goal_function(is_success, goal_shape)
    if reward_bounds is None:
        return None
    reward = reward_function(env)
    top = reward_bounds[1]
    return lambda achieved, desired: (reward(achieved, desired) == top).astype(np.float32)


def probe_terminates_on_success(env) -> bool:
    """Whether the env ends an episode as soon as its goal is reached.

    panda-gym v3's step() sets terminated = task.is_success(...); gymnasium-robotics envs say
    it with compute_terminated(achieved, desired, info), probed here with a reached goal.
    """
    unwrapped = env.unwrapped
    compute_terminated = getattr(unwrapped, "compute_terminated", None)
    if callable(compute_terminated):
        goal = np.zeros(env.observation_space["desired_goal"].shape, np.float32)
        try:
            return bool(np.all(compute_terminated(goal, goal, {})))
        except Exception:  # noqa: BLE001 - an env that cannot answer does not terminate
            return False
    task = getattr(unwrapped, "task", None)
    return callable(getattr(task, "is_success", None)) and is_panda_gym(unwrapped)


def describe_env(env, env_id: str, seed: int = 0) -> EnvSpec:
    """Read dims and bounds off a checked goal env, and probe whether its reward is sparse."""
    obs_space = env.observation_space
    max_steps = env.spec.max_episode_steps if env.spec is not None else None
    return EnvSpec(
        env_id=env_id,
        obs_dim=int(np.prod(obs_space["observation"].shape)),
        goal_dim=int(np.prod(obs_space["desired_goal"].shape)),
        action_dim=int(np.prod(env.action_space.shape)),
        action_low=tuple(float(x) for x in np.ravel(env.action_space.low)),
        action_high=tuple(float(x) for x in np.ravel(env.action_space.high)),
        max_episode_steps=max_steps,
        reward_bounds=probe_reward_bounds(env, seed),
        terminates_on_success=probe_terminates_on_success(env),
    )


def probe_reward_bounds(env, seed: int = 0) -> tuple[float, float] | None:
    """(min, max) of the reward if compute_reward takes exactly two values, else None.

    Sparse goal rewards ({-1, 0} in panda-gym) bound the return, so the TD target can be
    clipped to [min/(1-gamma), max/(1-gamma)]; dense rewards (-distance) have no such bound.
    We probe goal pairs at distances from 0 to far apart rather than trusting env names.
    """
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    achieved = np.asarray(obs["achieved_goal"], dtype=np.float64).ravel()
    scales = np.repeat([0.0, 1e-3, 1e-2, 3e-2, 1e-1, 0.3, 1.0, 3.0], 32)[:, None]
    desired = achieved + scales * rng.standard_normal((scales.shape[0], achieved.size))
    achieved_batch = np.broadcast_to(achieved, desired.shape).copy()
    rewards = reward_function(env)(achieved_batch.astype(np.float32), desired.astype(np.float32))
    values = np.unique(np.round(rewards, 6))
    if values.size != 2:
        return None
    return float(values.min()), float(values.max())


def episode_seed(run_seed: int, stream: int, index: int) -> int:
    """A reproducible 31-bit env seed for episode `index` of `stream` (0 train, 1 eval, ...)."""
    return int(np.random.SeedSequence([run_seed, stream, index]).generate_state(1)[0] >> 1)


def split_observation(obs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(observation, achieved_goal, desired_goal) as flat float32 arrays."""
    return tuple(np.asarray(obs[k], dtype=np.float32).reshape(-1) for k in GOAL_KEYS)


def list_goal_envs(
    modules: tuple[str, ...] = (), probe_all: bool = False
) -> tuple[list[EnvSpec], list[tuple[str, str]]]:
    """Specs of the registered goal envs (panda-gym's and those the given modules register),
    and (env id, reason) for each env that could not be created.

    With probe_all, every registered id is tried (slow). Envs that are made but are not
    goal-conditioned are left out of both lists.
    """
    import gymnasium as gym

    import_env_modules(modules)

    def defined_in(entry_point, prefixes: tuple[str, ...]) -> bool:
        name = (
            entry_point if isinstance(entry_point, str) else getattr(entry_point, "__module__", "")
        )
        return str(name).startswith(prefixes)

    prefixes = ("panda_gym", *modules)
    candidates = [
        env_id
        for env_id, entry in gym.registry.items()
        if probe_all or defined_in(entry.entry_point, prefixes)
    ]
    specs, failures = [], []
    for env_id in sorted(candidates):
        with warnings.catch_warnings():  # "env X is out of date" for every old version
            warnings.simplefilter("ignore")
            spec, reason = _probe(env_id)
        if spec is not None:
            specs.append(spec)
        elif reason is not None:
            failures.append((env_id, reason))
    return specs, failures


def _probe(env_id: str) -> tuple[EnvSpec | None, str | None]:
    """(spec, None) for a goal env, (None, reason) for one that fails, (None, None) otherwise."""

    def reason(exc: Exception) -> str:
        return str(exc) if isinstance(exc, EnvError) else one_line(exc, CAUSE_CHARS)

    try:
        env = make_env(env_id)
    except NotAGoalEnvError:
        return None, None
    except Exception as exc:  # noqa: BLE001 - listed with its reason
        return None, reason(exc)
    try:
        return describe_env(env, env_id), None
    except Exception as exc:  # noqa: BLE001 - made, but not usable: listed with its reason
        return None, reason(exc)
    finally:
        env.close()
