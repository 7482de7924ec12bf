"""The learner: TD3's update and networks, HER's replay buffer, normaliser, noise.

Imports nothing of td3her's but config and errors (a test keeps it so)."""
