"""The flow models (heavy: torch). The plugin modules one level up name them by string."""
