"""Every panda-gym task family, both control types, end to end; and a third-party goal env."""

import json

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.envs.goal_env import episode_seed
from td3her_cli.envs.rollout import deterministic_episodes, evaluate
from td3her_cli.errors import EnvError
from td3her_cli.run.checkpoint import load_policy, resolve_checkpoint, save_checkpoint
from td3her_cli.run.training import Trainer

from .conftest import tiny_cli_args

FAMILIES = ["Reach", "Push", "Slide", "PickAndPlace", "Stack", "Flip"]
IDS = [f"Panda{family}{control}-v3" for family in FAMILIES for control in ("", "Joints")]


@pytest.mark.slow
@pytest.mark.parametrize("env_id", IDS)
def test_task_collect_update_checkpoint_evaluate(env_id, tmp_path):
    config = TrainConfig(
        env_id=env_id,
        hidden=(16, 16),
        batch_size=8,
        episodes_per_cycle=1,
        random_steps=5,
        buffer_size=1000,
        # The XLA compile (seconds) once per family, on its end-effector variant; the Joints
        # variant has the same observation and goal, a larger action, and the uncompiled update.
        xla=not env_id.endswith("Joints-v3"),
    )
    trainer = Trainer(config)
    try:
        trainer.collect()
        metrics = trainer.optimise()[:1] or [
            trainer.agent.update(trainer.buffer.sample(config.batch_size, trainer.replay_rng))
        ]
        assert np.isfinite(metrics[0].critic1_loss)
        trainer.epoch = 1
        save_checkpoint(trainer, tmp_path, {"success_rate": 0.0, "mean_return": -1.0}, 0)
        spec = trainer.spec
        info = resolve_checkpoint(tmp_path)
        assert info.meta["spaces"]["action_dim"] == spec.action_dim
        seeds = [episode_seed(0, 2, 0)]
        result = evaluate(deterministic_episodes(trainer.eval_env, spec, load_policy(info), seeds))
        assert result.episodes == 1 and 1 <= result.mean_length <= spec.max_episode_steps
    finally:
        trainer.close()


def test_dense_rewards_are_not_clipped_and_sparse_are():
    for env_id, bounded in (("PandaPushDense-v3", False), ("PandaPush-v3", True)):
        trainer = Trainer(TrainConfig(env_id=env_id, hidden=(8,), buffer_size=1000))
        try:
            assert (trainer.agent.target_bounds is not None) == bounded
        finally:
            trainer.close()


def test_third_party_goal_env_via_env_module(tmp_path, run_cli):
    run_dir = tmp_path / "point"
    args = [
        "train",
        "--env",
        "PointGoal-v0",
        "--env-module",
        "tests.point_goal_env",
        *tiny_cli_args(epochs=1, hidden=(16,), batch_size=16, random_steps=10),
        "--out",
        str(run_dir),
    ]
    code, _, err = run_cli(args)
    assert code == 0, err
    meta = json.loads((run_dir / "checkpoints" / "epoch_001" / "meta.json").read_text())
    assert meta["config"]["env_modules"] == ["tests.point_goal_env"]
    assert meta["spaces"]["reward_bounds"] == [-1.0, 0.0]
    # evaluate imports the module the checkpoint names by itself
    code, out, err = run_cli(["evaluate", str(run_dir), "--episodes", "2", "--json"])
    assert code == 0, err
    assert json.loads(out)["env_id"] == "PointGoal-v0"


def test_envs_lists_panda_and_module_envs(run_cli):
    code, out, err = run_cli(["envs", "--env-module", "tests.point_goal_env"])
    assert code == 0, err
    assert "PandaStack-v3" in out and "PointGoal-v0" in out


@pytest.mark.parametrize("stage", ["describe_env", "check_memory"])
def test_a_trainer_refused_while_checking_closes_the_envs_it_made(monkeypatch, stage):
    from td3her_cli.run import training

    closed = []
    real_make_env = training.make_env

    def make_env(env_id):
        env = real_make_env(env_id)
        close = env.close
        env.close = lambda: (closed.append(env_id), close())
        return env

    def refuse(*args, **kwargs):
        raise EnvError(f"refused in {stage}")

    monkeypatch.setattr(training, "make_env", make_env)
    monkeypatch.setattr(training, stage, refuse)
    with pytest.raises(EnvError, match=stage):
        Trainer(TrainConfig(env_id="PandaReach-v3", num_envs=1, buffer_size=1000))
    assert closed == ["PandaReach-v3", "PandaReach-v3"]  # the training env and the eval env
