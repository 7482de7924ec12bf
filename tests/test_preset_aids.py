"""A preset's training aids that the env cannot give (a Joints variant has no table-plane
positions to shift or mirror) are left off with a warning; the same aid given on the command
line is refused."""

import json

import pytest

from td3her_cli.cli.common import without_aids
from td3her_cli.config import TrainConfig
from td3her_cli.envs.aids import refused_aids
from td3her_cli.envs.goal_env import make_env
from tests.conftest import tiny_cli_args

SLIDE_AIDS = {"augment_shift": 0.1, "augment_reflect": 0.5, "near_goal_share": 0.5}
OFF = {"augment_shift": 0.0, "augment_reflect": 0.0}  # a Joints variant: no table-plane positions


@pytest.mark.parametrize(
    ("env_id", "aids", "refused"),
    [
        ("PandaSlide-v3", {**SLIDE_AIDS, "start_fade": 0.5}, ()),
        ("PandaSlideJoints-v3", {**SLIDE_AIDS, "start_fade": 0.5}, tuple(OFF)),  # near goals: yes
        ("PandaPushJoints-v3", {"augment_shift": 0.1}, ("augment_shift",)),
    ],
)
def test_the_aids_an_env_refuses_are_named_each_on_its_own(env_id, aids, refused):
    env = make_env(env_id)
    try:
        assert refused_aids(env, TrainConfig(env_id=env_id, **aids)) == refused
    finally:
        env.close()


def test_a_joints_variant_trains_with_its_familys_preset_minus_the_aids_it_cannot_take(
    run_cli, tmp_path
):
    out = tmp_path / "run"
    args = tiny_cli_args(epochs=1, best_eval_episodes=0)
    code, _, err = run_cli(["train", "--env", "PandaSlideJoints-v3", *args, "--out", str(out)])
    assert code == 0, err
    assert "preset slide's --augment-shift and --augment-reflect are off" in err
    config = json.loads((out / "config.json").read_text())
    assert {name: config[name] for name in SLIDE_AIDS} == {**SLIDE_AIDS, **OFF}
    assert config["extra"]["preset_aids_off"] == list(OFF)
    assert config["optimization_steps"] == 5 and config["hidden"] == [32, 32]  # the rest holds


@pytest.mark.parametrize("given", ["--augment-shift", "--augment-reflect"])
def test_an_aid_given_on_the_command_line_is_still_refused(given, run_cli, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--env", "PandaSlideJoints-v3", given, "0.1", "--out", str(out)]
    code, _, err = run_cli(args)
    assert code != 0 and f"{given} needs an end-effector-controlled" in err
    assert err.count("\n") == 1 and not out.exists()


def test_an_env_that_takes_every_aid_of_its_preset_changes_nothing(run_cli, tmp_path):
    out = tmp_path / "run"
    args = tiny_cli_args(epochs=1, best_eval_episodes=0)
    code, _, err = run_cli(["train", "--env", "PandaSlide-v3", *args, "--out", str(out)])
    assert code == 0 and "are off" not in err and "is off" not in err
    config = json.loads((out / "config.json").read_text())
    assert {name: config[name] for name in SLIDE_AIDS} == SLIDE_AIDS
    assert "preset_aids_off" not in config["extra"]


def test_leaving_off_every_easier_start_leaves_off_its_fade_too():
    config = TrainConfig(near_goal_share=0.5, start_fade=0.5, augment_shift=0.1, extra={"a": 1})
    shifted_off = without_aids(config, ["augment_shift"])
    assert (shifted_off.augment_shift, shifted_off.start_fade) == (0.0, 0.5)
    assert shifted_off.extra == {"a": 1, "preset_aids_off": ["augment_shift"]}
    all_off = without_aids(config, ["near_goal_share", "augment_shift"])
    assert (all_off.near_goal_share, all_off.augment_shift, all_off.start_fade) == (0, 0, 0)
