"""What `wood paste` reads from a prepared folder: its manifest, the instance bank and the backgrounds.

Only the TRAIN split is read for pixels: instances are cut from train images (their exact masks
decoded from coco/train.json with pycocotools), and backgrounds are train images. Every image
file read is checked against the sha256 the manifest holds, so a label can be traced to bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from wood.console import track
from wood.errors import DataError
from wood.imageio import decode, read_bytes, to_rgb8
from wood.prep.dataset import PreparedDataset
from wood.prep.formats.coco_masks import segmentation_to_mask

CONTEXT_PX = 8
"""Width of the ring around an instance whose colour statistics stand for its surroundings."""
MIN_CONTEXT_PIXELS = 16


@dataclass
class SourcePrep:
    """A `wood prep` output folder, read: its dataset (manifest) and the COCO train annotations per image id."""

    dataset: PreparedDataset
    train_annotations: dict[int, list[dict]]

    @property
    def folder(self) -> Path:
        return self.dataset.folder

    @property
    def manifest(self) -> dict:
        return self.dataset.manifest

    @property
    def manifest_sha256(self) -> str:
        return self.dataset.sha256

    @property
    def classes(self) -> list[str]:
        return self.dataset.classes

    def images(self, split: str | None = None) -> list[dict]:
        return self.dataset.images(split)

    def image_path(self, record: dict) -> Path:
        return self.dataset.image_path(record)


@dataclass
class Cutout:
    """One train instance, cut with its exact mask: ``image`` (h, w, 3) uint8 RGB and ``mask`` (h, w) bool
    of its tight box. ``context_lab`` is (2, 3) float32: mean and std per Lab channel of its surroundings."""

    source: str
    sha256: str
    index: int
    class_id: int
    class_name: str
    defect: str
    image: np.ndarray
    mask: np.ndarray
    context_lab: np.ndarray | None = None


@dataclass
class Background:
    """A train image new images are made from; ``instances`` are its own (class_id, class, segmentation)."""

    record: dict
    instances: list[tuple[int, str, list | dict]] = field(default_factory=list)


def read_source(folder: Path) -> SourcePrep:
    """Read and check a `wood prep` output folder; a DataError naming the file when it is not one."""
    dataset = PreparedDataset.open(folder)
    dataset.check_full()  # names are data: checked before any is joined to a folder
    if (tiling := dataset.tiling) is not None:  # a pasted tile defect would show its cut edge
        raise DataError(
            f"wood paste needs full images (it pastes whole defects onto whole backgrounds), but this is a tiled "
            f"prep (--tile {tiling.get('size')}); paste onto a prep without --tile",
            dataset.path,
        )
    coco_path = dataset.coco_path("train")
    try:
        coco = json.loads(read_bytes(coco_path).decode("utf-8"))
        annotations: dict[int, list[dict]] = {}
        for ann in coco["annotations"]:
            annotations.setdefault(int(ann["image_id"]), []).append(ann)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not a readable COCO file ({exc.__class__.__name__}); re-run `wood prep`", coco_path) from exc
    return SourcePrep(dataset, annotations)


def read_checked(source: SourcePrep, record: dict) -> np.ndarray:
    """The image of ``record`` as uint8 RGB (H, W, 3), after checking its bytes have the manifest's sha256."""
    path = source.image_path(record)
    data = read_bytes(path)
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise DataError(
            "image differs from the sha256 in manifest.json (changed after `wood prep`?); re-run `wood prep`", path
        )
    image = to_rgb8(decode(data, path))
    if image.shape[:2] != (record["height"], record["width"]):
        raise DataError(
            f"image is {image.shape[1]}x{image.shape[0]}, the manifest says "
            f"{record['width']}x{record['height']}; re-run `wood prep`",
            path,
        )
    return image


def segmentations(source: SourcePrep, record: dict) -> list[tuple[int, str, list | dict]]:
    """(class_id, class name, COCO segmentation) of each instance of a train ``record``, in COCO order."""
    classes = source.classes
    out = []
    for ann in source.train_annotations.get(int(record["id"]), []):
        class_id = int(ann["category_id"]) - 1
        if not 0 <= class_id < len(classes):
            raise DataError(
                f"annotation {ann.get('id')} has category_id {ann['category_id']} outside 1..{len(classes)}",
                source.folder / "coco" / "train.json",
            )
        out.append((class_id, classes[class_id], ann["segmentation"]))
    return out


def build_bank(source: SourcePrep, min_area: int, with_context: bool) -> list[Cutout]:
    """Cut every instance of every train image with its exact mask (decoded with pycocotools).

    ``index`` is the instance's position among its image's annotations (0-based, the manifest's order).
    Instances with fewer than ``min_area`` pixels are left out.
    """
    bank: list[Cutout] = []
    records = [r for r in source.images("train") if source.train_annotations.get(int(r["id"]))]
    for record in track(records, "cutting instances"):
        image = read_checked(source, record)
        height, width = image.shape[:2]
        masks = [
            (cid, name, segmentation_to_mask(seg, height, width, source.folder / "coco" / "train.json"))
            for cid, name, seg in segmentations(source, record)
        ]
        defect_pixels = np.zeros((height, width), bool)
        for _, _, mask in masks:
            defect_pixels |= mask
        for index, (class_id, name, mask) in enumerate(masks):
            if int(mask.sum()) < min_area:
                continue
            x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
            box = (slice(y, y + h), slice(x, x + w))
            bank.append(
                Cutout(
                    source=record["name"],
                    sha256=record["sha256"],
                    index=index,
                    class_id=class_id,
                    class_name=name,
                    defect=record["defect"],
                    image=image[box].copy(),
                    mask=mask[box].copy(),
                    context_lab=context_stats(image, mask, defect_pixels) if with_context else None,
                )
            )
    return bank


def context_stats(image: np.ndarray, mask: np.ndarray, defect_pixels: np.ndarray) -> np.ndarray:
    """Lab mean and std (2, 3) of the pixels within CONTEXT_PX of ``mask`` that are no defect's; the
    whole image's defect-free pixels where that ring is too small (an instance filling its image)."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    height, width = mask.shape
    x0, y0 = max(0, x - CONTEXT_PX), max(0, y - CONTEXT_PX)
    x1, y1 = min(width, x + w + CONTEXT_PX), min(height, y + h + CONTEXT_PX)
    near = cv2.dilate(mask[y0:y1, x0:x1].view(np.uint8), np.ones((2 * CONTEXT_PX + 1,) * 2, np.uint8)) > 0
    ring = near & ~defect_pixels[y0:y1, x0:x1]
    pixels = image[y0:y1, x0:x1][ring]
    if len(pixels) < MIN_CONTEXT_PIXELS:
        pixels = image[~defect_pixels]
    if len(pixels) < MIN_CONTEXT_PIXELS:
        pixels = image.reshape(-1, 3)
    return lab_stats(pixels)


def lab_stats(pixels_rgb: np.ndarray) -> np.ndarray:
    """Mean and std (2, 3) per channel of (N, 3) uint8 RGB pixels in float Lab (L 0..100)."""
    lab = rgb_to_lab(pixels_rgb.reshape(-1, 1, 3)).reshape(-1, 3)
    return np.stack([lab.mean(axis=0), lab.std(axis=0)]).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) image -> float32 Lab (L in 0..100)."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def pick_backgrounds(source: SourcePrep, mode: str) -> tuple[list[Background], str]:
    """The backgrounds for ``mode`` (auto | good | all) and which kind they are (good | defect | all).

    auto takes the good train images, and the train defect images where there are none (pastes then go
    where no existing instance is). A DataError where there is none to take.
    """
    train = source.images("train")
    good = [r for r in train if r["defect"] == "good"]
    if mode == "good" or (mode == "auto" and good):
        if not good:
            raise DataError(
                "the prep has no good images in its train split to paste onto; `wood prep --train-good` "
                "adds the category's train/good images (or pass --backgrounds all)",
                source.folder,
            )
        return [Background(r) for r in good], "good"
    chosen = train if mode == "all" else [r for r in train if r["defect"] != "good"]
    if not chosen:
        raise DataError(
            "no usable background: the prep's train split has no images (`wood prep --train-good` adds "
            "train/good images)",
            source.folder,
        )
    backgrounds = [Background(r, segmentations(source, r)) for r in chosen]
    return backgrounds, "all" if mode == "all" else "defect"


def fits(cutout: Cutout, height: int, width: int, min_scale: float, rot90: bool) -> bool:
    """Whether ``cutout`` at the smallest scale fits an image of (height, width), rotated if allowed."""
    h, w = (max(1, round(v * min_scale)) for v in cutout.mask.shape)
    return (h <= height and w <= width) or (rot90 and w <= height and h <= width)
