"""One new image of `wood paste`: pick a background and instances, compose, and label what was placed.

Each new image has its own generator seeded from (seed, index), so it does not depend on the others, on
the number of worker processes, or on the order they finish in.

Labels come from an owner map: every pixel holds the id of the instance it belongs to (the background's
own instances first, then each paste in order). A paste takes the pixels of its mask, so the pixels it
covers leave the instance they belonged to. Each instance's final pixels are then split into
8-connected components by prep's find_instances, exactly as `wood prep` does with a mask file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from wood.errors import DataError
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.instances import find_instances
from wood.prep.paste.bank import CONTEXT_PX, MIN_CONTEXT_PIXELS, Background, Cutout, SourcePrep, lab_stats, read_checked
from wood.prep.paste.compose import (
    find_place,
    keep_components,
    match_colour,
    paste,
    sample_transform,
    transform_whole,
)
from wood.prep.paste.config import PasteConfig

PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]
"""Fixed PNG settings, so the same pixels always give the same bytes."""
PLACE_TRIES = 30
"""Random positions tried per instance before it is skipped (counted as no_room)."""
ROUNDS = 10
"""Backgrounds tried for one new image before giving up (each round draws a new background and instances)."""


@dataclass
class PasteJob:
    """Everything the new images are made from (inherited by forked workers, never pickled)."""

    source: SourcePrep
    bank: list[Cutout]
    backgrounds: list[Background]
    cfg: PasteConfig
    min_area: int
    prefix: str
    first_id: int

    def __post_init__(self) -> None:
        by_class: dict[int, list[int]] = {}
        for i, cut in enumerate(self.bank):
            by_class.setdefault(cut.class_id, []).append(i)
        self.by_class = [by_class[c] for c in sorted(by_class)]

    def name(self, index: int) -> str:
        return f"{self.prefix}{index:05d}.png"


def pick_instance(rng: np.random.Generator, job: PasteJob) -> Cutout:
    """With balance, a class uniformly and then one of its instances uniformly; else an instance uniformly."""
    if job.cfg.balance:
        members = job.by_class[int(rng.integers(len(job.by_class)))]
        return job.bank[members[int(rng.integers(len(members)))]]
    return job.bank[int(rng.integers(len(job.bank)))]


def make_image(job: PasteJob, index: int) -> tuple[bytes, dict, Counter]:
    """New image ``index``: (PNG bytes, its record with annotated instances and provenance, counts)."""
    rng = np.random.default_rng([job.cfg.seed, index])
    counts: Counter = Counter()
    for _ in range(ROUNDS):
        background = job.backgrounds[int(rng.integers(len(job.backgrounds)))]
        canvas, owner, owners = _start(job.source, background)
        pastes = [_paste_one(rng, job, canvas, owner, owners, counts) for _ in range(job.cfg.per_image)]
        pastes = [p for p in pastes if p is not None]
        if pastes:
            return _finish(job, index, background, canvas, owner, owners, pastes, counts)
        counts["rounds_without_room"] += 1
    raise DataError(
        f"could not place any instance on new image {index} in {ROUNDS} tries of "
        f"{job.cfg.per_image} instance(s); lower --scale or --per-image, or raise --max-overlap",
        job.source.folder,
    )


def _start(source: SourcePrep, background: Background) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """The background's pixels, its owner map and its own instances (kept with their labels)."""
    canvas = read_checked(source, background.record)
    owner = np.zeros(canvas.shape[:2], np.int32)
    owners = []
    for class_id, name, seg in background.instances:
        owners.append({"class_id": class_id, "class": name, "paste": None, "defect": background.record["defect"]})
        owner[segmentation_to_mask(seg, *owner.shape)] = len(owners)
    return canvas, owner, owners


def _paste_one(
    rng: np.random.Generator, job: PasteJob, canvas: np.ndarray, owner: np.ndarray, owners: list[dict], counts: Counter
) -> dict | None:
    """Pick, transform, place and blend one instance (in place); its provenance, or None if skipped."""
    cfg = job.cfg
    cut = pick_instance(rng, job)
    t = sample_transform(rng, cfg.scale, cfg.flip, cfg.rot90)
    image, mask, used = transform_whole(cut.image, cut.mask, t)
    counts["scale_kept_at_1_to_stay_connected"] += used != t
    t = used
    mask = keep_components(mask, job.min_area)
    if not mask.any():
        counts["too_small_after_transform"] += 1
        return None
    areas = np.bincount(owner.reshape(-1), minlength=len(owners) + 1)
    xy = find_place(rng, owner, areas, mask, cfg.max_overlap, PLACE_TRIES)
    if xy is None:
        counts["no_room"] += 1
        return None
    matched = False
    if cfg.match_colour and cut.context_lab is not None:
        target = _surroundings(canvas, owner, mask, xy)
        if target is not None:
            image, matched = match_colour(image, mask, cut.context_lab, target), True
    paste(canvas, image, mask, xy, cfg.blend, cfg.feather)
    x, y = xy
    h, w = mask.shape
    owner[y : y + h, x : x + w][mask] = len(owners) + 1
    provenance = {
        "source": cut.source,
        "sha256": cut.sha256,
        "instance": cut.index,
        "class": cut.class_name,
        "flip": t.flip,
        "rot90": t.rot90,
        "scale": t.scale,
        "size_wh": [w, h],
        "xy": [x, y],
        "match_colour": matched,
        "pixels": int(mask.sum()),
    }
    position = sum(o["paste"] is not None for o in owners)  # its index in the record's paste list
    owners.append({"class_id": cut.class_id, "class": cut.class_name, "paste": position, "defect": cut.defect})
    counts["pasted"] += 1
    return provenance


def _surroundings(canvas: np.ndarray, owner: np.ndarray, mask: np.ndarray, xy: tuple[int, int]) -> np.ndarray | None:
    """Lab stats of the instance-free pixels within CONTEXT_PX of where ``mask`` goes; None if too few."""
    x, y = xy
    h, w = mask.shape
    height, width = owner.shape
    x0, y0 = max(0, x - CONTEXT_PX), max(0, y - CONTEXT_PX)
    x1, y1 = min(width, x + w + CONTEXT_PX), min(height, y + h + CONTEXT_PX)
    free = owner[y0:y1, x0:x1] == 0
    free[y - y0 : y - y0 + h, x - x0 : x - x0 + w] &= ~mask
    pixels = canvas[y0:y1, x0:x1][free]
    return lab_stats(pixels) if len(pixels) >= MIN_CONTEXT_PIXELS else None


def label_instances(owner: np.ndarray, owners: list[dict], min_area: int) -> tuple[list[dict], set[int], Counter]:
    """Each owner's final pixels -> instances (prep's 8-connected components, >= ``min_area`` px), sorted
    by (y0, x0) as prep sorts them; the indices of the owners that kept an instance; counts of owners
    covered away and of small components dropped.

    ``owner`` (H, W) int32 holds 1 + an index into ``owners`` per pixel (0: none); each of ``owners`` has
    ``class``, ``class_id`` and ``paste`` (its position among the pastes, None for the background's own).
    """
    counts: Counter = Counter()
    instances = []
    kept: set[int] = set()
    for k, meta in enumerate(owners, start=1):
        found, dropped = find_instances(owner == k, min_area)
        counts["small_components_dropped"] += dropped
        if not found:
            counts["covered_away"] += 1
        else:
            kept.add(k - 1)
        for inst in found:
            instances.append(
                {"class": meta["class"], "class_id": meta["class_id"], **inst.annotation(), "paste": meta["paste"]}
            )
    instances.sort(key=lambda i: (i["bbox_xyxy"][1], i["bbox_xyxy"][0]))
    return instances, kept, counts


def _finish(
    job: PasteJob,
    index: int,
    background: Background,
    canvas: np.ndarray,
    owner: np.ndarray,
    owners: list[dict],
    pastes: list[dict],
    counts: Counter,
) -> tuple[bytes, dict, Counter]:
    instances, kept, label_counts = label_instances(owner, owners, job.min_area)
    counts.update(label_counts)
    bg = background.record
    gray = bg.get("channels") == 1
    ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY if gray else cv2.COLOR_RGB2BGR), PNG_PARAMS)
    if not ok:
        raise OSError(f"could not encode new image {index} as PNG")
    data = png.tobytes()
    types = sorted({owners[k]["defect"] for k in kept} - {"good"})
    flags = ["small_components_dropped"] if label_counts["small_components_dropped"] else []
    record = {
        "id": job.first_id + index,
        "name": job.name(index),
        "source": None,
        "mask": None,
        "origin": "paste",
        "split": "train",
        "defect": types[0] if len(types) == 1 else ("mixed" if types else "good"),
        "sha256": hashlib.sha256(data).hexdigest(),
        "height": int(canvas.shape[0]),
        "width": int(canvas.shape[1]),
        "channels": 1 if gray else 3,
        "dtype": "uint8",
        "flags": flags,
        "instances": instances,
        "paste": {
            "background": {"name": bg["name"], "sha256": bg["sha256"]},
            "blend": job.cfg.blend,
            "instances": pastes,
        },
    }
    return data, record, counts
