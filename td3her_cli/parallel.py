"""Parallel episodes (--num-envs N): N env copies in worker processes that run whole episodes.

Each worker owns one env (made by make_env, so a seed's episode is the one a single env runs
for the same actions) and a copy of the policy, sent once per cycle or evaluation. It runs
each episode it is given from reset to end and sends it back whole, so workers never wait for
one another or for the main process: envs stepped in lockstep (one pipe round trip per env
step) ran 1.05x one env on this 2-core machine, free-running processes 1.89x (BENCHMARKS.md
2f). While the workers run a cycle's episodes, the main process runs the cycle's updates
(training.Trainer.run_cycle).

An exploratory episode draws its noise and random actions from its own generator
(EpisodeJob.rng_seed), so what a cycle collects does not depend on N, on the timing, or on
which worker ran which episode.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from td3her_cli import errors
from td3her_cli.config import TrainConfig
from td3her_cli.envs import EnvSpec
from td3her_cli.errors import EnvError, Td3HerError, one_line
from td3her_cli.policy_snapshot import PolicySnapshot
from td3her_cli.replay import Episode
from td3her_cli.rollout import EvaluationStopped, collect_episode


@dataclass(frozen=True)
class EpisodeJob:
    """One episode for a worker: the env seed, and how it explores (if it does)."""

    seed: int
    explore: bool = False
    """Noise and random actions as configured; False: the policy's deterministic actions."""
    rng_seed: tuple[int, ...] = ()
    """Entropy of the episode's own generator for noise and random actions."""
    random_steps: int = 0
    """The episode's first steps act uniformly at random (its share of the warm-up)."""


def run_job(env, spec: EnvSpec, policy, job: EpisodeJob, config: TrainConfig | None) -> Episode:
    """Run one EpisodeJob in `env` (an exploratory one needs the run's `config`)."""
    if not job.explore:
        return collect_episode(env, spec, policy, job.seed)
    from td3her_cli.noise import make_noise

    rng = np.random.default_rng(np.random.SeedSequence(job.rng_seed))
    noise = make_noise(config, spec.action_dim, rng)
    return collect_episode(
        env, spec, policy, job.seed, noise, rng, job.random_steps, config.random_action_prob
    )


class EpisodeWorkers:
    """N worker processes, each with its own env, running the episodes they are given."""

    def __init__(
        self,
        env_id: str,
        modules: tuple[str, ...],
        num_workers: int,
        spec: EnvSpec,
        config: TrainConfig | None = None,
    ) -> None:
        """Start the workers and wait until each has made its env (EnvError if one cannot).
        `config` sets how exploratory episodes explore (not needed to evaluate)."""
        context = multiprocessing.get_context("spawn")  # the parent may run TensorFlow
        self.env_id = env_id
        self._conns, self._processes = [], []
        self._outstanding = [0] * num_workers  # episodes each worker still owes
        self._results: dict[int, Episode] = {}
        for _ in range(num_workers):
            conn, child = context.Pipe()
            process = context.Process(
                target=_serve, args=(child, env_id, tuple(modules), spec, config), daemon=True
            )
            process.start()
            child.close()
            self._conns.append(conn)
            self._processes.append(process)
        try:
            for worker in range(num_workers):
                self._receive(worker)  # "ready", or the error making the env
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """How many worker processes run episodes."""
        return len(self._conns)

    def set_policy(self, policy: PolicySnapshot) -> None:
        """The policy every later episode acts with, until the next set_policy."""
        for conn in self._conns:
            conn.send(("policy", policy))

    def load_policy(self, loader: Callable[[], Callable]) -> None:
        """Have each worker build its policy by calling `loader` (picklable, no arguments),
        e.g. functools.partial(checkpoint.load_policy, info)."""
        for conn in self._conns:
            conn.send(("load_policy", loader))

    def submit(self, jobs: list[EpisodeJob]) -> None:
        """Start these episodes (job i on worker i mod N) and return at once; `results`
        collects them."""
        for worker, conn in enumerate(self._conns):
            mine = [
                (index, job) for index, job in enumerate(jobs) if index % len(self._conns) == worker
            ]
            if mine:
                conn.send(("run", mine))
                self._outstanding[worker] += len(mine)

    def results(self) -> list[Episode]:
        """Every submitted episode, in the order submitted, once all have ended."""
        while any(self._outstanding):
            for worker in self._ready_workers():
                self._receive(worker)
        results, self._results = self._results, {}
        return [results[index] for index in sorted(results)]

    def episodes(
        self, jobs: list[EpisodeJob], stop: Callable[[], bool] | None = None
    ) -> Iterator[Episode]:
        """Run the jobs, each on the next idle worker; yield episodes as they end (not in job
        order). With `stop`, EvaluationStopped is raised instead of starting another episode
        once stop() is true. Leaving the loop early is fine: episodes under way are waited
        for and dropped."""
        pending = list(enumerate(jobs))[::-1]  # popped from the end: job order
        try:
            idle = [w for w in range(self.num_workers) if not self._outstanding[w]]
            while pending or any(self._outstanding):
                while idle and pending:
                    if stop is not None and stop():
                        raise EvaluationStopped
                    worker = idle.pop(0)
                    self._conns[worker].send(("run", [pending.pop()]))
                    self._outstanding[worker] += 1
                for worker in self._ready_workers():
                    index = self._receive(worker)
                    idle.append(worker)
                    yield self._results.pop(index)
        finally:
            while any(self._outstanding):  # episodes under way when the caller left
                for worker in self._ready_workers():
                    self._receive(worker)
            self._results = {}

    def close(self) -> None:
        """Stop the worker processes (episodes under way are abandoned)."""
        for conn in self._conns:
            try:
                conn.send(("close",))
            except OSError:
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self._conns:
            conn.close()

    def _ready_workers(self) -> list[int]:
        """Workers owing episodes that have a message waiting (blocks until one has)."""
        busy = {self._conns[w]: w for w in range(self.num_workers) if self._outstanding[w]}
        return [busy[conn] for conn in multiprocessing.connection.wait(list(busy))]

    def _receive(self, worker: int) -> int | None:
        """Read one message from a worker: store an episode (returning its job index), or
        raise the worker's error as one line."""
        try:
            message = self._conns[worker].recv()
        except (EOFError, OSError):
            code = self._processes[worker].exitcode
            raise EnvError(
                f"a worker process running {self.env_id} died (exit code {code})"
            ) from None
        kind, *payload = message
        if kind == "ready":
            return None
        if kind == "error":
            self._outstanding[worker] = 0
            type_name, text = payload
            error_type = getattr(errors, type_name, None)
            if not (isinstance(error_type, type) and issubclass(error_type, Td3HerError)):
                error_type, text = EnvError, f"a worker running {self.env_id} failed: {text}"
            raise error_type(text)
        index, episode = payload
        self._results[index] = episode
        self._outstanding[worker] -= 1
        return index


def _serve(conn, env_id: str, modules: tuple[str, ...], spec: EnvSpec, config) -> None:
    """A worker's loop: make the env, then run what the parent sends until `close`.

    Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent must keep
    its workers alive to finish the cycle and write a checkpoint.
    """
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a loaded SavedModel's policy
    from td3her_cli.envs import import_env_modules, make_env

    try:
        import_env_modules(modules)
        env = make_env(env_id)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(_error_message(exc))
        return
    conn.send(("ready",))
    policy = None
    while True:
        command, *args = conn.recv()
        if command == "close":
            env.close()
            return
        try:
            if command == "policy":
                policy = args[0]
            elif command == "load_policy":
                policy = args[0]()
            elif command == "run":
                for index, job in args[0]:
                    conn.send(("episode", index, run_job(env, spec, policy, job, config)))
        except Exception as exc:  # noqa: BLE001 - the parent raises it, one line
            conn.send(_error_message(exc))


def _error_message(exc: Exception) -> tuple[str, str, str]:
    """("error", type name, one line): td3her's own messages as they are."""
    text = str(exc) if isinstance(exc, Td3HerError) else one_line(exc, 300)
    return "error", type(exc).__name__, text
