"""`td3her train`'s hyperparameter options are TrainConfig's `option(...)` fields, declared once."""

import dataclasses
import inspect

import typer
from typer.testing import CliRunner

from td3her_cli.cli.options import config_options, config_values, help_text, with_config_options
from td3her_cli.cli.train import train
from td3her_cli.config import TD3, TrainConfig, option, option_of

# Fields that are deliberately not `td3her train` options (presets, code and sweeps set them).
NOT_OPTIONS = {"ou_theta", "ou_dt", "clip_obs", "clip_normalized", "extra"}


def click_params(command) -> dict:
    """{option name: click parameter} of a command, as Typer builds it."""
    app = typer.Typer()
    app.command()(command)
    return {p.opts[0]: p for p in typer.main.get_command(app).params}


def test_every_field_is_a_train_option_or_deliberately_not_one():
    fields = dataclasses.fields(TrainConfig)
    options = {f.name for f in fields if option_of(f) is not None}
    assert options | NOT_OPTIONS == {f.name for f in fields}, "a new field needs option(...)"
    assert not options & NOT_OPTIONS
    assert [each.field for each in config_options()] == [f.name for f in fields if option_of(f)]
    generated = [p.name for p in inspect.signature(train).parameters.values()]
    expected = [each.parameter for each in config_options()]  # in the fields' order
    assert generated[1 : 1 + len(expected)] == expected  # after --preset
    assert generated[0] == "preset" and "out" in generated[len(expected) :]


def test_train_help_shows_each_fields_help_panel_and_default():
    params = click_params(train)
    for each in config_options():
        flag = "--" + each.parameter.replace("_", "-")
        assert params[flag].help == help_text(each), flag
        assert params[flag].rich_help_panel == each.option.panel, flag
    assert params["--env"].help == "Gymnasium goal env id. (default: PandaReach-v3)"
    assert params["--hidden"].help.endswith("(default: 256,256,256)")
    assert params["--env-module"].help == "Module to import for envs it registers (repeatable)."
    assert params["--xla"].secondary_opts == ["--no-xla"]


@dataclasses.dataclass(frozen=True)
class WiderConfig(TrainConfig):
    """TrainConfig with one more hyperparameter, declared as config.py would declare it."""

    dropout: float = option(0.25, "Dropout of the hidden layers.", TD3)


def test_a_new_option_field_appears_in_train_help():
    def command(preset: str | None = None, out: str | None = None, **options) -> None:
        """A command shaped like cli/train.py's `train`."""

    command = with_config_options(after="preset", config_class=WiderConfig)(command)
    params = click_params(command)
    assert params["--dropout"].help == "Dropout of the hidden layers. (default: 0.25)"
    assert params["--dropout"].rich_help_panel == TD3
    names = list(params)
    assert names.index("--preset") < names.index("--dropout") < names.index("--out")
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--dropout" in result.output
    assert "Dropout of the hidden layers. (default: 0.25)" in result.output
    assert config_values({"dropout": 0.5}, WiderConfig) == {"dropout": 0.5}


def test_parsed_values_become_config_values():
    given = {"env": "PointGoal-v0", "env_module": ["tests.point_goal_env"], "hidden": "64,32"}
    assert config_values({**given, "seed": None, "xla": False}) == {
        "env_id": "PointGoal-v0",
        "env_modules": ("tests.point_goal_env",),
        "hidden": (64, 32),
        "xla": False,
    }
    assert config_values({"env_module": []}) == {}
