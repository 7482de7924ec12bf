"""Shared fixtures: quiet TensorFlow, a small fake env spec."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from td3her_cli.core.spec import EnvSpec  # noqa: E402


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


def tiny_cli_args(**overrides) -> list[str]:
    """TINY (with overrides) as `td3her train` options, e.g. ["--epochs", "2", ...]."""
    args = []
    for key, value in {**TINY, **overrides}.items():
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        args += ["--" + key.replace("_", "-"), text]
    return args


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished TINY PandaReach run (2 epochs, buffer saved), trained once per test session.

    Shared by every module: tests that change a run work on a copy.
    """
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    from td3her_cli.config import TrainConfig
    from td3her_cli.run.training import train

    train(TrainConfig(**TINY), run_dir, save_buffer=True)
    return run_dir


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run `td3her ARGS...` in-process: returns (exit code, stdout, stderr)."""
    import sys

    from td3her_cli.cli import app as cli

    def run(args):
        monkeypatch.setattr(sys, "argv", ["td3her", *args])
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        captured = capsys.readouterr()
        return exit_info.value.code, captured.out, captured.err

    return run
