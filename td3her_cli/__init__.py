"""td3her: TD3 + Hindsight Experience Replay for goal-conditioned gymnasium tasks."""

__version__ = "0.1.0"
