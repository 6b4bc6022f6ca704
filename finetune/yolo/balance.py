"""Rare-class oversampling for YOLO training (`--balance`).

Ultralytics has no class weights (ultralytics #21082), so the long tail is seen more often by
repeating train images in the train list. The repeat factor of an image is set by its rarest class:

    freq(c)   = number of train images holding class c
    repeat(c) = max_c' freq(c') / freq(c) rounded half up, at most ``max_repeat``
    repeat(i) = max over classes c in image i of repeat(c); 1 for background-only images

so every class ends up in roughly as many (repeated) images as the most common one, capped at
``max_repeat`` to limit overfitting on a handful of images. Pure functions on label lists; the
file I/O is in `write_balanced_list`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from wood.errors import DataError
from wood.prep.mvtec import IMAGE_EXTENSIONS


def class_repeat(image_classes: Sequence[set[int]], max_repeat: int) -> dict[int, int]:
    """Repeat factor per class id, from the set of class ids in each image."""
    if max_repeat < 1:
        raise ValueError(f"max_repeat must be >= 1, but got {max_repeat}")
    freq = Counter(c for classes in image_classes for c in classes)
    if not freq:
        return {}
    top = max(freq.values())
    return {c: max(1, min(max_repeat, int(top / n + 0.5))) for c, n in sorted(freq.items())}


def image_repeats(image_classes: Sequence[set[int]], max_repeat: int) -> list[int]:
    """Repeat factor per image: that of its rarest class (1 for images with no instance)."""
    per_class = class_repeat(image_classes, max_repeat)
    return [max((per_class[c] for c in classes), default=1) for classes in image_classes]


def read_label_classes(label_file: Path) -> set[int]:
    """Class ids in one YOLO label file (first column); a missing file means background."""
    if not label_file.is_file():
        return set()
    classes = set()
    for number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            classes.add(int(parts[0]))
        except ValueError as exc:
            raise DataError(f"line {number}: class id must be an integer, but got {parts[0]!r}", label_file) from exc
    return classes


def write_balanced_list(images_dir: Path, labels_dir: Path, out_file: Path, max_repeat: int) -> dict[str, object]:
    """Write ``out_file``: train image paths, each repeated by `image_repeats`.

    An image under the list's folder is written ``./<relative path>``, which Ultralytics resolves
    against the list's folder (it replaces the leading ``./`` only), so the list moves with its folder;
    any other image by its absolute path.

    Returns a summary: images before/after and the repeat factor per class id.
    """
    images = sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise DataError("no train images to balance", images_dir)
    classes = [read_label_classes(labels_dir / f"{p.stem}.txt") for p in images]
    repeats = image_repeats(classes, max_repeat)
    lines = [list_line(p, out_file.parent) for p, r in zip(images, repeats, strict=True) for _ in range(r)]
    out_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "images": len(images),
        "images_balanced": len(lines),
        "class_repeat": class_repeat(classes, max_repeat),
    }


def list_line(image: Path, list_folder: Path) -> str:
    """One line of an Ultralytics image list: ``./<path>`` relative to the list's folder, else absolute."""
    try:
        return "./" + Path(image).relative_to(list_folder).as_posix()
    except ValueError:
        return str(Path(image).resolve())
