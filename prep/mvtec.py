"""Reading the layout of one MVTec AD category folder (no pixel data is read here).

<category>/train/good/NNN.png            defect-free training images (optional)
<category>/test/<defect>/NNN.png         test images; <defect> is `good` or a defect type
<category>/ground_truth/<defect>/NNN_mask.png   one 0/255 mask per defect test image
"""

from __future__ import annotations

import errno
import os
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
    """The image files of ``folder``, sorted. Raises DataError for a broken symbolic link among
    them and for two images sharing a stem (000.png and 000.jpg share 000_mask.png and 000.txt)."""
    candidates = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    for p in candidates:
        _check_not_broken_link(p)
    images = [p for p in candidates if p.is_file()]
    by_stem: dict[str, Path] = {}
    for p in images:
        if p.stem in by_stem:
            raise DataError(
                f"two images share the stem '{p.stem}' ({by_stem[p.stem].name}, {p.name}): their masks and labels "
                "would collide; keep one",
                folder,
            )
        by_stem[p.stem] = p
    return images


def _check_not_broken_link(path: Path) -> None:
    if path.is_symlink() and not path.exists():
        raise DataError(f"broken symbolic link (to {os.readlink(path)}: missing, or a link loop)", path)


def resolve_root(path: Path) -> Path:
    """``path`` made absolute, with ``~`` and symbolic links resolved. Raises DataError on a link loop."""
    try:
        return Path(path).expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # Python < 3.13 raises RuntimeError on a loop, later ones OSError
        loop = getattr(exc, "errno", None) == errno.ELOOP or "loop" in str(exc).lower()
        message = "symbolic link loop: the path cannot be resolved" if loop else f"cannot resolve the path: {exc}"
        raise DataError(message, path) from exc


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
    _check_mask_folders_have_images(gt_dir, test_dir, root)
    samples: list[Sample] = []
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        defect = defect_dir.name
        images = _images_in(defect_dir)
        masks_dir = gt_dir / defect
        if defect == GOOD:
            samples += [Sample(_rel(p, root), None, GOOD, "test") for p in images]
            continue
        if images and not masks_dir.is_dir():
            raise DataError(
                f"defect type '{defect}' has no mask folder (expected {_rel(masks_dir, root)}/)", defect_dir
            )
        for image in images:
            mask = masks_dir / f"{image.stem}_mask.png"
            _check_not_broken_link(mask)
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
    _check_unique_names(samples, root)
    return samples


def _check_mask_folders_have_images(gt_dir: Path, test_dir: Path, root: Path) -> None:
    """A ground_truth/<defect>/ folder holding masks needs test/<defect>/ (else its masks would be ignored)."""
    if not gt_dir.is_dir():
        return
    for masks_dir in sorted(p for p in gt_dir.iterdir() if p.is_dir()):
        has_masks = any(p.suffix.lower() in IMAGE_EXTENSIONS for p in masks_dir.iterdir())
        if has_masks and not (test_dir / masks_dir.name).is_dir():
            raise MisMatchError(
                f"mask folder has no image folder (expected {_rel(test_dir / masks_dir.name, root)}/)", masks_dir
            )


def _check_unique_names(samples: list[Sample], root: Path) -> None:
    """Output files are named after Sample.name (labels after its stem): two samples must not share one,
    as a defect folder named `train-good` would with --train-good."""
    seen: dict[str, Sample] = {}
    for sample in samples:
        key = Path(sample.name).stem
        if key in seen:
            hint = " (--train-good names train/good images 'train-good_*')" if sample.defect == "train-good" else ""
            raise DataError(
                f"its output name '{key}' is also that of {seen[key].source}; rename one of them{hint}",
                root / sample.source,
            )
        seen[key] = sample


def defect_types(samples: list[Sample]) -> list[str]:
    """The sorted defect types (not `good`) present in ``samples``."""
    return sorted({s.defect for s in samples if s.defect != GOOD})


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
