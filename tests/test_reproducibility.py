"""Same seed, same run: a sweep trial equals `train` on an object task, bit for bit.

(Same-process determinism on PandaPush is also covered by test_checkpoint's resume test: a
resumed run equals an uninterrupted one with the same seed.)"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from .conftest import TINY, metrics_rows_without_timings, tiny_cli_args

pytestmark = pytest.mark.slow

PUSH = dict(TINY, env_id="PandaPush-v3", epochs=1, cycles=3, xla=True)  # the presets' update
metrics_rows = metrics_rows_without_timings


def agent_variables(run_dir):
    """Every variable of the latest trainer checkpoint (networks, targets, optimisers, ...)."""
    import tensorflow as tf

    from td3her_cli.run.checkpoint import resolve_checkpoint

    prefix = resolve_checkpoint(run_dir, latest=True).path / "trainer" / "agent"
    reader = tf.train.load_checkpoint(str(prefix))
    names = sorted(reader.get_variable_to_shape_map())
    return {name: reader.get_tensor(name) for name in names if "CHECKPOINTABLE" not in name}


def assert_same_run(a, b):
    assert metrics_rows(a) == metrics_rows(b)
    variables_a, variables_b = agent_variables(a), agent_variables(b)
    assert variables_a.keys() == variables_b.keys() and len(variables_a) > 20
    for name, value in variables_a.items():
        np.testing.assert_array_equal(value, variables_b[name], err_msg=name)


def test_a_sweep_trial_equals_train_with_the_same_seed_options_and_threads(tmp_path):
    """Each in its own process, as the CLI and a Ray worker run them, at one TF thread."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    train_dir, trial_dir = tmp_path / "train", tmp_path / "trial"
    options = {k: v for k, v in PUSH.items() if k != "env_id"}
    args = ["--env", PUSH["env_id"], "--preset", "original", "--threads", "1"]  # as TrainConfig
    args += ["--out", str(train_dir), "--no-tensorboard"]
    train_command = [sys.executable, "-m", "td3her_cli", "train", *tiny_cli_args(**options), *args]
    # held_out_episodes: the trial's evaluation after training writes held_out.json only,
    # which is not compared; one episode of it is enough.
    script = textwrap.dedent(f"""
        from pathlib import Path
        from td3her_cli.config import TrainConfig
        from td3her_cli.sweep.trials import Trial, run_trial
        config = TrainConfig(**{PUSH!r})
        trial = Trial("base", {{}}, config.seed, config, Path({str(trial_dir)!r}))
        outcome = run_trial(trial, tensorboard=False, threads=1, held_out_episodes=1)
        assert outcome.status == "finished", outcome
    """)
    # Both at once (each on one TF thread, in its own directory), then checked as `check=True`.
    processes = [
        subprocess.Popen(train_command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        subprocess.Popen([sys.executable, "-c", script], env=env),
    ]
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=600)
            assert process.returncode == 0, (process.args, stderr)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert_same_run(train_dir, trial_dir)
    rows = metrics_rows(train_dir)
    assert rows[-1]["env_steps"] > 0 and rows[-1]["critic1_loss"] is not None
