"""Option validation: each bad value names the option and the allowed range."""

import re

import pytest

from td3her_cli.config import TrainConfig, parse_hidden
from td3her_cli.errors import UsageError


def test_defaults_are_the_original_design():
    config = TrainConfig()
    assert (config.epochs, config.cycles, config.episodes_per_cycle) == (10, 50, 16)
    assert (config.optimization_steps, config.eval_episodes, config.batch_size) == (40, 10, 256)
    assert (config.actor_lr, config.critic_lr, config.gamma, config.tau) == (
        1e-3,
        5e-4,
        0.99,
        0.001,
    )
    assert (config.policy_delay, config.buffer_size, config.her_strategy) == (3, 10**6, "future")
    assert (config.her_k, config.noise, config.hidden) == (4, "ou", (256, 256, 256))
    assert config.her_relabel_fraction == pytest.approx(0.8)
    assert config.policy_average == 0.0  # the actor itself is evaluated, as originally


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "--epochs must be > 0"),
        ({"eval_episodes": -1}, "--eval-episodes must be > 0"),
        ({"actor_lr": 0.0}, "--actor-lr must be > 0"),
        ({"critic_lr": -1e-3}, "--critic-lr must be > 0"),
        ({"gamma": 0.0}, "--gamma must be in (0, 1]"),
        ({"gamma": 1.5}, "--gamma must be in (0, 1]"),
        ({"tau": 0.0}, "--tau must be in (0, 1]"),
        (
            {"batch_size": 512, "buffer_size": 256},
            "--batch-size (512) is larger than --buffer-size",
        ),
        ({"her_strategy": "past"}, "--her-strategy must be one of"),
        ({"n_step": 0}, "--n-step must be > 0"),
        ({"num_envs": 65}, "--num-envs must be at most 64"),
        ({"noise": "pink"}, "--noise must be one of"),
        ({"precision": "float16"}, "--precision must be one of float32, bfloat16"),
        ({"policy_average": -0.1}, "--policy-average must be in [0, 1]"),
        ({"policy_average": 1.5}, "--policy-average must be in [0, 1]"),
        ({"hidden": (256, 0)}, "--hidden widths must be positive"),
        ({"random_steps": -5}, "--random-steps must be >= 0"),
        ({"target_noise_clip": float("inf")}, "--target-noise-clip must be a finite number"),
        ({"actor_lr": float("nan")}, "--actor-lr must be a finite number"),
    ],
)
def test_bad_values_are_rejected_with_the_option_name(changes, message):
    with pytest.raises(UsageError) as error:
        TrainConfig(**changes)
    assert message in str(error.value)


def test_json_round_trip():
    config = TrainConfig(hidden=(64, 32), seed=3, her_strategy="final")
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(UsageError, match="unknown config keys: bogus"):
        TrainConfig.from_dict({**config.to_dict(), "bogus": 1})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"extra": None}, "extra is null, not an object"),
        ({"env_modules": 5}, "env_modules is 5, not a list of strings"),
        ({"hidden": [64, "wide"]}, 'hidden is [64, "wide"], not a list of integers'),
        ({"xla": 1}, "xla is 1, not true or false"),
        ({"batch_size": 256.0}, "batch_size is 256.0, not an integer"),
        ({"gamma": "0.98"}, 'gamma is "0.98", not a number'),
        (
            {"actor_lr": 10**400},
            "actor_lr is 1000000000000000000000000000000000000..., not a number",
        ),
    ],
)
def test_a_saved_config_of_the_wrong_types_is_refused_naming_the_field(changes, message):
    saved = TrainConfig().to_dict() | {"gamma": 1}  # an integer is a number
    assert TrainConfig.from_dict(saved).gamma == 1
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig.from_dict(saved | changes)


def test_strict_json_writes_null_for_non_finite_floats():
    from td3her_cli import strict_json

    text = strict_json.dumps({"loss": float("nan"), "q": [1.5, float("-inf")], "n": 3})
    assert text == '{"loss": null, "q": [1.5, null], "n": 3}'
    assert strict_json.none_to_nan(None) != strict_json.none_to_nan(None)  # NaN
    assert strict_json.none_to_nan(2) == 2.0


def test_parse_hidden():
    assert parse_hidden("256,256,256") == (256, 256, 256)
    assert parse_hidden("64x128") == (64, 128)  # as sweep's --grid and --set write it
    with pytest.raises(UsageError, match="got '64x,64'"):
        parse_hidden("64x,64")
    with pytest.raises(UsageError):
        parse_hidden("256,x")
    with pytest.raises(UsageError):
        parse_hidden("")


@pytest.mark.parametrize(
    ("env_id", "preset"),
    [
        ("PandaPickAndPlace-v3", "pick-and-place"),
        ("PandaPushDense-v3", "push"),
        ("PandaSlideJoints-v3", "slide"),
        ("FetchSlide-v4", "fetch-slide"),
        ("PandaStackJointsDense-v3", "stack"),
        ("PandaFlip-v3", "flip"),
        ("PandaReach-v3", "original"),
        ("PointGoal-v0", "original"),
        ("FetchPush-v4", "push"),
        ("FetchPickAndPlaceDense-v4", "fetch-pick-and-place"),
        ("FetchReach-v4", "original"),
        (None, "original"),
    ],
)
def test_an_env_gets_its_familys_preset_unless_one_is_given(env_id, preset):
    from td3her_cli.presets import choose_preset

    assert choose_preset(None, env_id) == (preset, True)
    assert choose_preset("fast", env_id) == ("fast", False)


def test_every_preset_is_a_valid_config_and_each_panda_env_has_one_family():
    import fnmatch

    import gymnasium as gym

    from td3her_cli.presets import load_presets, preset_values

    presets = load_presets()
    assert {
        "original",
        "fast",
        "push",
        "pick-and-place",
        "slide",
        "fetch-slide",
        "stack",
        "flip",
    } <= set(presets)
    for name in presets:
        TrainConfig(**preset_values(name))  # raises on a bad value
        assert "default_for" not in preset_values(name)
    import panda_gym  # noqa: F401 - registers the ids

    for env_id in (i for i in gym.registry if i.startswith("Panda") and i.endswith("-v3")):
        claims = [
            name
            for name, values in presets.items()
            if any(fnmatch.fnmatchcase(env_id, p) for p in values.get("default_for", ()))
        ]
        assert len(claims) <= 1, f"{env_id} is claimed by {claims}"
        assert claims or env_id.startswith("PandaReach"), f"{env_id} has no preset"


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_her_random_goals_is_a_share(share):
    with pytest.raises(UsageError, match="--her-random-goals must be in"):
        TrainConfig(her_random_goals=share)


def test_every_preset_that_stops_itself_checks_the_stop_on_at_least_100_episodes():
    from td3her_cli.presets import load_presets, preset_values

    for name in load_presets():
        config = TrainConfig(**preset_values(name))
        if config.stop_at_success > 0:
            assert config.stop_check_count >= 100, f"{name} stops on 20 episodes unchecked"
