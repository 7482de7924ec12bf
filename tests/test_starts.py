"""Easier exploratory starts drawn per episode seed (envs/starts.py), and --tower-start: Stack
episodes that begin with the bottom cube on its goal."""

import dataclasses
import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from td3her_cli.config import START_SHARE_FIELDS, TrainConfig
from td3her_cli.envs.goal_env import make_env
from td3her_cli.envs.grasp import build_tower, starts_built, starts_grasped
from td3her_cli.envs.starts import RESET, EpisodeStart, StartShares
from td3her_cli.errors import UsageError
from td3her_cli.report.display import TrainingDisplay
from td3her_cli.run.training import Trainer, train
from tests.conftest import TINY, explored_and_evaluated


@pytest.fixture(scope="module")
def stack():
    env = make_env("PandaStack-v3")
    yield env
    env.close()


def bottom_on_goal(observation: dict) -> bool:
    """Whether Stack's bottom cube (the first goal position) lies on its goal, to within 5 mm
    (a grasp's closing steps let it settle)."""
    gap = observation["achieved_goal"][:3] - observation["desired_goal"][:3]
    return bool(np.abs(gap).max() < 0.005)


def test_a_built_tower_has_the_bottom_cube_on_its_goal_and_the_rest_as_the_reset_left_it(stack):
    for seed in range(3):
        raw, _ = stack.reset(seed=seed)
        assert not bottom_on_goal(raw)
        built = build_tower(stack)
        assert bottom_on_goal(built)
        np.testing.assert_array_equal(built["desired_goal"], raw["desired_goal"])
        np.testing.assert_allclose(built["achieved_goal"][3:], raw["achieved_goal"][3:])  # top
        np.testing.assert_allclose(built["observation"][:7], raw["observation"][:7])  # the arm


def test_a_grasped_start_wins_over_a_built_one_and_the_reset_start_changes_nothing(stack):
    raw, _ = stack.reset(seed=4)
    assert RESET.apply(stack, raw) is raw
    stack.reset(seed=4)
    both = EpisodeStart(grasped=True, built=True).apply(stack, raw)
    assert bottom_on_goal(both) and both["observation"][6] > 0.02  # the fingers hold a cube


def test_the_built_share_is_a_fixed_draw_per_seed_apart_from_the_grasped_one():
    seeds = range(2000)
    built = np.array([starts_built(0.3, seed) for seed in seeds])
    grasped = np.array([starts_grasped(0.3, seed) for seed in seeds])
    assert 0.27 < built.mean() < 0.33
    assert list(built) == [starts_built(0.3, seed) for seed in seeds]
    assert 0.06 < (built & grasped).mean() < 0.12  # independent draws: about 0.09
    assert not any(starts_built(0.0, seed) for seed in seeds)
    assert all(starts_built(1.0, seed) for seed in seeds)


def test_start_shares_come_from_a_config_and_draw_one_start_per_seed():
    shares = StartShares.of(TrainConfig(grasp_start=0.5, tower_start=0.5))
    assert shares == StartShares(grasp_start=0.5, near_goal_share=0.0, tower_start=0.5)
    starts = [shares.draw(seed) for seed in range(400)]
    assert starts == [shares.draw(seed) for seed in range(400)]
    assert {start.goal_fraction for start in starts} == {1.0}
    assert 0.4 < np.mean([s.grasped for s in starts]) < 0.6
    assert 0.18 < np.mean([s.built for s in starts]) < 0.32  # half of the ungrasped ones
    assert not any(s.grasped and s.built for s in starts)  # a grasped start places them too


def test_the_config_validates_and_fades_exactly_the_shares_a_start_draws_from():
    assert START_SHARE_FIELDS == tuple(f.name for f in dataclasses.fields(StartShares))
    for name in START_SHARE_FIELDS:
        with pytest.raises(UsageError, match=f"--{name.replace('_', '-')} must be in"):
            TrainConfig(**{name: 1.5})


def test_exploration_starts_built_in_both_collection_paths_and_evaluation_never(monkeypatch):
    def observe(arguments, run):
        episode = run()
        built = bool(np.allclose(episode.achieved_goal[0, :3], episode.desired_goal[0, :3]))
        return arguments["seed"], arguments.get("start", RESET).built, built

    config = TrainConfig(
        **{**TINY, "episodes_per_cycle": 6, "buffer_size": 10_000},
        env_id="PandaStack-v3",
        num_envs=1,
        tower_start=0.5,
    )
    jobs, explored, evaluated = explored_and_evaluated(monkeypatch, config, observe)
    assert [(seed, built) for seed, built, _ in explored] == [
        (job.seed, job.start.built) for job in jobs
    ]
    assert 0 < sum(job.start.built for job in jobs) < len(jobs), "seed 0 draws both ways"
    assert all(on_goal == built for _, built, on_goal in explored)
    assert len(evaluated) == config.eval_episodes
    assert not any(built or on_goal for _, built, on_goal in evaluated)


@pytest.mark.parametrize("env_id", ["PandaPickAndPlace-v3", "PandaPush-v3"])
def test_tower_start_off_stack_is_one_line_and_writes_nothing(env_id, run_cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--env", env_id, "--tower-start", "0.5", "--out", str(out)])
    assert code != 0 and "--tower-start needs a panda-gym task" in err and env_id in err
    assert err.count("\n") == 1 and not out.exists()
    with pytest.raises(UsageError, match=r"--tower-start must be in \[0, 1\]"):
        TrainConfig(tower_start=-0.1)


def test_faded_shares_scale_every_share_and_at_zero_every_start_is_the_reset():
    shares = StartShares(grasp_start=0.5, near_goal_share=0.4, tower_start=0.2)
    assert shares.scaled(1.0) == shares
    assert shares.scaled(0.5) == StartShares(grasp_start=0.25, near_goal_share=0.2, tower_start=0.1)
    assert all(shares.scaled(0.0).draw(seed) == RESET for seed in range(300))
    half = [shares.scaled(0.5).draw(seed) for seed in range(2000)]
    assert 0.21 < np.mean([s.grasped for s in half]) < 0.29
    assert 0.16 < np.mean([s.goal_fraction < 1 for s in half]) < 0.24


def push_with_near_goals(fade: float) -> TrainConfig:
    return TrainConfig(
        **TINY, env_id="PandaPush-v3", num_envs=1, near_goal_share=1.0, start_fade=fade
    )


def near_goal_starts(trainer, episodes: int = 400) -> float:
    """The share of the next `episodes` exploratory episodes whose goal is pulled in."""
    return float(
        np.mean([trainer.exploratory_start(i)[1].goal_fraction < 1 for i in range(episodes)])
    )


def test_each_epoch_evaluation_fades_the_easier_starts_by_its_success():
    first, second = Trainer(push_with_near_goals(0.5)), Trainer(push_with_near_goals(0.5))
    try:
        assert first.start_scale == 1.0 and near_goal_starts(first) == 1.0
        first.fade_starts(SimpleNamespace(success_rate=0.8))  # 1 - 0.5 * 0.8
        assert first.start_scale == pytest.approx(0.6)
        assert 0.53 < near_goal_starts(first) < 0.67
        first.fade_starts(SimpleNamespace(success_rate=0.2))  # from the latest evaluation alone
        assert first.start_scale == pytest.approx(0.9)
        state = first.state_dict()
        second.load_state_dict(state)
        assert second.start_scale == pytest.approx(0.9)
        del state["start_scale"]  # a checkpoint from before the fade
        second.load_state_dict(state)
        assert second.start_scale == 1.0
    finally:
        first.close()
        second.close()


def test_without_a_fade_the_shares_stay_whatever_the_evaluation():
    trainer = Trainer(push_with_near_goals(0.0))
    try:
        trainer.fade_starts(SimpleNamespace(success_rate=1.0))
        assert trainer.start_scale == 1.0 and near_goal_starts(trainer, 100) == 1.0
    finally:
        trainer.close()


def test_an_epoch_row_records_the_start_scale_its_evaluation_set(tiny_push_fade_run):
    rows = [r for r in tiny_push_fade_run if r["kind"] == "epoch"]
    assert len(rows) == 2
    for row in rows:
        assert row["start_scale"] == pytest.approx(1 - 0.5 * row["success_rate"])


@pytest.mark.parametrize(("fade", "shown"), [(0.5, " | easier starts x0.70"), (0.0, "")])
def test_the_epoch_line_shows_the_faded_start_factor_only_with_a_fade(fade, shown):
    config = TrainConfig(near_goal_share=0.5, start_fade=fade, epochs=2)
    evaluation = SimpleNamespace(success_rate=0.6, mean_return=-20.0, mean_length=30.0)
    stats = SimpleNamespace(
        epoch=1, env_steps=100, wall_time=5.0, evaluation=evaluation, actor_loss=1.0,
        critic1_loss=0.1, critic2_loss=0.1, stop_check=None, start_scale=0.7,
    )  # fmt: skip
    console = Console(file=io.StringIO(), width=300)
    display = TrainingDisplay(console)
    display.config = config
    display.on_epoch(stats)
    line = console.file.getvalue()
    assert line.startswith("epoch 1/2: success 60%")
    assert (" | easier starts x" in line) == bool(shown) and shown in line


@pytest.fixture
def tiny_push_fade_run(tmp_path):
    train(push_with_near_goals(0.5), tmp_path / "run", tensorboard=False, save_buffer=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"near_goal_share": 0.5, "start_fade": -0.1}, "--start-fade must be in [0, 1]"),
        ({"near_goal_share": 0.5, "start_fade": 1.5}, "--start-fade must be in [0, 1]"),
        ({"start_fade": 0.5}, "--start-fade needs an easier start"),
    ],
)
def test_a_fade_out_of_range_or_with_nothing_to_fade_is_refused(fields, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig(**fields)
