from dgmbench.testing import isolated  # noqa: F401  (autouse: each test its own results file and folder)
