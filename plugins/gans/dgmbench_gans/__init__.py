"""dgmbench-gans: the GAN family on one shared DCGAN backbone (:mod:`dgmbench_gans.backbone`)."""
