"""Parallel episodes (--num-envs N): N env copies in worker processes that run whole episodes.

Each worker owns one env (made by make_env, so a seed's episode is the one a single env runs
for the same actions) and a copy of the policy: a PolicySnapshot sent once per cycle, or for
`td3her evaluate` a checkpoint each worker loads itself. It runs each episode it is given from
reset to end and sends it back whole, so workers never wait for one another or for the main
process (envs stepped in lockstep, one pipe round trip per env step, ran 1.05x one env on this
2-core machine; free-running processes 1.89x: docs/experiments/2026-11-26-push-collection-
resets-workers.md). While the workers run a
cycle's episodes, the main process runs the cycle's updates (training.Trainer.run_cycle).

An exploratory episode draws its noise and random actions from its own generator
(EpisodeJob.rng_seed), so what a cycle collects depends neither on N, nor on the timing, nor on
which worker ran which episode.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Iterator

from td3her_cli import errors
from td3her_cli.config import TrainConfig
from td3her_cli.core.policy_snapshot import PolicySnapshot
from td3her_cli.core.replay import Episode
from td3her_cli.core.spec import EnvSpec
from td3her_cli.envs.rollout import EpisodeJob, EvaluationStopped, run_episode_job
from td3her_cli.errors import EnvError, Td3HerError, one_line


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
        `config` says how exploratory episodes explore (not needed to evaluate)."""
        context = multiprocessing.get_context("spawn")  # the parent may run TensorFlow
        self.env_id = env_id
        self._conns, self._processes = [], []
        self._outstanding = [0] * num_workers  # episodes each worker still owes
        self.busy_seconds = 0.0  # the workers' episode time in the last `results`
        for _ in range(num_workers):
            conn, child = context.Pipe()
            process = context.Process(
                target=_serve, args=(child, env_id, tuple(modules), spec, config), daemon=True
            )
            process.start()
            child.close()
            self._conns.append(conn)
            self._processes.append(process)
        # Workers ignore SIGTERM, which multiprocessing's own exit handler relies on: close
        # them first even if the owner never does. atexit runs later registrations first, and
        # multiprocessing registered its handler when the workers started above (a later
        # multiprocessing.util.get_logger() would register it again, after this one).
        atexit.register(self.close)
        try:
            self._answers()  # each worker's "ready", or its error making the env
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """How many worker processes run episodes."""
        return len(self._conns)

    def set_policy(self, policy: PolicySnapshot) -> None:
        """The policy every later episode acts with, until the next set_policy."""
        self._send_all(("policy", policy))

    def load_policy(self, loader: Callable[[], Callable]) -> None:
        """Have each worker build its policy by calling `loader` (picklable, no arguments),
        e.g. functools.partial(checkpoint.load_policy_one_thread, info); its errors come here."""
        self._send_all(("load_policy", loader))

    def submit(self, jobs: list[EpisodeJob]) -> None:
        """Start these episodes (job i on worker i mod N) and return at once; `results`
        collects them."""
        self._check_idle()
        for worker in range(self.num_workers):
            mine = [(i, job) for i, job in enumerate(jobs) if i % self.num_workers == worker]
            if mine:
                self._send(worker, ("run", mine))
                self._outstanding[worker] += len(mine)

    def results(self) -> list[Episode]:
        """Every submitted episode, in the order submitted, once all have ended;
        `busy_seconds` is then the time the workers spent running them."""
        received = dict(self._drain())
        self.busy_seconds = sum(seconds for _, seconds in received.values())
        return [received[index][0] for index in sorted(received)]

    def episodes(
        self, jobs: list[EpisodeJob], stop: Callable[[], bool] | None = None
    ) -> Iterator[Episode]:
        """Run the jobs, each on the next idle worker; yield episodes as they end (not in job
        order). With `stop`, EvaluationStopped is raised instead of starting another episode
        once stop() is true. Leaving the loop early is fine: episodes under way are waited
        for and dropped."""
        self._check_idle()
        pending = list(enumerate(jobs))[::-1]  # popped from the end: job order
        idle = list(range(self.num_workers))
        try:
            while pending or any(self._outstanding):
                while idle and pending:
                    if stop is not None and stop():
                        raise EvaluationStopped
                    worker = idle.pop(0)
                    self._send(worker, ("run", [pending.pop()]))
                    self._outstanding[worker] += 1
                for worker in self._ready_workers():
                    _, (episode, _) = self._receive(worker)
                    idle.append(worker)
                    yield episode
        finally:
            for _ in self._drain():  # episodes under way when the caller left
                pass

    def close(self) -> None:
        """Stop the worker processes (episodes under way are abandoned)."""
        atexit.unregister(self.close)
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
        self._outstanding = [0] * self.num_workers

    def _check_idle(self) -> None:
        if any(self._outstanding):
            raise RuntimeError("episodes of an earlier call are still outstanding")

    def _send(self, worker: int, message: tuple) -> None:
        try:
            self._conns[worker].send(message)
        except OSError:
            raise self._died(worker) from None

    def _send_all(self, message: tuple) -> None:
        """Send to every worker and wait for each to answer (an error comes back here)."""
        for worker in range(self.num_workers):
            self._send(worker, message)
        self._answers()

    def _answers(self) -> None:
        """Each worker's "ok" to a command (its error raised as one line)."""
        for worker in range(self.num_workers):
            self._receive(worker)

    def _drain(self) -> Iterator[tuple[int, tuple[Episode, float]]]:
        """Every episode the workers still owe, as (job index, (episode, seconds))."""
        while any(self._outstanding):
            for worker in self._ready_workers():
                yield self._receive(worker)

    def _ready_workers(self) -> list[int]:
        """Workers owing episodes that have a message waiting (blocks until one has)."""
        busy = {self._conns[w]: w for w in range(self.num_workers) if self._outstanding[w]}
        return [busy[conn] for conn in multiprocessing.connection.wait(list(busy))]

    def _receive(self, worker: int):
        """One message from a worker: (job index, (episode, seconds)) for an episode, None
        for an "ok"; the worker's error is raised as one line (and the worker owes nothing)."""
        try:
            kind, *payload = self._conns[worker].recv()
        except (EOFError, OSError):
            raise self._died(worker) from None
        if kind == "ok":
            return None
        if kind == "error":
            self._outstanding[worker] = 0
            type_name, text = payload
            error_type = getattr(errors, type_name, None)
            if not (isinstance(error_type, type) and issubclass(error_type, Td3HerError)):
                error_type, text = EnvError, f"a worker running {self.env_id} failed: {text}"
            raise error_type(text)
        index, episode, seconds = payload
        self._outstanding[worker] -= 1
        return index, (episode, seconds)

    def _died(self, worker: int) -> EnvError:
        process = self._processes[worker]
        process.join(timeout=1)
        return EnvError(
            f"a worker process running {self.env_id} died (exit code {process.exitcode})"
        )


def _serve(conn, env_id: str, modules: tuple[str, ...], spec: EnvSpec, config) -> None:
    """A worker's loop: make the env, then do what the parent sends until `close`.

    Workers ignore SIGINT and SIGTERM: a terminal's Ctrl-C, or a SIGTERM to the whole process
    group, reaches them too, and the parent must keep them to finish the cycle and write a
    checkpoint. They end when the parent closes them or its end of the pipe.
    """
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a loaded SavedModel's policy
    from td3her_cli.envs.goal_env import import_env_modules, make_env

    try:
        import_env_modules(modules)
        env = make_env(env_id)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(_error_message(exc))
        return
    conn.send(("ok",))
    policy = None
    while True:
        try:
            command, *args = conn.recv()
        except EOFError:  # the parent is gone
            command = "close"
        if command == "close":
            env.close()
            return
        try:
            if command == "policy":
                policy = args[0]
                conn.send(("ok",))
            elif command == "load_policy":
                policy = args[0]()
                conn.send(("ok",))
            elif command == "run":
                for index, job in args[0]:
                    start = time.perf_counter()
                    episode = run_episode_job(env, spec, policy, job, config)
                    conn.send(("episode", index, episode, time.perf_counter() - start))
        except Exception as exc:  # noqa: BLE001 - the parent raises it, one line
            conn.send(_error_message(exc))


def _error_message(exc: Exception) -> tuple[str, str, str]:
    """("error", type name, one line): td3her's own messages as they are."""
    text = str(exc) if isinstance(exc, Td3HerError) else one_line(exc, 300)
    return "error", type(exc).__name__, text
