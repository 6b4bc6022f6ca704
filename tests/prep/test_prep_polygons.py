"""Polygons on pixel edges rasterise back to the exact mask (pycocotools' rasteriser)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.formats.polygons import edge_rings, ring_to_flat
from wood.prep.instances import find_instances


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / max((a | b).sum(), 1)


def test_single_pixel_is_its_four_corners():
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    outer, holes = edge_rings(mask)
    assert sorted(map(tuple, outer.tolist())) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert holes == []


@pytest.mark.parametrize("shape", ["box_51x31", "disk_r5"])
def test_edge_polygon_is_exact_where_centre_polygon_loses_half_a_pixel(shape):
    mask = np.zeros((64, 80), np.uint8)
    if shape == "box_51x31":
        mask[10:41, 12:63] = 1
    else:
        cv2.circle(mask, (30, 30), 5, 1, -1)
    comp = mask.astype(bool)
    outer, _ = edge_rings(comp)
    exact = segmentation_to_mask([ring_to_flat(outer)], *comp.shape)
    assert _iou(exact, comp) == 1.0
    # the trap: a polygon through pixel centres (plain findContours) is visibly worse
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    centre = segmentation_to_mask([contours[0].reshape(-1).astype(float).tolist()], *comp.shape)
    assert _iou(centre, comp) < 0.96


def test_random_components_round_trip_exactly():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(4, 40, 2))
        mask = rng.random((h, w)) < rng.uniform(0.2, 0.8)
        instances, dropped = find_instances(mask, min_area=1)
        assert dropped == 0
        union = np.zeros_like(mask)
        for inst in instances:
            seg = inst.coco_segmentation()
            if isinstance(seg, list):
                assert len(seg[0]) >= 6  # >= 3 points
            raster = segmentation_to_mask(seg, h, w)
            assert raster.sum() == inst.area
            union |= raster
            checked += 1
        assert np.array_equal(union, mask)
    assert checked > 1000


def test_component_with_hole_gets_rle_and_keeps_the_hole():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 2:12] = True
    mask[5:8, 5:8] = False
    (inst,), _ = find_instances(mask)
    assert inst.has_hole and isinstance(inst.coco_segmentation(), dict)
    assert inst.area == 100 - 9
    assert np.array_equal(segmentation_to_mask(inst.coco_segmentation(), 20, 20), mask)
    # the outer ring alone (what YOLO-seg gets) fills the hole
    assert segmentation_to_mask([inst.outer], 20, 20).sum() == 100


def test_diagonal_pixels_are_one_instance_and_min_area_drops_small_ones():
    mask = np.zeros((10, 10), bool)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = True  # an 8-connected diagonal scratch
    mask[7:9, 7:9] = True  # 4 px
    mask[0, 9] = True  # 1 px speck
    instances, dropped = find_instances(mask, min_area=2)
    assert dropped == 1
    assert [(i.bbox_xyxy, i.area) for i in instances] == [((1, 1, 4, 4), 3), ((7, 7, 9, 9), 4)]
    assert instances[0].bbox_xywh() == [1, 1, 3, 3]


def test_bad_shapes_are_rejected_with_expected_vs_actual():
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        edge_rings(np.zeros((2, 2, 3), bool))
    with pytest.raises(ValueError, match="2D bool"):
        find_instances(np.zeros((4, 4), np.uint8))
