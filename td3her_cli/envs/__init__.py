"""Goal envs: creation and checks, grasped starts, rollouts, worker envs, the render child."""
