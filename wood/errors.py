"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class WoodError(Exception):
    """A problem with the user's input: a file, an option or a config.

    ``path`` names the file at fault (may be None); ``message`` says what is wrong and,
    where possible, what to do.
    """

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DataError(WoodError):
    """A dataset on disk is missing, unreadable or inconsistent."""


class MisMatchError(DataError):
    """Two things that must agree do not (an image and its mask, a run and a dataset)."""


class ConfigError(WoodError):
    """A config file or option is invalid (unknown key, unknown class name, bad value)."""


class WeightsError(WoodError):
    """Pretrained weights are missing or unusable. The message says where to put them."""
