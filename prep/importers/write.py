"""`wood import`: labels -> one MVTec AD category folder, written aside and swapped in when complete.

Layout (what `wood prep` reads): ``test/<defect>/NNN<ext>`` (the image bytes as they were: same sha256),
``ground_truth/<defect>/NNN_mask.png`` (0/255, one channel: the union of the image's annotations), and
images without annotations in ``test/good/`` (not train/good: `wood prep` reads test/ by default and
splits it; move them to train/good if they are for anomaly training only). NNN counts from 000 per defect
type in file name order. ``import.json`` maps every written file back to the label file's image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from wood.dataset_config import describe_unknown_types, load_dataset_config, unknown_defect_types
from wood.errors import ConfigError, DataError, MisMatchError
from wood.fsutil import write_json
from wood.imageio import decode
from wood.prep.importers.config import ImportConfig
from wood.prep.importers.masks import annotation_mask, image_defect
from wood.prep.importers.sources import LabelSet, open_labels
from wood.prep.mvtec import GOOD, IMAGE_EXTENSIONS

KIND = "import"


@dataclass
class Planned:
    file_name: str
    defect: str
    image: bytes
    suffix: str
    mask_png: bytes | None
    annotations: int
    source: str


def encode_mask_png(mask: np.ndarray, where: str) -> bytes:
    ok, png = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise DataError("could not encode the mask PNG", where)
    return png.tobytes()


def plan_image(labels: LabelSet, index: int, cfg: ImportConfig) -> Planned:
    """Read and check one image of ``labels`` and build its mask."""
    image = labels.images[index]
    suffix = Path(image.file_name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise DataError(
            f"image type {suffix or '(none)'} is not one wood prep reads ({', '.join(IMAGE_EXTENSIONS)})", image.where
        )
    try:
        data = image.read()
    except OSError as exc:
        raise DataError(f"cannot read the image ({exc.__class__.__name__})", image.where) from exc
    array = decode(data, image.where)
    height, width = array.shape[:2]
    if (image.width, image.height) not in ((None, None), (width, height)):
        raise MisMatchError(
            f"the labels say {image.width}x{image.height} but the image is {width}x{height}", image.where
        )
    names = [labels.categories[a["category_id"]] for a in image.annotations]
    if not names:
        return Planned(image.file_name, GOOD, data, suffix, None, 0, image.where)
    defect = image_defect(names, image.where, cfg.mixed)
    mask = np.zeros((height, width), bool)
    for ann in image.annotations:
        mask |= annotation_mask(ann, height, width, str(labels.source), cfg.box_masks)
    if not mask.any():
        raise DataError(f"its {len(names)} annotation(s) cover no pixel (an empty mask on a defect image)", image.where)
    return Planned(image.file_name, defect, data, suffix, encode_mask_png(mask, image.where), len(names), image.where)


def check_classes(sets: list[LabelSet], cfg: ImportConfig) -> None:
    """Category names must be ones the category's dataset config lists (when it lists any), and not 'good'."""
    used = sorted({s.categories[a["category_id"]] for s in sets for im in s.images for a in im.annotations})
    if GOOD in used:
        raise ConfigError("a category is named 'good': MVTec keeps that name for defect-free images", sets[0].source)
    dataset = load_dataset_config(cfg.category)
    unknown = unknown_defect_types([*used, *([cfg.mixed] if cfg.mixed else [])], dataset)
    if unknown:
        raise ConfigError("unknown categories: " + describe_unknown_types(unknown, dataset), sets[0].source)


def plan(labels: list[Path], cfg: ImportConfig) -> list[Planned]:
    """Every image of every labels source, checked, with its defect type and mask (nothing written)."""
    sets = [open_labels(Path(p), cfg.images) for p in labels]
    check_classes(sets, cfg)
    planned, seen = [], {}
    for labels_set in sets:
        for k, image in enumerate(labels_set.images):
            key = Path(image.file_name).name
            if key in seen:
                raise DataError(f"image {key} is named twice (also in {seen[key]}); keep one", labels_set.source)
            seen[key] = str(labels_set.source)
            planned.append(plan_image(labels_set, k, cfg))
    if not planned:
        raise DataError("the labels list no images", labels[0])
    return sorted(planned, key=lambda p: (p.defect, Path(p.file_name).name))


def import_labels(cfg: ImportConfig, labels: list[Path]) -> Path:
    """Write ``cfg.out/<category>/`` from ``labels`` (see the module doc); returns that folder."""
    from wood.outdir import atomic_output

    planned = plan(labels, cfg)
    final = cfg.out / cfg.category
    inputs = [*labels, *([cfg.images] if cfg.images is not None else [])]
    counters: dict[str, int] = {}
    rows = []
    with atomic_output(final, KIND, inputs=inputs) as tmp:
        for p in planned:
            n = counters[p.defect] = counters.get(p.defect, -1) + 1
            image_rel = f"test/{p.defect}/{n:03d}{p.suffix}"
            (tmp / image_rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / image_rel).write_bytes(p.image)
            mask_rel = None
            if p.mask_png is not None:
                mask_rel = f"ground_truth/{p.defect}/{n:03d}_mask.png"
                (tmp / mask_rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / mask_rel).write_bytes(p.mask_png)
            rows.append(
                {
                    "file_name": p.file_name,
                    "source": p.source,
                    "defect": p.defect,
                    "image": image_rel,
                    "mask": mask_rel,
                    "annotations": p.annotations,
                }
            )
        counts = {d: c + 1 for d, c in sorted(counters.items())}
        write_json(
            tmp / "import.json",
            {"category": cfg.category, "labels": [str(p) for p in labels], "counts": counts, "images": rows},
        )
    return final
