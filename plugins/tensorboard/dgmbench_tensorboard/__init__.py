"""dgmbench-tensorboard: TensorBoard event files for every run, from dgmbench's event hooks alone
(the hookimpls are in :mod:`dgmbench_tensorboard.plugin`)."""
