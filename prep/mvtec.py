"""Reading the layout of one MVTec AD category folder (no pixel data is read here).

    <category>/train/good/NNN.png            defect-free training images (optional)
    <category>/test/<defect>/NNN.png         test images; <defect> is `good` or a defect type
    <category>/ground_truth/<defect>/NNN_mask.png   one 0/255 mask per defect test image
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.errors import DataError, MisMatchError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GOOD = "good"


@dataclass(frozen=True)
class Sample:
    """One image of the category, with paths relative to the category root (POSIX style)."""

    source: str
    mask: str | None
    defect: str
    """Defect type, or ``good``."""
    origin: str
    """``test`` for test/<defect>/ images, ``train-good`` for train/good/ ones."""

    @property
    def name(self) -> str:
        """The output file name, unique within the category: ``<defect>_<stem><ext>``."""
        prefix = "train-good" if self.origin == "train-good" else self.defect
        return f"{prefix}_{Path(self.source).name}"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def scan_category(root: Path, include_train_good: bool = False) -> list[Sample]:
    """List every image of an MVTec AD category with its mask, checking the pairing.

    Raises DataError for a missing root or test folder, an empty category, a defect image
    without a mask, or a mask without an image.
    """
    if not root.exists():
        raise DataError("dataset folder does not exist (see datasets/README.md for how to get MVTec AD)", root)
    if not root.is_dir():
        raise DataError("expected an MVTec AD category folder, found a file", root)
    test_dir = root / "test"
    if not test_dir.is_dir():
        raise DataError("not an MVTec AD category: it has no test/ folder", root)
    gt_dir = root / "ground_truth"
    samples: list[Sample] = []
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        defect = defect_dir.name
        images = _images_in(defect_dir)
        masks_dir = gt_dir / defect
        if defect == GOOD:
            samples += [Sample(_rel(p, root), None, GOOD, "test") for p in images]
            continue
        if images and not masks_dir.is_dir():
            raise DataError(f"defect type '{defect}' has no mask folder (expected {_rel(masks_dir, root)}/)", defect_dir)
        for image in images:
            mask = masks_dir / f"{image.stem}_mask.png"
            if not mask.is_file():
                raise MisMatchError(f"defect image has no mask (expected {_rel(mask, root)})", image)
            samples.append(Sample(_rel(image, root), _rel(mask, root), defect, "test"))
        stems = {p.stem for p in images}
        if masks_dir.is_dir():
            for mask in sorted(masks_dir.glob("*_mask.png")):
                if mask.stem[: -len("_mask")] not in stems:
                    raise MisMatchError(f"mask has no image (expected test/{defect}/{mask.stem[:-5]}.png)", mask)
    if include_train_good:
        good_dir = root / "train" / GOOD
        if not good_dir.is_dir():
            raise DataError("--train-good was given but the category has no train/good/ folder", root)
        samples += [Sample(_rel(p, root), None, GOOD, "train-good") for p in _images_in(good_dir)]
    if not samples:
        raise DataError("empty category: no images under test/", root)
    if all(s.defect == GOOD for s in samples):
        raise DataError("category has no defect images under test/<defect>/ (only good ones)", root)
    return samples


def defect_types(samples: list[Sample]) -> list[str]:
    """The sorted defect types (not `good`) present in ``samples``."""
    return sorted({s.defect for s in samples if s.defect != GOOD})


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
