"""`td3her train`'s hyperparameter options, built from TrainConfig's `option(...)` fields.

Each option is declared once, on its config field (help text, panel, default); this module
turns the fields into the command's Typer parameters and the parsed values back into config
values. Typer reads a command's parameters from `inspect.signature`, so the command gets a
generated `__signature__`.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from td3her_cli.config import Option, TrainConfig, option_of


@dataclasses.dataclass(frozen=True)
class ConfigOption:
    """One TrainConfig field as a command-line option."""

    field: str  # the TrainConfig field, e.g. env_id
    parameter: str  # the command's parameter, e.g. env (Typer shows it as --env)
    option: Option
    annotation: Any  # the type Typer parses: the field's, list[str] for a tuple, str for text
    default: Any  # the field's default, shown in the help


def config_options(config_class: type = TrainConfig) -> list[ConfigOption]:
    """The fields of `config_class` that are options, in declaration order."""
    hints = typing.get_type_hints(config_class)
    options = []
    for each in dataclasses.fields(config_class):
        option = option_of(each)
        if option is None:
            continue
        kind = hints[each.name]
        if option.from_text is not None:
            annotation: Any = str
        elif typing.get_origin(kind) is tuple:  # repeated: --env-module a --env-module b
            annotation = list[typing.get_args(kind)[0]]
        else:
            annotation = kind
        parameter = option.flag_of(each.name).lstrip("-").replace("-", "_")
        options.append(ConfigOption(each.name, parameter, option, annotation, each.default))
    return options


def help_text(each: ConfigOption) -> str:
    """The option's help, ending with the field's default: "Batch size. (default: 256)"."""
    if not each.option.show_default:
        return each.option.help
    default = each.default
    if isinstance(default, tuple):
        default = ",".join(str(v) for v in default)
    return f"{each.option.help} (default: {default})"


def option_parameters(config_class: type = TrainConfig) -> list[inspect.Parameter]:
    """A keyword parameter per option, as Typer reads it: `Annotated[T | None,
    typer.Option(...)] = None`, None meaning "not given" (the preset or default holds)."""
    return [
        inspect.Parameter(
            each.parameter,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                each.annotation | None,
                typer.Option(
                    help=help_text(each),
                    rich_help_panel=each.option.panel,
                    show_default=False,
                    parser=each.option.parser,
                ),
            ],
        )
        for each in config_options(config_class)
    ]


def with_config_options(after: str, config_class: type = TrainConfig) -> Callable:
    """Decorate a command taking `**options`: Typer sees a parameter per option of
    `config_class`, listed after the command's parameter `after`, and passes their values
    (by parameter name) in `options`."""

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in signature.parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        at = [p.name for p in own].index(after) + 1
        parameters = [*own[:at], *option_parameters(config_class), *own[at:]]
        command.__signature__ = signature.replace(parameters=parameters)
        return command

    return decorate


def config_values(given: dict[str, Any], config_class: type = TrainConfig) -> dict[str, Any]:
    """The config values of the options in `given` ({parameter: parsed value}), by field
    name; options not given (None, or no repeated value) are left out."""
    values = {}
    for each in config_options(config_class):
        value = given.get(each.parameter)
        if each.option.from_text is not None and value is not None:
            value = each.option.from_text(value)
        elif typing.get_origin(each.annotation) is list:
            value = tuple(value) if value else None
        if value is not None:
            values[each.field] = value
    return values
