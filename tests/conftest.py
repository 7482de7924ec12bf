"""Shared fixtures: quiet TensorFlow, a small fake env spec, a tiny run; and the order in
which `pytest -n N` hands the tests to its workers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from td3her_cli.core.spec import EnvSpec  # noqa: E402

# `pytest -n N` (make test): tests go out to the workers one at a time, longest first, so
# that both end on short tests and finish together. These files hold the longest tests (see
# `make test`'s --durations), longest first.
HEAVY_FILES = (
    "test_sweep.py",
    "test_checkpoint.py",
    "test_training_integration.py",
    "test_reproducibility.py",
    "test_interruption.py",
    "test_stop_at_success.py",
    "test_one_line_faults.py",
    "test_resume_edge_cases.py",
    "test_all_tasks.py",
)


def pytest_collection_modifyitems(items):
    """In a worker of `pytest -n N`: slow-marked tests first, then the rest, each part with
    HEAVY_FILES first (other files keep their order). The scheduler below keeps this order."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    rank = {name: index for index, name in enumerate(HEAVY_FILES)}
    items.sort(
        key=lambda item: (
            item.get_closest_marker("slow") is None,
            rank.get(item.path.name, len(rank)),
        )
    )


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: not there with -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """For `pytest -n N` (pytest-xdist's `--dist load`): one test per work unit, handed out in
    the workers' collection order, except that a file defining a module-scoped fixture goes to
    one worker whole, so that the fixture is set up once (test_sweep.py: one local Ray)."""
    if config.getvalue("dist") != "load":
        return None
    import functools

    from xdist.scheduler import LoadScopeScheduling

    @functools.cache
    def shares_a_module_fixture(path: str) -> bool:
        module = config.rootpath / path
        return module.is_file() and 'scope="module"' in module.read_text(encoding="utf-8")

    class LongestFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if shares_a_module_fixture(path) else nodeid

    config.option.loadscopereorder = False  # by size otherwise: single tests would go last
    return LongestFirst(config, log)


@pytest.fixture
def small_spec() -> EnvSpec:
    """A made-up goal env spec: 4-dim observation, 2-dim goal and action, sparse reward."""
    return EnvSpec(
        env_id="Fake-v0",
        obs_dim=4,
        goal_dim=2,
        action_dim=2,
        action_low=(-1.0, -1.0),
        action_high=(1.0, 1.0),
        max_episode_steps=10,
        reward_bounds=(-1.0, 0.0),
    )


TINY = dict(
    epochs=2,
    cycles=2,
    episodes_per_cycle=2,
    optimization_steps=5,
    eval_episodes=2,
    best_eval_episodes=3,
    hidden=(32, 32),
    batch_size=32,
    random_steps=60,
    # No XLA compile: it costs 3-7 s per run on a 2-core host. The agent tests, the learning
    # test and one resume-equality case keep the XLA update that presets use.
    xla=False,
)


TIMINGS = ("wall_time", "env_steps_per_s", "update_seconds", "train_seconds", "eval_seconds")


def metrics_rows_without_timings(run_dir) -> list[dict]:
    """A run's metrics.jsonl rows without their wall-clock fields (what must reproduce)."""
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    for row in rows:
        for timing in TIMINGS:
            row.pop(timing, None)
    return rows


def explored_and_evaluated(monkeypatch, config, observe):
    """One collection and one evaluation of a Trainer for `config`, with `collect_episode`
    wrapped where the training loop and the worker-env jobs call it.

    `observe(arguments, run)` is called for each episode: `arguments` are collect_episode's
    bound arguments, `run()` collects the episode and returns it; what observe returns is
    recorded. Returns (the EpisodeJobs that worker envs would run for the same exploratory
    episodes, the records of the explored episodes, the records of the evaluated ones).
    """
    import inspect

    from td3her_cli.envs import rollout
    from td3her_cli.run import training

    collect_episode = rollout.collect_episode
    signature = inspect.signature(collect_episode)
    records = []

    def recording(*args, **kwargs):
        episodes = []

        def run():
            episodes.append(collect_episode(*args, **kwargs))
            return episodes[-1]

        records.append(observe(signature.bind(*args, **kwargs).arguments, run))
        return episodes[-1]

    monkeypatch.setattr(training, "collect_episode", recording)
    monkeypatch.setattr(rollout, "collect_episode", recording)
    trainer = training.Trainer(config)
    try:
        jobs = trainer.collection_jobs()
        trainer.collect()
        explored, records[:] = list(records), []
        trainer.evaluate()
    finally:
        trainer.close()
    return jobs, explored, records


def tiny_cli_args(**overrides) -> list[str]:
    """TINY (with overrides) as `td3her train` options, e.g. ["--epochs", "2", ...]."""
    args = []
    for key, value in {**TINY, **overrides}.items():
        option = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(option if value else "--no-" + option[2:])
        else:
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            args += [option, text]
    return args


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished TINY PandaReach run (2 epochs, buffer saved), trained once per test session:
    with pytest-xdist, by the first worker that needs it, while the others wait (a run is the
    same bit for bit in any process on one machine).

    Shared by every module: tests that change a run work on a copy.
    """
    import fcntl

    from td3her_cli.config import TrainConfig
    from td3her_cli.run.training import train

    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # this session's, shared by its workers
    run_dir = root / "tiny"
    with open(root / "tiny.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / "tiny.done").exists():
            train(TrainConfig(**TINY), run_dir, save_buffer=True)
            (root / "tiny.done").touch()
    return run_dir


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run `td3her ARGS...` in-process: returns (exit code, stdout, stderr)."""
    import signal
    import sys

    from td3her_cli.cli import app as cli

    def run(args):
        monkeypatch.setattr(sys, "argv", ["td3her", *args])
        handler = signal.getsignal(signal.SIGINT)  # main sets its own at the end
        try:
            with pytest.raises(SystemExit) as exit_info:
                cli.main()
        finally:
            signal.signal(signal.SIGINT, handler)
        captured = capsys.readouterr()
        return exit_info.value.code, captured.out, captured.err

    return run
