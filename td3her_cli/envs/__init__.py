"""Goal envs: creation and checks, easier starts (grasped, near goals, built towers),
rollouts, worker envs, the render child."""
