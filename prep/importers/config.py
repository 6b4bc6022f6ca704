"""The options of `wood import` (also the keys of its ``--config`` YAML file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.errors import ConfigError
from wood.prep.config import CATEGORY_NAME


@dataclass
class ImportConfig:
    """Where `wood import` writes the MVTec category and how it reads the labels."""

    out: Path = option("MVTec AD root: the category is written to OUT/<category>/.")
    category: str = option("Category name (the folder; picks datasets/<category>.yaml).")
    images: Path | None = option(
        "Folder of the images the labels name.",
        None,
        default_text="the export's images/ (or a COCO file's info.images_dir)",
    )
    box_masks: bool = option("Write box-only annotations as filled box masks (refused without it).", False)
    mixed: str | None = option(
        "Defect type for images whose annotations have several categories (refused without it).", None
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.images = None if self.images is None else Path(self.images)
        for name, value in (("--category", self.category), ("--mixed", self.mixed)):
            if value is not None and (not isinstance(value, str) or not CATEGORY_NAME.fullmatch(value)):
                raise ConfigError(f"{name} must be a name of letters, digits, '_', '-' or '.', but got {value!r}")
        if self.mixed == "good":
            raise ConfigError("--mixed cannot be 'good': those images have defects")
