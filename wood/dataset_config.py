"""Dataset configs (datasets/<category>.yaml): class colours and YOLO-World text prompts."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from wood.config import read_yaml
from wood.errors import ConfigError

HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_PALETTE = [
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#469990",
    "#9a6324",
]


@dataclass
class ClassInfo:
    """Display colour ("#rrggbb") and text prompts of one class."""

    colour: str
    prompts: list[str] = field(default_factory=list)


@dataclass
class DatasetConfig:
    category: str
    classes: dict[str, ClassInfo]
    path: str | None = None

    def colour_rgb(self, name: str, index: int = 0) -> tuple[int, int, int]:
        """The RGB colour of a class (a palette colour for classes the config does not list)."""
        info = self.classes.get(name)
        hexcode = info.colour if info else DEFAULT_PALETTE[index % len(DEFAULT_PALETTE)]
        return tuple(int(hexcode[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]

    def prompts_for(self, name: str) -> list[str]:
        """Text prompts of a class; a class with none gets "a <name> defect"."""
        info = self.classes.get(name)
        return list(info.prompts) if info and info.prompts else [f"a {name.replace('_', ' ')} defect"]

    def check_classes(self, known: list[str]) -> None:
        """Raise ConfigError if the config names a class the dataset does not have."""
        unknown = sorted(set(self.classes) - set(known))
        if unknown:
            raise ConfigError(f"unknown class name(s) {unknown}; the dataset has {sorted(known)}", self.path)


def packaged_config_path(category: str) -> Path | None:
    """datasets/<category>.yaml shipped with wood, if there is one (never for a name that is a path:
    a category read from a manifest is data)."""
    if not isinstance(category, str) or not category or any(c in category for c in "/\\\0") or category in (".", ".."):
        return None
    candidate = resources.files("wood.datasets").joinpath(f"{category}.yaml")
    return Path(str(candidate)) if candidate.is_file() else None


def load_dataset_config(category: str, path: str | Path | None = None) -> DatasetConfig:
    """Load a dataset config from ``path``, else the packaged one for ``category``, else an empty one."""
    path = Path(path) if path is not None else packaged_config_path(category)
    if path is None:
        return DatasetConfig(category=category, classes={})
    data = read_yaml(path)
    raw_classes = data.get("classes", {}) or {}
    if not isinstance(raw_classes, dict):
        raise ConfigError("`classes` must map class names to {colour, prompts}", path)
    classes: dict[str, ClassInfo] = {}
    for i, (name, info) in enumerate(raw_classes.items()):
        info = info or {}
        if not isinstance(info, dict):
            raise ConfigError(f"class '{name}' must be a mapping with colour and prompts", path)
        classes[str(name)] = ClassInfo(
            colour=_colour(info, f"classes.{name}.colour", DEFAULT_PALETTE[i % len(DEFAULT_PALETTE)], path),
            prompts=_prompts(info, f"classes.{name}.prompts", path),
        )
    return DatasetConfig(category=str(data.get("category", category)), classes=classes, path=str(path))


def _colour(info: dict, key: str, default: str, path: Path) -> str:
    """The class colour as '#rrggbb' (checked here, so a bad one stops before any image is read)."""
    colour = info.get("colour", default)
    if colour is None:
        raise ConfigError(f"{key} is empty (quote it in YAML: colour: '#e6194b'; an unquoted # starts a comment)", path)
    if not isinstance(colour, str) or not HEX_COLOUR.fullmatch(colour):
        raise ConfigError(f"{key} must look like '#rrggbb' (hex digits), but got {colour!r}", path)
    return colour


def _prompts(info: dict, key: str, path: Path) -> list[str]:
    prompts = info.get("prompts", []) or []
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, list) or not all(isinstance(p, (str, int, float)) for p in prompts):
        raise ConfigError(f"{key} must be a text or a list of texts, but got {prompts!r}", path)
    return [str(p) for p in prompts]


def unknown_defect_types(types: list[str], dataset: DatasetConfig) -> list[str]:
    """The defect types (folder names) that ``dataset`` does not list, sorted.

    None when the config lists no classes (a category without a dataset config).
    """
    if not dataset.classes:
        return []
    return sorted(set(types) - set(dataset.classes))


def describe_unknown_types(unknown: list[str], dataset: DatasetConfig) -> str:
    """One line saying which folders the config does not know, the known classes and close matches."""
    known = sorted(dataset.classes)
    guesses = [f"'{m[0]}' for '{t}'" for t in unknown if (m := difflib.get_close_matches(t, known, n=1))]
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
    names = ", ".join(f"'{t}'" for t in unknown)
    where = dataset.path or "the dataset config"
    return f"defect folder(s) {names} not in {where}{hint}; known classes: {', '.join(known)}"
