"""A minimal dgmbench plugin (see docs/plugins.md)."""
