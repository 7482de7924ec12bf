"""Checkpoints on disk: layout, pointers, SavedModel outside td3her, exact resume, bad input."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.run.checkpoint import (
    FORMAT_VERSION,
    load_policy,
    resolve_checkpoint,
)
from td3her_cli.run.host import cpu_model, simd_flags
from td3her_cli.run.training import Trainer, train

from .conftest import TINY, metrics_rows_without_timings


def copy_run(tiny_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(tiny_run, target)
    return target


def test_layout_and_metadata(tiny_run):
    root = tiny_run / "checkpoints"
    assert json.loads((root / "latest.json").read_text())["checkpoint"] == "epoch_002"
    assert "success_rate" in json.loads((root / "best.json").read_text())["selection_score"]
    meta = json.loads((root / "epoch_002" / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["env_id"] == "PandaReach-v3" and meta["spaces"]["obs_dim"] == 6
    assert meta["config"]["hidden"] == [32, 32]
    assert meta["epoch"] == 2 and meta["complete_epoch"]
    assert meta["env_steps"] > 0 and meta["opt_steps"] == 2 * 2 * 5
    assert len(meta["normalizer"]["observation"]["mean"]) == 6
    for key in ("tensorflow", "gymnasium", "panda_gym", "td3her"):
        assert meta["versions"][key] != "unknown"
    assert meta["machine"] == {"cpu": cpu_model(), "simd": simd_flags(), "cores": os.cpu_count()}
    assert meta["machines"] == [meta["machine"]]  # the run trained on this CPU only
    for name in ("policy/saved_model.pb", "trainer/agent.index", "state.json"):
        assert name in meta["files"]
    assert not list(root.glob(".tmp-*"))
    with np.load(root / "epoch_002" / "buffer.npz", allow_pickle=False) as arrays:
        assert arrays["valid"].sum() == meta["env_steps"]
    assert meta["has_buffer"] and len(meta["buffer_sha256"]) == 64
    # Only the newest checkpoint keeps its buffer; the older one is still complete without.
    assert not (root / "epoch_001" / "buffer.npz").exists()
    resolve_checkpoint(root / "epoch_001")


def test_keep_prunes_old_checkpoints_but_not_best(tmp_path):
    run_dir = tmp_path / "run"
    train(TrainConfig(**{**TINY, "epochs": 3}), run_dir, keep=1)
    root = run_dir / "checkpoints"
    best = json.loads((root / "best.json").read_text())["checkpoint"]
    kept = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert kept == sorted({best, "epoch_003"})


def test_an_averaged_actor_is_saved_restored_and_served(tmp_path):
    run_dir = tmp_path / "averaged"
    config = TrainConfig(**{**TINY, "epochs": 1}, policy_average=0.2)
    train(config, run_dir, tensorboard=False)
    info = resolve_checkpoint(run_dir, latest=True)
    rng = np.random.default_rng(1)
    observation = rng.standard_normal((5, 6)).astype(np.float32)
    goal = rng.standard_normal((5, 3)).astype(np.float32)
    trainer = Trainer(config)
    try:
        from td3her_cli.run.checkpoint import restore_trainer

        initial = trainer.agent.evaluated_policy()(observation, goal)
        restore_trainer(trainer, info)
        averaged = trainer.agent.evaluated_policy()(observation, goal)
        online = trainer.agent.numpy_policy()(observation, goal)
    finally:
        trainer.close()
    assert np.abs(averaged - online).max() > 1e-4, "the averaged actor lags the actor"
    assert np.abs(averaged - initial).max() > 1e-4, "and it was restored, not left at init"
    np.testing.assert_allclose(load_policy(info)(observation, goal), averaged, atol=1e-5)


def test_policy_loads_without_td3her_and_matches_the_agent(tiny_run, tmp_path):
    info = resolve_checkpoint(tiny_run, latest=True)
    rng = np.random.default_rng(0)
    observation = rng.standard_normal((5, 6)).astype(np.float32)
    goal = rng.standard_normal((5, 3)).astype(np.float32)
    np.save(tmp_path / "obs.npy", observation)
    np.save(tmp_path / "goal.npy", goal)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        policy = tf.saved_model.load({str(info.policy_dir)!r})
        out = policy.signatures["serving_default"](
            observation=tf.constant(np.load({str(tmp_path / "obs.npy")!r})),
            desired_goal=tf.constant(np.load({str(tmp_path / "goal.npy")!r})))
        np.save({str(tmp_path / "action.npy")!r}, out["action"].numpy())
        assert not any(m.startswith("td3her") for m in sys.modules), "td3her was imported"
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env, timeout=120)
    standalone = np.load(tmp_path / "action.npy")

    trainer = Trainer(TrainConfig.from_dict(info.meta["config"]))
    try:
        from td3her_cli.run.checkpoint import restore_trainer

        restore_trainer(trainer, info)
        in_process = trainer.agent.evaluated_policy()(observation, goal)
    finally:
        trainer.close()
    np.testing.assert_allclose(standalone, in_process, atol=1e-5)
    np.testing.assert_allclose(load_policy(info)(observation, goal), in_process, atol=1e-5)


class Notes:
    """An observer that keeps the loop's start-up notes and the cycles' losses."""

    def __init__(self):
        self.notes, self.cycles = [], []

    def on_start(self, config, run_dir, notes=()):
        self.notes = list(notes)

    def on_cycle(self, stats):
        self.cycles.append(stats)

    def on_epoch(self, stats):
        pass


class StopOnCall:
    """A should_stop that turns true at its n-th call: the loop asks after every cycle and
    before every evaluation episode (TINY: calls 1-2 after epoch 1's cycles, 3-4 before its
    two evaluation episodes, 5-7 before its three best-check episodes)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self):
        self.calls += 1
        return self.calls >= self.n


@pytest.mark.parametrize(
    "env_id, num_envs, stop, policy_average, xla",
    [
        ("PandaReach-v3", 1, "after epoch 1", 0.0, False),
        ("PandaReach-v3", 1, "during the evaluation", 0.0, True),  # the presets' XLA update
        ("PandaReach-v3", 1, "during the best check", 0.0, False),
        ("PandaReach-v3", 1, "during the evaluation", 0.2, False),  # the averaged actor
        pytest.param("PandaPush-v3", 1, "after epoch 1", 0.0, False, marks=pytest.mark.slow),
        pytest.param(
            "PandaPush-v3", 2, "during the evaluation", 0.0, False, marks=pytest.mark.slow
        ),
    ],
)
def test_resume_matches_an_uninterrupted_run(
    env_id, num_envs, stop, policy_average, xla, tiny_run, tmp_path
):
    config = TrainConfig(
        **{**TINY, "xla": xla}, env_id=env_id, num_envs=num_envs, policy_average=policy_average
    )
    straight = tiny_run  # TINY on PandaReach, buffer saved
    if (env_id, num_envs, policy_average, xla) != ("PandaReach-v3", 1, 0.0, False):
        straight = tmp_path / "straight"
        train(config, straight, tensorboard=False)  # the buffer is saved by default
    split = tmp_path / "split"
    if stop == "after epoch 1":
        train(config.replace(epochs=1), split, tensorboard=False)
    else:  # the cycles are kept; the resumed run evaluates them again, on the same episodes
        first = train(
            config,
            split,
            should_stop=StopOnCall(4 if "evaluation" in stop else 6),
            tensorboard=False,
        )
        assert first.interrupted and first.last_checkpoint.name == "epoch_001-cycle_002"
        assert [r["kind"] for r in metrics_rows_without_timings(split)] == ["cycle", "cycle"]
        assert not (split / "checkpoints" / "best.json").exists()
    observer = Notes()
    train(config, split, observer, resume=True, tensorboard=False)
    assert "with its replay buffer" in observer.notes[-1]
    assert not any("another CPU" in note for note in observer.notes)  # the same machine
    # no duplicated or missing rows, same numbers
    assert metrics_rows_without_timings(split) == metrics_rows_without_timings(straight)
    weights = {}
    for run_dir in (straight, split):
        trainer = Trainer(config)
        try:
            from td3her_cli.run.checkpoint import restore_trainer

            restore_trainer(trainer, resolve_checkpoint(run_dir, latest=True))
            agent = trainer.agent
            weights[run_dir] = [
                w.numpy() for w in agent.actor.weights + agent.evaluated_actor.weights
            ]
        finally:
            trainer.close()
    for a, b in zip(weights[straight], weights[split]):
        np.testing.assert_array_equal(a, b)
    best = [json.loads((d / "checkpoints" / "best.json").read_text()) for d in (straight, split)]
    assert best[0] == best[1]


# --------------------------------------------------------------------- bad input
def evaluate_error(args, run_cli):
    code, out, err = run_cli(["evaluate", *args])
    assert err.startswith("td3her: error:") and err.count("\n") == 1 and "Traceback" not in err
    return code, err


def test_evaluate_reports_success_in_one_env_and_in_parallel_envs(tiny_run, run_cli):
    results = []
    for num_envs in ("1", "2"):
        args = ["evaluate", str(tiny_run), "--episodes", "4", "--json", "--num-envs", num_envs]
        code, out, _ = run_cli(args)
        assert code == 0
        results.append(json.loads(out))
    assert results[0]["episodes"] == 4 and 0.0 <= results[0]["success_rate"] <= 1.0
    assert results[1] == results[0], "the same episodes, two at a time"


def edit_meta(checkpoint, **changes):
    """Change meta.json's fields (a dict updates the one there) and its files' checksums stay:
    a hand edit."""
    meta = json.loads((checkpoint / "meta.json").read_text())
    for key, value in changes.items():
        meta[key] = {**meta[key], **value} if isinstance(value, dict) else value
    (checkpoint / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda ck: (ck / "meta.json").write_text('{"format_version": 1, "env'), "corrupt"),
        (
            lambda ck: (ck / "meta.json").write_text(
                json.dumps({**json.loads((ck / "meta.json").read_text()), "format_version": 99})
            ),
            "newer than this td3her reads",
        ),
        (lambda ck: (ck / "policy" / "saved_model.pb").unlink(), "missing policy/saved_model.pb"),
        (
            lambda ck: (ck / "policy" / "variables" / "variables.index").write_bytes(b"junk"),
            "corrupt (checksum mismatch)",
        ),
        (lambda ck: (ck / "meta.json").unlink(), "not a complete checkpoint"),
        (lambda ck: edit_meta(ck, env_steps="lots"), 'env_steps is "lots", not a whole number'),
        (lambda ck: edit_meta(ck, opt_steps=2**63), "opt_steps is 9223372036854775808, not a"),
        (
            lambda ck: edit_meta(ck, config={"env_modules": 5}),
            "config's env_modules is 5, not a list of strings: corrupt checkpoint",
        ),
        (
            lambda ck: edit_meta(ck, spaces={"action_low": [-1.0, -1.0]}),
            "spaces' action_low is [-1.0, -1.0], not a list of 3 numbers",
        ),
        (
            lambda ck: edit_meta(ck, spaces={"action_high": [10**400, 1.0, 1.0]}),
            "spaces' action_high is [1000",  # a JSON integer too long for a float
        ),
        (
            lambda ck: edit_meta(ck, spaces={"obs_dim": 7}),
            "does not match the env it names",  # evaluate's --env is the checkpoint's own
        ),
    ],
)
def test_damaged_checkpoints_are_refused(damage, message, tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    checkpoint = run_dir / "checkpoints" / "epoch_002"
    damage(checkpoint)
    code, err = evaluate_error([str(checkpoint)], run_cli)
    assert code == 1 and message in err


def test_evaluate_bad_paths_and_options(tiny_run, tmp_path, run_cli):
    code, err = evaluate_error([str(tmp_path / "nope")], run_cli)
    assert code == 1 and "does not exist" in err
    (tmp_path / "empty").mkdir()
    code, err = evaluate_error([str(tmp_path / "empty")], run_cli)
    assert code == 1 and "is not a checkpoint" in err
    code, err = evaluate_error([str(tiny_run), "--episodes", "0"], run_cli)
    assert code == 2 and "--episodes" in err
    code, err = evaluate_error([str(tiny_run), "--episodes", "-2"], run_cli)
    assert code == 2
    code, err = evaluate_error([str(tiny_run), "--episodes", "1000001"], run_cli)
    assert code == 2 and "--episodes" in err  # every episode seed is drawn up front
    code, err = evaluate_error([str(tiny_run), "--num-envs", "65"], run_cli)
    assert code == 2 and "--num-envs" in err
    code, err = evaluate_error([str(tiny_run), "--env", "PandaPush-v3"], run_cli)
    assert code == 1 and "trained on PandaReach-v3" in err and "--env PandaReach-v3" in err


def test_resume_without_a_buffer_warms_up_again_and_says_so_first(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    config = TrainConfig(**{**TINY, "batch_size": 250, "random_steps": 150})
    train(config, run_dir, tensorboard=False, save_buffer=False)
    info = resolve_checkpoint(run_dir, latest=True)
    assert not info.meta["has_buffer"] and not (info.path / "buffer.npz").exists()
    assert info.meta["opt_steps"] > 0
    observer = Notes()
    result = train(config.replace(epochs=3), run_dir, observer, resume=True, tensorboard=False)
    assert result.empty_buffer
    assert any("without a replay buffer" in note for note in observer.notes)
    assert "150 random steps" in observer.notes[-1]
    # Two 2-episode cycles of at most 50 steps each: < 250 transitions, so no update at all.
    assert all(np.isnan(c.critic1_loss) for c in observer.cycles)
    meta = resolve_checkpoint(run_dir, latest=True).meta
    assert meta["opt_steps"] == info.meta["opt_steps"], "no updates on a near-empty buffer"
    state = json.loads((resolve_checkpoint(run_dir, latest=True).path / "state.json").read_text())
    assert state["random_until"] == info.meta["env_steps"] + 150


def test_a_corrupt_buffer_is_refused_on_resume(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    buffer = run_dir / "checkpoints" / "epoch_002" / "buffer.npz"
    buffer.write_bytes(buffer.read_bytes()[:-10] + b"0123456789")
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3"])
    assert code == 1 and "buffer.npz is corrupt" in err and "Traceback" not in err


def test_resume_on_another_cpu_says_so(tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path)
    info = resolve_checkpoint(run_dir, latest=True)
    meta = json.loads((info.path / "meta.json").read_text())
    amd = {"cpu": "AMD EPYC", "simd": "avx2, fma, avx512f", "cores": 2}  # not this machine
    assert (amd["cpu"], amd["simd"]) != (cpu_model(), simd_flags())
    meta["machine"], meta["machines"] = amd, [amd]
    (info.path / "meta.json").write_text(json.dumps(meta))
    observer = Notes()
    config = TrainConfig(**TINY).replace(epochs=3)
    train(config, run_dir, observer, resume=True, tensorboard=False)
    note = observer.notes[-1]
    assert "another CPU (AMD EPYC: avx2, fma, avx512f)" in note and cpu_model() in note
    # Its next checkpoint was written here, yet the run keeps the AMD part of its history.
    meta = json.loads((resolve_checkpoint(run_dir, latest=True).path / "meta.json").read_text())
    assert [seen["cpu"] for seen in meta["machines"]] == ["AMD EPYC", cpu_model()]
    again = Notes()
    train(config.replace(epochs=4), run_dir, again, resume=True, tensorboard=False)
    assert "another CPU (AMD EPYC: avx2, fma, avx512f)" in again.notes[-1]
