"""Errors the command line turns into one clear line and a non-zero exit."""
from __future__ import annotations

import difflib


class DgmbenchError(Exception):
    """Base class: the message is shown to the user as is, without a traceback."""

    exit_code = 2


class UnknownName(DgmbenchError):
    """An unknown plugin, model, dataset, metric or protocol."""

    def __init__(self, kind: str, name: str, known):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        listing = f" (known: {', '.join(known)})" if len(known) <= 30 else ""
        super().__init__(f"unknown {kind} {name!r}{hint}{listing}")


class DataError(DgmbenchError):
    """A missing, partial beyond use, or corrupt data file, or a failed download."""


class UnsupportedMetric(DgmbenchError):
    """A metric the model's capabilities cannot support."""


class TrainingDiverged(DgmbenchError):
    """A NaN or infinite loss."""

    exit_code = 1


class PluginError(DgmbenchError):
    """A plugin that failed to import or returned malformed specs."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch scheduler's time limit): handled like Ctrl-C, exit code 143."""


class StoreError(DgmbenchError):
    """A results file that cannot be used: not SQLite, damaged, read-only, a folder, a full disk."""


class ConfigError(DgmbenchError):
    """A model config key the model does not declare, or a value of the wrong type."""


def closest(name: str, known) -> str:
    """'; did you mean a, b?' for the known names closest to ``name`` (or '')."""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""
