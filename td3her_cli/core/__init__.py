"""The learner: TD3's update and networks, HER's replay buffer, normaliser, noise.

Imports nothing of td3her's but the foundation (config, errors, ...): tests/test_layers.py.
"""
