"""A training run: the trainer's loop, checkpoints, run folders, metrics, best and stop checks."""
