"""Configs are dataclasses, loaded from YAML, overridden by CLI options, passed explicitly.

There is no module-level config object: every stage takes its config as an argument.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from wood.errors import ConfigError

C = TypeVar("C")


def option(
    help: str, default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **meta: Any
) -> Any:
    """A config dataclass field with its help text: ``option("Image side in pixels.", 256)``.

    ``default`` (or ``default_factory``) as for ``dataclasses.field``; neither makes the field required.
    ``meta`` is the field's other metadata, read by wood/cli/options.py: ``flag``, ``choices``,
    ``default_text``, ``cli``, ``multiple``, ``was`` (see its docstring).
    """
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"help": help, **meta})


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


def _type_name(tp: Any) -> str:
    """'an int', 'a list of str', 'a str or None' ... for error messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin in (list, tuple):
        return f"a list of {_type_name(args[0]).split(' ', 1)[-1]}" if args else "a list"
    if origin is dict or tp is dict:
        return "a mapping"
    name = {Path: "path", bool: "bool (true/false)"}.get(tp, getattr(tp, "__name__", str(tp)))
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


_NO = object()  # "does not match" (None is a valid value)


def _coerce(value: Any, tp: Any, top: bool = True) -> Any:
    """``value`` if it fits type ``tp`` (possibly converted, see check_types), else ``_NO``.
    ``top``: a config value itself, not an item of a list."""
    if tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None if type(None) in args else _NO
        for arg in sorted((a for a in args if a is not type(None)), key=lambda a: a is str):  # str last
            out = _coerce(value, arg, top)
            if out is not _NO:
                return out
        return _NO
    if tp is type(None):
        return None if value is None else _NO
    if origin in (list, tuple):
        if isinstance(value, str) and args and args[0] is str:
            return value  # "attn,mlp": the config's __post_init__ splits it
        if not isinstance(value, (list, tuple)):
            return _NO
        items = [_coerce(v, args[0], top=False) if args else v for v in value]
        return _NO if any(v is _NO for v in items) else items
    if origin is dict or tp is dict:
        return value if isinstance(value, dict) else _NO
    if tp is bool:
        return value if isinstance(value, bool) else _NO
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO
    if tp is float:
        if isinstance(value, bool):
            return _NO
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                return _NO
        return _NO
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return str(value)
        return str(value) if top and isinstance(value, int) and not isinstance(value, bool) else _NO  # `device: 0`
    if tp is Path:
        return value if isinstance(value, (str, os.PathLike)) else _NO
    if isinstance(tp, type):
        return value if isinstance(value, tp) else _NO
    return value  # an annotation we do not check (Literal, TypeVar, ...)


def check_types(cls: type, values: dict[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """``values`` checked against the annotated field types of dataclass ``cls``.

    Accepts what YAML and the CLI give: an int for a float (and a numeric string such as ``1e-4``,
    which YAML 1.1 reads as a string), a string for a Path, an int for a str (``device: 0``), a
    comma-separated string for a list of str. A bool is never an int. Anything else is a
    ConfigError naming the key, the expected type and the value, with ``path`` (the config file).
    """
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation that does not resolve: leave the checks to the class
        hints = {}
    out = {}
    for key, value in values.items():
        tp = hints.get(key, Any)
        fixed = _coerce(value, tp)
        if fixed is _NO:
            raise ConfigError(f"{key} must be {_type_name(tp)}, but got {value!r}", path)
        out[key] = fixed
    return out


def build_config(cls: type[C], file: str | Path | None = None, **overrides: Any) -> C:
    """Make a ``cls`` dataclass from an optional YAML ``file``, then CLI ``overrides``.

    Overrides whose value is None are ignored (the option was not given). Unknown keys in
    the file are a ConfigError, so a typo never passes silently; so is a value of the wrong
    type (see :func:`check_types`), naming the key, and a field without a default that neither
    gives. Keys a field was renamed from (``metadata["was"]``) are read as the field.
    """
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    if file is not None:
        data = renamed_keys(cls, read_yaml(file))
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; expected some of {sorted(fields)}", file)
        values.update(check_types(cls, data, file))
    given = {k: v for k, v in overrides.items() if v is not None and k in fields}
    values.update(check_types(cls, given))
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.init  # type: ignore[arg-type]
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        key = missing[0]
        raise ConfigError(f"{key} is required: give --{key.replace('_', '-')} or `{key}:` in a --config file", file)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), file) from exc
    except ConfigError as exc:
        if exc.path is None and file is not None:
            exc.path = str(file)
        raise


def renamed_keys(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with keys a field was renamed from (its ``metadata["was"]``, e.g. ``image_size`` for
    ``imgsz``) under the field's name, so config files of older runs still load."""
    out = dict(data)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        for old in f.metadata.get("was", ()):
            if old in out and f.name not in out:
                out[f.name] = out.pop(old)
    return out


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
