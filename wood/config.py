"""Configs are dataclasses, loaded from YAML, overridden by CLI options, passed explicitly.

There is no module-level config object: every stage takes its config as an argument.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from wood.errors import ConfigError

C = TypeVar("C")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or a non-mapping is a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file does not exist", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid YAML ({exc.__class__.__name__})", path) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, but got {type(data).__name__}", path)
    return data


def build_config(cls: type[C], file: str | Path | None = None, **overrides: Any) -> C:
    """Make a ``cls`` dataclass from an optional YAML ``file``, then CLI ``overrides``.

    Overrides whose value is None are ignored (the option was not given). Unknown keys in
    the file are a ConfigError, so a typo never passes silently.
    """
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    if file is not None:
        data = read_yaml(file)
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; expected some of {sorted(fields)}", file)
        values.update(data)
    values.update({k: v for k, v in overrides.items() if v is not None and k in fields})
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), file) from exc


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON/YAML-safe dict of a config dataclass (paths become strings)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {k: clean(v) for k, v in dataclasses.asdict(config).items()}


def write_config(config: Any, path: str | Path) -> None:
    """Save the resolved config as YAML (the run folder's record of what was used)."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")
