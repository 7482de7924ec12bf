"""--quantiles: truncated quantile critics (TQC) against NumPy references, and a real run."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from td3her_cli.config import TrainConfig
from td3her_cli.core.agent import quantile_huber_losses
from td3her_cli.errors import UsageError

from .conftest import tiny_cli_args
from .test_td3 import make_agent, random_batch, weights


def test_the_target_pools_sorts_and_truncates_every_critics_quantiles(small_spec):
    agent = make_agent(small_spec, quantiles=5, drop_quantiles=2, gamma=0.9)
    rng = np.random.default_rng(0)
    q_next = rng.normal(-3.0, 4.0, (2, 8, 5)).astype(np.float32)  # [N, B, K], some above 0
    batch = random_batch(small_spec, 8, rng)
    atoms = agent.truncated_target_atoms(
        tf.constant(q_next), batch.reward, batch.done, batch.discount
    ).numpy()
    kept = np.sort(q_next.transpose(1, 0, 2).reshape(8, 10), axis=1)[:, :6]  # 2 x (5 - 2)
    expected = batch.reward[:, None] + (batch.discount * (1 - batch.done))[:, None] * kept
    expected = np.clip(expected, *agent.target_bounds)
    assert atoms.shape == (8, 6)
    assert (expected == agent.target_bounds[1]).any(), "the return's clip must matter here"
    np.testing.assert_allclose(atoms, expected, rtol=1e-6)


def test_the_quantile_huber_loss_matches_a_numpy_reference():
    rng = np.random.default_rng(1)
    quantiles = rng.normal(0.0, 1.5, (2, 3, 4)).astype(np.float32)  # [N, B, K]
    atoms = rng.normal(0.0, 1.5, (3, 5)).astype(np.float32)  # [B, M]
    expected = np.zeros(2)
    for n in range(2):
        total = 0.0
        for b in range(3):
            for k in range(4):
                level = (2 * k + 1) / 8
                for m in range(5):
                    u = atoms[b, m] - quantiles[n, b, k]
                    huber = 0.5 * u * u if abs(u) <= 1 else abs(u) - 0.5
                    total += abs(level - (u < 0)) * huber
        expected[n] = total / (3 * 4 * 5)
    delta = atoms[None, :, None, :] - quantiles[:, :, :, None]
    assert (np.abs(delta) > 1).any() and (np.abs(delta) < 1).any(), "both Huber branches"
    got = quantile_huber_losses(tf.constant(quantiles), tf.constant(atoms)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_a_tqc_agent_outputs_quantiles_and_its_updates_fit_a_fixed_batch(small_spec):
    agent = make_agent(small_spec, quantiles=5, policy_delay=2)
    batch = random_batch(small_spec, 64, np.random.default_rng(2))
    inputs = np.concatenate([batch.observation, batch.desired_goal, batch.action], -1)
    assert agent.critic(tf.constant(inputs)).shape == (2, 64, 5)
    assert agent.critic_target(tf.constant(inputs)).shape == (2, 64, 5)
    actor_before = weights(agent.actor)
    losses = [agent.update(batch).critic1_loss for _ in range(60)]
    assert np.isfinite(losses).all() and np.mean(losses[-10:]) < np.mean(losses[:10])
    assert any((a != b).any() for a, b in zip(actor_before, weights(agent.actor)))


def test_a_tqc_run_trains_saves_and_evaluates_a_real_env(tmp_path, run_cli):
    run = tmp_path / "tqc"
    code, _, err = run_cli(
        ["train", *tiny_cli_args(epochs=1), "--quantiles", "5", "--out", str(run)]
    )
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert (config["quantiles"], config["drop_quantiles"]) == (5, 2)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(
        np.isfinite(r["critic1_loss"]) for r in rows if r["kind"] == "cycle" and r["opt_steps"]
    )
    code, out, err = run_cli(["evaluate", str(run), "--latest", "--episodes", "2", "--json"])
    assert code == 0, err
    assert json.loads(out)["episodes"] == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantiles": -1}, "--quantiles must be >= 0"),
        ({"quantiles": 5, "drop_quantiles": 5}, "--drop-quantiles must be in [0, --quantiles (5))"),
        ({"quantiles": 5, "crossq": True}, "--quantiles (TQC) and --crossq"),
        ({"quantiles": 5, "critics": 4, "target_critics": 2}, "drop --target-critics"),
    ],
)
def test_tqc_settings_that_cannot_work_are_refused(fields, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig(**fields)
