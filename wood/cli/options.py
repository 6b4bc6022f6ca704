"""Typer commands whose options come from a config dataclass: one source per option.

A field of the dataclass is the option: its name gives the flag (``patch_size`` -> ``--patch-size``),
its type the parser, its ``metadata["help"]`` the help text, its default what ``--help`` shows.
An option the user did not give (its click parameter source is the default) is left out, so a
``--config`` YAML, then the dataclass default, wins: see wood.config.build_config. The click
default is only there to be shown: the dataclass default as the command line spells it
(``[default: 0.0001]``, ``[default: attn,mlp]``, ``[default: no-resume]``), or, for a field whose
default is None, None and a description (``[default: (torch's own choice)]``).

Field metadata read here (all optional but ``help``):

- ``help``: one line of help text.
- ``flag``: the flag (or a tuple of flags, e.g. ``("--out", "-o")``) instead of ``--field-name``.
- ``choices``: the allowed values, listed in the help (the dataclass checks them).
- ``default_text``: what ``--help`` shows as the default where the value says little (None);
  False shows no default at all (an option that is off, or someone else's, when not given).
- ``negatable``: False for a bool that is a plain flag (``--half``, no ``--no-half``).
- ``multiple``: a list field whose option may be repeated (``--prompt a --prompt b``) or, as a
  positional argument, takes any number of values (image files).
- ``cli``: False for config-file-only fields (mappings such as ``train_args``).
- ``was``: older names of the field, still read from YAML files (wood.config.renamed_keys).

A field whose type is itself a config dataclass (``slicing: SliceConfig``) is a group: its fields
are options in its place, and the command's config gets it built from them (wood.config.build_config).
Fields are made with wood.config.option (help text plus this metadata).

Imports only typer, the standard library and wood.config (core layer).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Optional

import typer

from wood.config import build_config

CONFIG_HELP = "YAML file of any of these options (keys are the field names); options given here win over it."
CTX = "wood_click_context_"  # the wrapper's typer.Context parameter (typer fills it in; never an option)


def flag_names(f: dataclasses.Field) -> tuple[str, ...]:
    """The flags of field ``f``: ``metadata["flag"]`` or ``--field-name``."""
    flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
    return (flag,) if isinstance(flag, str) else tuple(flag)


def cli_fields(cls: type, exclude: Iterable[str] = ()) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are command-line options (not excluded, not ``cli: False``)."""
    skip = set(exclude)
    return [f for f in dataclasses.fields(cls) if f.name not in skip and f.metadata.get("cli", True)]


def has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def default_value(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def format_value(value: Any) -> str:
    """A default as the command line would spell it: 1e-4 -> 0.0001, [attn, mlp] -> attn,mlp, None -> none."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def default_text(f: dataclasses.Field) -> str | None:
    """The description ``--help`` shows (in parentheses) as the default of a field whose default is None:
    ``metadata["default_text"]`` or ``none``; None for a field with a value (shown as it is) or none at all."""
    if "default_text" in f.metadata:
        return f.metadata["default_text"] or None
    if has_default(f) and default_value(f) is None:
        return "none"
    return None


def shown_default(f: dataclasses.Field) -> Any:
    """The click default of field ``f``, there to be shown: its value as the command line spells it
    (a bool stays a bool: typer shows ``flip`` / ``no-flip``), or None (required, or described)."""
    if not has_default(f) or "default_text" in f.metadata:
        return None
    value = default_value(f)
    return value if isinstance(value, (bool, int)) or value is None else format_value(value)


def help_text(f: dataclasses.Field, argument: bool = False, config: bool = True) -> str:
    """The field's help as one sentence, with its choices listed."""
    text = str(f.metadata.get("help", "")).strip()
    if not text:
        raise TypeError(f"field {f.name!r} has no metadata help text")
    text = text[0].upper() + text[1:]
    text = text if text.endswith(".") else text + "."
    if f.metadata.get("choices"):
        text += " One of: " + " | ".join(map(str, f.metadata["choices"])) + "."
    if not has_default(f) and not argument and config:  # click requires the others (arguments, no --config)
        text += " Required, here or in --config."
    return text


def option_type(f: dataclasses.Field, hints: dict[str, Any]) -> Any:
    """The type typer parses for field ``f``: X for ``X | None``; a str for lists and tuples
    (comma-separated: the dataclass splits them); a TypeError for mappings (mark them ``cli: False``)."""
    tp = hints.get(f.name, str)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        tp = rest[0] if len(rest) == 1 else str
        origin = typing.get_origin(tp)
    if origin is dict or tp is dict:
        raise TypeError(f"field {f.name!r} is a mapping: mark it metadata cli=False (config file only)")
    if f.metadata.get("multiple"):
        if origin not in (list, tuple):
            raise TypeError(f"field {f.name!r} is marked multiple but is not a list")
        item = typing.get_args(tp)[0] if typing.get_args(tp) else str
        return list[item if item in (bool, int, float, str, Path) else str]
    if origin in (list, tuple) or tp in (list, tuple):
        return str
    return tp if tp in (bool, int, float, str, Path) else str


def field_parameter(
    f: dataclasses.Field, hints: dict[str, Any], argument: bool = False, config: bool = True
) -> inspect.Parameter:
    """The typer parameter of field ``f``: an Option (``--x/--no-x`` for a bool) or, with ``argument``,
    a positional Argument (required when the field has no default). Without ``config`` (no --config
    file) an option without a default is required by click."""
    tp = option_type(f, hints)
    default, described = shown_default(f), default_text(f)
    show: bool | str = has_default(f) and f.metadata.get("default_text") is not False
    if described is not None:
        show = described
    if argument:
        info = typer.Argument(default if has_default(f) else ..., help=help_text(f, argument=True), show_default=show)
    else:
        flags = flag_names(f)
        if tp is bool and f.metadata.get("negatable", True):
            flags = (f"{flags[0]}/--no-{flags[0][2:]}", *flags[1:])
        required = not has_default(f) and not config
        info = typer.Option(... if required else default, *flags, help=help_text(f, config=config), show_default=show)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=Optional[tp])


def group_class(f: dataclasses.Field, hints: dict[str, Any]) -> type | None:
    """The config dataclass a group field holds (``slicing: SliceConfig``), else None."""
    tp = hints.get(f.name)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def expand_fields(
    cls: type, exclude: Iterable[str] = ()
) -> tuple[dict[str, tuple[dataclasses.Field, dict[str, Any]]], dict[str, tuple[type, list[str]]]]:
    """The option fields of ``cls`` in order, a group field's own fields in its place:
    ({name: (field, its class's type hints)}, {group: (its class, its field names)})."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, tuple[dataclasses.Field, dict[str, Any]]] = {}
    groups: dict[str, tuple[type, list[str]]] = {}
    for f in cli_fields(cls, exclude):
        sub = group_class(f, hints)
        if sub is None:
            fields[f.name] = (f, hints)
            continue
        sub_hints = typing.get_type_hints(sub)
        inner = cli_fields(sub)
        groups[f.name] = (sub, [g.name for g in inner])
        for g in inner:
            if g.name in fields or g.name in {h.name for h in dataclasses.fields(cls)}:
                raise TypeError(f"{cls.__name__}.{f.name}: field {g.name!r} of {sub.__name__} is also a field")
            fields[g.name] = (g, sub_hints)
    return fields, groups


def given(ctx: typer.Context, name: str) -> bool:
    """Whether parameter ``name`` came from the command line (or the environment), not its default.
    Compared by name: typer ships its own copy of click, whose ParameterSource is not click's."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def config_command(
    cls: type,
    *,
    exclude: Iterable[str] = (),
    arguments: Iterable[str] = (),
    config: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``func(cfg, **own)`` becomes a typer command whose options are ``cls``'s fields.

    The command gets one option per field of ``cls`` (see the module docstring), the fields named in
    ``arguments`` as positional arguments (in that order), ``--config FILE`` (unless ``config`` is
    False) and ``func``'s own parameters after its first one (typer parameters, passed by name). On
    a call it builds ``cfg = build_config(cls, config_file, **options_given)``, so the command line
    beats the YAML file, which beats the dataclass default, and calls ``func(cfg, **own)``. A
    command with no ``--config`` at all (``config`` False and no ``config`` parameter of ``func``'s
    own) has click require the options without a default, as a hand-written ``typer.Option(...)``.
    """
    exclude, arguments = set(exclude), list(arguments)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(func, eval_str=True).parameters.values())[1:]
        fields, groups = expand_fields(cls, exclude)
        taken = set(fields) | ({"config"} if config else set())
        clash = sorted({p.name for p in own} & taken)
        if clash:
            raise TypeError(f"{func.__name__}: parameter(s) {clash} are also config fields")
        has_config = config or "config" in {p.name for p in own}  # its own --config may give what is missing
        params = [field_parameter(*fields[name], argument=True) for name in arguments]
        params += [field_parameter(*fields[name], config=has_config) for name in fields if name not in arguments]
        if config:
            params.append(
                inspect.Parameter(
                    "config",
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=Optional[Path],
                    default=typer.Option(None, "--config", help=CONFIG_HELP, show_default=False),
                )
            )
        params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        params.append(inspect.Parameter(CTX, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
        own_names = {p.name for p in own}

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            ctx = kwargs.pop(CTX)
            extra = {k: kwargs.pop(k) for k in own_names}
            file = kwargs.pop("config", None)
            options = {k: v for k, v in kwargs.items() if given(ctx, k)}
            for group, (sub, names) in groups.items():
                inner = {k: options.pop(k) for k in names if k in options}
                if inner:  # else the group's default (or the --config file's)
                    options[group] = build_config(sub, None, **inner)
            return func(build_config(cls, file, **options), **extra)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
