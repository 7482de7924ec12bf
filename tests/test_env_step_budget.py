"""--max-env-steps: a run ends before an epoch that could take it past a budget of env steps
(issue 30's targets are budgets of env steps, and episodes that end on success make an epoch's
env steps vary)."""

import json
import re
from types import SimpleNamespace

import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.errors import UsageError
from td3her_cli.run.training import Trainer
from tests.conftest import tiny_cli_args


def budgeted(env_steps: int, budget: int, epochs_done: int = 0):
    """Trainer's budget test over plain counters: 2 cycles x 2 episodes of at most 50 steps."""
    config = TrainConfig(cycles=2, episodes_per_cycle=2, max_env_steps=budget)
    spec = SimpleNamespace(max_episode_steps=50)
    trainer = SimpleNamespace(config=config, spec=spec, env_steps=env_steps, epoch=epochs_done)
    trainer.longest_epoch = lambda: Trainer.longest_epoch(trainer)
    return Trainer.epoch_fits_budget(trainer)


def test_an_epoch_runs_only_if_its_longest_course_stays_within_the_budget():
    assert budgeted(0, 200) and budgeted(800, 1000) and budgeted(10**9, 0)  # 0: no budget
    assert not budgeted(801, 1000) and not budgeted(0, 199)


def epoch_env_steps(run) -> list[int]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [row["env_steps"] for row in rows if row["kind"] == "epoch"]


def test_a_run_ends_at_its_budget_says_so_and_a_resume_may_raise_it(run_cli, tmp_path):
    out = tmp_path / "run"  # epochs of at most 2 cycles x 2 episodes x 50 steps = 200
    args = tiny_cli_args(epochs=5, best_eval_episodes=0)
    code, stdout, err = run_cli(["train", *args, "--max-env-steps", "450", "--out", str(out)])
    assert code == 0, err
    steps = epoch_env_steps(out)
    assert len(steps) == 2 and steps[0] + 200 <= 450 < steps[1] + 200  # a third could pass 450
    assert f"ended at epoch 2 of 5, {steps[1]} env steps: another epoch could pass " in stdout
    assert "--max-env-steps 450" in stdout
    code, stdout, err = run_cli(["train", "--resume", str(out), "--max-env-steps", "800"])
    assert code == 0, err
    more = epoch_env_steps(out)
    assert more[:2] == steps and len(more) > 2 and more[-2] + 200 <= 800
    assert len(more) == 5 or more[-1] + 200 > 800
    assert json.loads((out / "config.json").read_text())["max_env_steps"] == 800


def test_a_budget_below_zero_or_without_a_time_limit_is_refused():
    with pytest.raises(UsageError, match=re.escape("--max-env-steps must be >= 0")):
        TrainConfig(max_env_steps=-1)
    endless = SimpleNamespace(spec=SimpleNamespace(max_episode_steps=None))
    endless.config = TrainConfig(max_env_steps=1000, env_id="Endless-v0")
    endless.longest_epoch = lambda: Trainer.longest_epoch(endless)
    with pytest.raises(UsageError, match="--max-env-steps needs episodes of bounded length"):
        Trainer.check_budget(endless)


def test_a_budget_below_one_epoch_is_refused_before_anything_is_written(run_cli, tmp_path):
    out = tmp_path / "run"  # an epoch: up to 2 cycles x 2 episodes x 50 steps
    code, _, err = run_cli(["train", *tiny_cli_args(), "--max-env-steps", "199", "--out", str(out)])
    assert code != 0 and err.count("\n") == 1 and not out.exists()
    assert "--max-env-steps 199 is less than one epoch can take (200 env steps" in err
