"""--env-steps-per-block: updates in blocks of --optimization-steps, one per N env steps."""

import json

import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.errors import UsageError
from td3her_cli.run.training import Trainer, train

from .conftest import TINY, metrics_rows_without_timings
from .test_checkpoint import StopOnCall

FULL_EPISODES = dict(TINY, terminal_on_success="off")  # 2 x 50 env steps every cycle


def owed_blocks(per_block, stored):
    """The blocks update_blocks() returns as env steps are stored, one call per entry."""
    trainer = Trainer(TrainConfig(**TINY, env_steps_per_block=per_block))
    try:
        blocks = []
        for steps in stored:
            trainer.env_steps += steps
            blocks.append(trainer.update_blocks())
        return blocks, trainer.update_credit
    finally:
        trainer.close()


def test_one_block_per_n_env_steps_with_the_rest_carried():
    blocks, credit = owed_blocks(150, [100, 100, 250, 0, 40])
    assert blocks == [0, 1, 2, 0, 0]
    assert credit == 40


def test_without_it_every_cycle_is_one_block():
    assert owed_blocks(0, [100, 0, 37]) == ([1, 1, 1], 0)


def test_a_negative_block_is_refused():
    with pytest.raises(UsageError, match="--env-steps-per-block"):
        TrainConfig(env_steps_per_block=-1)


def test_a_cycle_that_brings_one_block_trains_as_per_cycle(tmp_path):
    per_cycle, per_steps = tmp_path / "per-cycle", tmp_path / "per-steps"
    train(TrainConfig(**FULL_EPISODES), per_cycle, tensorboard=False)
    train(TrainConfig(**FULL_EPISODES, env_steps_per_block=100), per_steps, tensorboard=False)
    assert metrics_rows_without_timings(per_steps) == metrics_rows_without_timings(per_cycle)


def test_two_blocks_per_cycle_run_twice_the_updates(tmp_path):
    run_dir = tmp_path / "run"
    train(TrainConfig(**FULL_EPISODES, env_steps_per_block=50), run_dir, tensorboard=False)
    cycles = [r for r in metrics_rows_without_timings(run_dir) if r["kind"] == "cycle"]
    # updates start once the buffer holds a batch (cycle 1 stores 100 transitions first)
    assert [r["opt_steps"] for r in cycles] == [10, 20, 30, 40]


def test_a_resumed_run_carries_the_rest(tmp_path):
    config = TrainConfig(**FULL_EPISODES, env_steps_per_block=150)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(config, straight, tensorboard=False)
    first = train(config, split, should_stop=StopOnCall(1), tensorboard=False)
    assert first.interrupted
    state = json.loads(next((split / "checkpoints").glob("*/state.json")).read_text())
    assert state["update_credit"] == 100, "the first cycle's steps are owed"
    train(config, split, resume=True, tensorboard=False)
    rows = metrics_rows_without_timings(split)
    assert rows == metrics_rows_without_timings(straight)
    cycles = [r["opt_steps"] for r in rows if r["kind"] == "cycle"]
    assert cycles == [0, 5, 10, 10], "a block once 150 env steps are owed: at 200 and 300"
