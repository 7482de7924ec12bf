"""The `td3her` command line: parse options -> config -> call the library -> show the result.

app.py holds the Typer app and `main`; each command has its module (train, evaluate, envs,
render, export, plot, sweep, sweep_report); options.py builds train's hyperparameter options
from TrainConfig's fields; common.py has what several commands share.
"""
