"""Episode replay storage with vectorised Hindsight Experience Replay sampling.

HER (Andrychowicz et al., 2017, arXiv:1707.01495, section 3.3 and appendix A): a fraction
k/(k+1) of every batch has its goal replaced by a goal achieved in the same episode, and its
reward recomputed with the env's compute_reward for that goal. With `random_goals` > 0, that
share of the relabelled rows takes instead the desired goal of a random stored transition, a
goal from the env's own distribution that the episode need not have reached (Corrado & Hanna,
2023, arXiv:2310.17786, `translate_goal`: coverage of the goal space).

Storage is one ring of transitions with capacity counted in transitions. Episodes of any length
are stored whole and contiguous (no padding); an episode that does not fit before the end of
the ring starts again at index 0, and older episodes it overlaps are dropped whole, so a goal is
never taken from another episode.

Termination: the env's stored `terminated` flag belongs to the *original* goal, so it is wrong
for a relabelled one. With a `terminal_fn` (an env that ends episodes on success, such as
panda-gym v3), `done` is recomputed for the batch's goal, exactly as the reward is: a transition
is terminal when its next achieved goal reaches the goal it is trained for. Without one, `done`
is 0 (bootstrap through everything, as OpenAI's HER does on Fetch, which never terminates). A
time-limit truncation is never a terminal.

n-step returns (`n_step` > 1): a row sums the rewards of up to n consecutive transitions of its
episode (recomputed for the row's goal where HER relabelled it, the env's own otherwise) and
bootstraps from the state after the last of them with `discount` = gamma^m, m the transitions
summed. The sum stops early at a terminal (done = 1) or at the episode's last stored transition
(a time limit: bootstrap). The later transitions' actions came from an older policy and were not
chosen for a relabelled goal, so the return is biased towards the behaviour policy (uncorrected
n-step, as in Yang et al. 2021, arXiv:2102.12962, "MHER"): small n trades that bias for faster
reward propagation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Batch(NamedTuple):
    """A batch of transitions, all float32. Shapes: [B, obs], [B, goal], [B, act], [B].

    The TD target is reward + discount * (1 - done) * Q'(next_observation): discount is gamma
    for one-step rows, gamma^m for an m-step return.
    """

    observation: np.ndarray
    desired_goal: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_observation: np.ndarray
    done: np.ndarray
    discount: np.ndarray


class Episode(NamedTuple):
    """One collected episode of T steps (T varies: panda-gym ends episodes on success)."""

    observation: np.ndarray  # [T + 1, obs]
    achieved_goal: np.ndarray  # [T + 1, goal]
    desired_goal: np.ndarray  # [T, goal]
    action: np.ndarray  # [T, act], agent units in [-1, 1]
    reward: np.ndarray  # [T]
    terminated: np.ndarray  # [T] bool, as the env reported it
    success: bool  # info["is_success"] at the last step

    @property
    def length(self) -> int:
        """Number of transitions T."""
        return int(self.action.shape[0])


class HerSample(NamedTuple):
    """Where each batch row came from: transition index, goal source index, relabelled flag."""

    transition: np.ndarray  # [B] int
    goal_source: np.ndarray  # [B] int, index whose next achieved goal became the goal
    relabelled: np.ndarray  # [B] bool
    random_goal: np.ndarray  # [B] bool: the goal is goal_source's desired goal (random_goals)


class HerReplayBuffer:
    """Whole-episode transition storage with `future` / `final` / `episode` HER sampling."""

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        goal_dim: int,
        action_dim: int,
        reward_fn: RewardFn,
        strategy: str = "future",
        her_k: int = 4,
        terminal_fn: RewardFn | None = None,
        *,
        gamma: float,
        n_step: int = 1,
        random_goals: float = 0.0,
    ) -> None:
        self.capacity = capacity
        self.random_goals = random_goals
        self.gamma = gamma
        self.n_step = n_step
        self.reward_fn = reward_fn
        self.terminal_fn = terminal_fn
        self.strategy = strategy
        self.relabel_fraction = 0.0 if strategy == "none" else her_k / (her_k + 1.0)
        f32 = np.float32
        # np.zeros maps pages lazily: memory grows with what is stored, not with capacity.
        self.observation = np.zeros((capacity, obs_dim), f32)
        self.next_observation = np.zeros((capacity, obs_dim), f32)
        self.action = np.zeros((capacity, action_dim), f32)
        self.reward = np.zeros(capacity, f32)
        self.desired_goal = np.zeros((capacity, goal_dim), f32)
        self.next_achieved_goal = np.zeros((capacity, goal_dim), f32)
        self.episode_start = np.zeros(capacity, np.int32)  # first index of the episode
        self.episode_end = np.zeros(capacity, np.int32)  # one past its last index
        self.valid = np.zeros(capacity, bool)
        self.position = 0  # where the next episode is written
        self.high_water = 0  # one past the highest index ever written
        self.size = 0  # number of valid transitions
        self.episodes_added = 0

    def add(self, episode: Episode) -> None:
        """Store a whole episode, dropping the oldest episodes it overwrites."""
        length = episode.length
        if length == 0:
            return
        if length > self.capacity:
            raise ValueError(f"episode of {length} steps exceeds buffer capacity {self.capacity}")
        if self.position + length > self.capacity:
            self._invalidate(self.position, self.capacity)  # tail too short: wrap to 0
            self.position = 0
        start, end = self.position, self.position + length
        # The oldest episode overlapping [start, end) may run past `end`: drop its remainder.
        if self.valid[end - 1]:
            self._invalidate(end, int(self.episode_end[end - 1]))
        self._invalidate(start, end)
        self.observation[start:end] = episode.observation[:-1]
        self.next_observation[start:end] = episode.observation[1:]
        self.action[start:end] = episode.action
        self.reward[start:end] = episode.reward
        self.desired_goal[start:end] = episode.desired_goal
        self.next_achieved_goal[start:end] = episode.achieved_goal[1:]
        self.episode_start[start:end] = start
        self.episode_end[start:end] = end
        self.valid[start:end] = True
        self.size += length
        self.position = end
        self.high_water = max(self.high_water, end)
        self.episodes_added += 1

    def _invalidate(self, start: int, end: int) -> None:
        if end > start:
            self.size -= int(self.valid[start:end].sum())
            self.valid[start:end] = False

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> HerSample:
        """Choose transitions uniformly and, for a k/(k+1) fraction, a hindsight goal source."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self._relabel(self._stored_transitions(batch_size, rng), rng)

    def _stored_transitions(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` indices drawn uniformly from the stored transitions ([count] int)."""
        transition = rng.integers(0, self.high_water, count)
        invalid = ~self.valid[transition]
        while invalid.any():  # rejection: invalid slots are at most a few episodes' worth
            transition[invalid] = rng.integers(0, self.high_water, int(invalid.sum()))
            invalid = ~self.valid[transition]
        return transition

    def _relabel(self, transition: np.ndarray, rng: np.random.Generator) -> HerSample:
        """For a k/(k+1) fraction of the given transitions, a hindsight goal source."""
        count = transition.shape[0]
        start = self.episode_start[transition]
        end = self.episode_end[transition]
        if self.strategy == "future":
            # Worked example: t = 7 in an episode [5, 12): offsets 0..4, sources 7..11, i.e. the
            # achieved goals after steps 7..11 -- never one from before the transition.
            goal_source = transition + (rng.random(count) * (end - transition)).astype(int)
        elif self.strategy == "final":
            goal_source = end - 1
        else:  # "episode" (and "none", where nothing is relabelled)
            goal_source = start + (rng.random(count) * (end - start)).astype(int)
        relabelled = rng.random(count) < self.relabel_fraction
        goal_source = np.where(relabelled, goal_source, transition)
        random_goal = np.zeros(count, bool)
        if self.random_goals > 0:  # no draws otherwise: the default's random stream is unchanged
            random_goal = relabelled & (rng.random(count) < self.random_goals)
            goal_source[random_goal] = self._stored_transitions(int(random_goal.sum()), rng)
        return HerSample(transition, goal_source, relabelled, random_goal)

    def newest_episode_goals(self, rng: np.random.Generator) -> np.ndarray:
        """The goals HER would train the newest episode's transitions on: one per transition,
        relabelled with the buffer's strategy and fraction ([T, goal]; OpenAI HER feeds these
        to the goal normaliser)."""
        start = int(self.episode_start[self.position - 1])
        transition = np.arange(start, self.position)
        return self._goals(self._relabel(transition, rng))

    def _goals(self, sample: HerSample) -> np.ndarray:
        """Each row's goal: the relabelled one where HER chose one, else the stored goal."""
        goal = np.where(
            sample.relabelled[:, None],
            self.next_achieved_goal[sample.goal_source],
            self.desired_goal[sample.transition],
        )  # [B, goal]
        if sample.random_goal.any():
            goal[sample.random_goal] = self.desired_goal[sample.goal_source[sample.random_goal]]
        return goal

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """A training batch with HER goals, recomputed rewards and done (see module doc)."""
        sample = self.sample_indices(batch_size, rng)
        if self.n_step > 1:
            return self._n_step_batch(sample)
        transition, relabelled = sample.transition, sample.relabelled
        goal = self._goals(sample)  # [B, goal]
        reward = self.reward[transition].copy()  # [B]
        next_achieved_goal = self.next_achieved_goal[transition]  # [B, goal]
        if relabelled.any():
            reward[relabelled] = self.reward_fn(next_achieved_goal[relabelled], goal[relabelled])
        if self.terminal_fn is None:
            done = np.zeros(batch_size, np.float32)
        else:
            done = self.terminal_fn(next_achieved_goal, goal)  # [B] 1.0 where goal reached
        discount = np.full(batch_size, self.gamma)
        return self._batch(transition, goal, reward, transition, done, discount)

    def _batch(self, transition, goal, reward, last, done, discount) -> Batch:
        """The float32 Batch of rows starting at `transition` and bootstrapping after `last`."""
        return Batch(
            observation=self.observation[transition],
            desired_goal=goal.astype(np.float32),
            action=self.action[transition],
            reward=np.asarray(reward, np.float32),
            next_observation=self.next_observation[last],
            done=np.asarray(done, np.float32),
            discount=np.asarray(discount, np.float32),
        )

    def _n_step_batch(self, sample: HerSample) -> Batch:
        """Rows of up to n_step transitions each, for the rows' HER goals (see module doc)."""
        # Worked example, n = 3, an episode [5, 12): a row at t = 7 whose goal is reached after
        # step 8 sums r7 + gamma r8 and is done (discount gamma^2, nothing bootstrapped); a row
        # at t = 10 sums r10 + gamma r11 and bootstraps from the state after step 11 with
        # gamma^2 (the episode's last stored transition: a time limit, not a terminal).
        transition, relabelled = sample.transition, sample.relabelled
        goal = self._goals(sample)  # [B, goal]
        end = self.episode_end[transition]  # [B]
        count = transition.shape[0]
        reward = np.zeros(count)  # [B], summed in float64
        discount = np.ones(count)  # [B], gamma^(transitions summed so far)
        done = np.zeros(count)  # [B]
        last = transition.copy()  # [B], the last transition summed
        going = np.ones(count, bool)  # [B], not yet cut by a terminal or the episode's end
        for offset in range(self.n_step):  # n is small; each pass is vectorised over the batch
            going &= transition + offset < end
            rows = np.flatnonzero(going)  # [R]
            index = transition[rows] + offset  # [R]
            achieved = self.next_achieved_goal[index]  # [R, goal]
            row_goal = goal[rows]  # [R, goal]
            step_reward = self.reward[index].astype(np.float64)  # the env's, for original goals
            her = relabelled[rows]
            if her.any():
                step_reward[her] = self.reward_fn(achieved[her], row_goal[her])
            reward[rows] += discount[rows] * step_reward
            discount[rows] *= self.gamma
            last[rows] = index
            if self.terminal_fn is not None:
                step_done = np.asarray(self.terminal_fn(achieved, row_goal), np.float64)
                done[rows] = step_done
                going[rows] = step_done == 0
        return self._batch(transition, goal, reward, last, done, discount)

    def sample_stacked(self, steps: int, batch_size: int, rng: np.random.Generator) -> Batch:
        """`steps` independent batches in one draw, stacked: every field is [steps, B, ...]."""
        flat = self.sample(steps * batch_size, rng)
        return Batch(*(field.reshape(steps, batch_size, *field.shape[1:]) for field in flat))

    _ARRAYS = (
        "observation",
        "next_observation",
        "action",
        "reward",
        "desired_goal",
        "next_achieved_goal",
        "episode_start",
        "episode_end",
        "valid",
    )

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The stored part of the buffer as plain arrays (for an .npz file; no pickle)."""
        used = self.high_water
        arrays = {name: getattr(self, name)[:used] for name in self._ARRAYS}
        counters = [self.capacity, self.position, self.high_water, self.size, self.episodes_added]
        arrays["counters"] = np.array(counters, np.int64)
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what state_arrays returned (the capacity must match)."""
        capacity, position, high_water, size, episodes = (int(v) for v in arrays["counters"])
        if capacity != self.capacity:
            raise ValueError(f"saved buffer capacity {capacity} != {self.capacity}")
        for name in self._ARRAYS:
            getattr(self, name)[:high_water] = arrays[name]
        self.position, self.high_water, self.size = position, high_water, size
        self.episodes_added = episodes

    @property
    def nbytes(self) -> int:
        """Bytes of storage at full capacity."""
        return sum(getattr(self, name).nbytes for name in self._ARRAYS)
