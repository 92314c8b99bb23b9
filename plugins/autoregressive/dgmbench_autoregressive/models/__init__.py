"""The networks (heavy modules, imported only when a model is built)."""
