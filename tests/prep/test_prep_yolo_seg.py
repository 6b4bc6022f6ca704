"""YOLO-seg labels read back exactly by the readers that use them: Ultralytics' own rasteriser
(`polygon2mask`, i.e. cv2.fillPoly with int32 truncation) at the label's image size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _mvtec_fixtures import WOOD_DERIVED_512

from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.formats.polygons import centre_ring
from wood.prep.instances import find_instances


def polygon2mask():
    from wood.offline import setup_ultralytics

    setup_ultralytics()  # Ultralytics imported without its DNS lookups
    from ultralytics.data.utils import polygon2mask as fn

    return fn


def read_back(prepared: Path) -> tuple[list[float], list[float]]:
    """IoU of every YOLO-seg label against its COCO mask (holes filled): (no-hole ones, holed ones)."""
    to_mask = polygon2mask()
    plain, holed = [], []
    manifest = json.loads((prepared / "manifest.json").read_text())
    for split in ("train", "val", "test"):
        coco = json.loads((prepared / "coco" / f"{split}.json").read_text())
        anns: dict[int, list[dict]] = {}
        for ann in coco["annotations"]:
            anns.setdefault(ann["image_id"], []).append(ann)
        for record in (r for r in manifest["images"] if r["split"] == split):
            w, h = record["width"], record["height"]
            lines = (prepared / "yolo-seg" / "labels" / split / f"{Path(record['name']).stem}.txt").read_text()
            for line, ann, inst in zip(
                lines.splitlines(), anns.get(record["id"], []), record["instances"], strict=True
            ):
                xy = np.array(line.split()[1:], float).reshape(-1, 2) * [w, h]
                got = to_mask((h, w), [xy.reshape(-1)]).astype(bool)
                want = segmentation_to_mask(ann["segmentation"], h, w)
                if inst["has_hole"]:  # YOLO-seg holds the outer ring only: the hole is filled
                    from scipy import ndimage

                    want = ndimage.binary_fill_holes(want)
                iou = float((got & want).sum() / (got | want).sum())
                (holed if inst["has_hole"] else plain).append(iou)
    return plain, holed


def test_synthetic_labels_read_back_exactly(prepared):
    plain, holed = read_back(prepared)
    assert plain and holed, "the synthetic set has components with and without holes"
    assert min(plain) == 1.0
    assert np.mean(plain + holed) >= 0.99


@pytest.mark.skipif(not WOOD_DERIVED_512.is_dir(), reason="real warped wood masks not beside the checkout")
def test_real_anti_aliased_masks_read_back_exactly(tmp_path):
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    out = tmp_path / "p"
    run_prep(PrepConfig(source=WOOD_DERIVED_512, out=out, workers=1, groups=WOOD_DERIVED_512 / "sources.csv"))
    plain, holed = read_back(out)
    assert len(plain) + len(holed) > 30
    assert min(plain) == 1.0 and np.mean(plain + holed) >= 0.99


@pytest.mark.parametrize("shape", ["pixel", "two pixels", "diagonal scratch", "disk", "ring"])
def test_centre_ring_fills_back_to_the_component(shape):
    import cv2

    comp = np.zeros((24, 24), np.uint8)
    if shape == "pixel":
        comp[5, 7] = 1
    elif shape == "two pixels":
        comp[5, 7:9] = 1
    elif shape == "diagonal scratch":
        np.fill_diagonal(comp[2:20, 3:21], 1)
    elif shape == "disk":
        cv2.circle(comp, (12, 12), 6, 1, -1)
    else:
        cv2.circle(comp, (12, 12), 8, 1, -1)
        cv2.circle(comp, (12, 12), 3, 0, -1)
    ring = centre_ring(comp.astype(bool))
    assert len(ring) >= 3
    filled = np.zeros_like(comp)
    cv2.fillPoly(filled, [ring.astype(np.int32)], 1)
    from scipy import ndimage

    assert np.array_equal(filled.astype(bool), ndimage.binary_fill_holes(comp.astype(bool)))
    (inst,), _ = find_instances(comp.astype(bool))
    assert inst.centre == [float(v) for v in ring.reshape(-1)]
